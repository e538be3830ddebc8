"""Interface attach and detach (nova's os-interface): a new port for a
running instance, and a port taken out of it.

``interface_attach`` (users, topic ``conductor_api``): the network must
be one the caller may use (their project's or shared, not external), the
project's ``fixed_ips`` quota must allow one more address; the port
takes the security groups of the instance's other ports. It is
allocated, then the ``attach_interface`` action and task are recorded
(a refused record frees the port again) and the agent plugs it
(agent.compute.interfaces).

``interface_detach``: the port must be the instance's (another's, or
another project's: 404); a port lent from the project's reservations or
one with a floating IP is refused (409: release it, or disassociate the
floating IP, first). In one transaction the port leaves the instance
(``instance_uuid`` cleared: it stays bound to the host, wired and
filtered there as it was, so nothing of it is open meanwhile) and the
``detach_interface`` action and task are recorded; the agent takes the
NIC out of the guest and then ``interface_detached`` (agents, topic
``conductor``) deletes the port, which frees its address.
"""
import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import agent_calls
from agent.conductor import endpoint
from agent.conductor import ipam
from agent.conductor import lifecycle
from agent.conductor import networks as net_api
from agent.conductor import quota
from agent.conductor import secgroups
from agent.db import api as db
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.rpc import checks

UUID = f.UUID()


def _delete_ports(s, *where):
    """Delete the ports matching ``where`` with their group links; how
    many."""
    ids = list(s.scalars(sa.select(N.Port.id).where(*where)))
    if ids:
        s.execute(sa.delete(N.PortSecurityGroup).where(
            N.PortSecurityGroup.port_id.in_(ids)))
        s.execute(sa.delete(N.Port).where(N.Port.id.in_(ids)))
    return len(ids)


def _groups_of(s, instance_uuid):
    return sorted(set(s.scalars(sa.select(
        N.PortSecurityGroup.security_group_id).join(
            N.Port, N.Port.id == N.PortSecurityGroup.port_id).where(
            N.Port.instance_uuid == instance_uuid))))


class InterfaceManager(endpoint.Endpoint):
    """Topic ``conductor_api``: a user's interface attach and detach."""
    target = messaging.Target(version='1.23')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(ref=lifecycle.REF, network=f.String(max_length=255))
    def interface_attach(self, ctxt, ref, network):
        """The new port (as port_list shows it); its agent plugs it."""
        declared = user_actions.BY_NAME['attach_interface']
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            lifecycle.check_allowed(row, declared)
            lifecycle.check_hosted(row, 'attach an interface')
            net_id = net_api.port_network(s, ctxt, network).id
            quota.check(s, row.project_id, {'fixed_ips': 1})
            groups = _groups_of(s, row.uuid)
            uuid, project = row.uuid, row.project_id
        port_uuid = ipam.allocate(self.engine, net_id, uuid, groups,
                                  project_id=project)
        try:
            with self._session() as s:
                lifecycle.check_allowed(db.instance_get(s, uuid), declared)
                row = db.instance_update(
                    s, uuid, {'task_state': declared.task_state},
                    expected_task_state=[None])
                db.action_start(s, uuid, declared.name, ctxt.request_id,
                                ctxt.user_id, ctxt.project_id)
                host = row.host
                port = net_api.port_objects(s, s.scalars(sa.select(
                    N.Port).where(N.Port.uuid == port_uuid)).all())[0]
        except Exception:
            with self._session() as s:
                _delete_ports(s, N.Port.uuid == port_uuid)
            raise
        self.compute.attach_interface(ctxt, host, uuid)
        return port

    @checks.expects(ref=lifecycle.REF, port_id=UUID)
    def interface_detach(self, ctxt, ref, port_id):
        declared = user_actions.BY_NAME['detach_interface']
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            lifecycle.check_allowed(row, declared)
            lifecycle.check_hosted(row, 'detach an interface')
            port = s.scalar(sa.select(N.Port).where(
                N.Port.uuid == port_id, N.Port.instance_uuid == row.uuid))
            if port is None:
                raise exception.PortNotFound(port=port_id)
            if port.reserved:
                raise exception.PortNotDetachable(
                    port=port_id, reason='it is a reservation of the '
                    'project, which it goes back to with the server')
            if s.scalar(sa.select(N.FloatingIP.id).where(
                    N.FloatingIP.port_id == port.id)) is not None:
                raise exception.PortNotDetachable(
                    port=port_id, reason='it has a floating IP: '
                    'disassociate it first')
            peers = secgroups.peer_hosts(s, row.uuid)
            row = db.instance_update(
                s, row.uuid, {'task_state': declared.task_state},
                expected_task_state=[None])
            port.instance_uuid = None
            db.action_start(s, row.uuid, declared.name, ctxt.request_id,
                            ctxt.user_id, ctxt.project_id)
            host, uuid = row.host, row.uuid
            result = to_objects.instance(s, row)
        self.refresh_hosts(ctxt, peers - {host})
        self.compute.detach_interface(ctxt, host, uuid)
        return result


class InterfaceAgentManager(endpoint.Endpoint):
    """Topic ``conductor``: an agent's end of a detach."""
    target = messaging.Target(version='1.23')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(host=f.String(max_length=255))
    def interfaces_detached(self, ctxt, host):
        """Delete the ports detached from instances of ``host`` (bound to
        it, of no instance, no reservation) once its agent took their
        NICs out of the guests; their addresses are free again."""
        agent_calls.confine(ctxt, host)
        with self._session() as s:
            return _delete_ports(s, N.Port.host == host,
                                 N.Port.instance_uuid.is_(None),
                                 N.Port.reserved.is_(False))
