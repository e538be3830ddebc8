"""Floating IPs (netadmin's public addresses; nova-network's floating
pools): a project allocates an address of an external network, associates
it with a port of one of its instances, and the agent of the instance's
host NATs it 1:1 to the port's fixed IP (net/ruleset.py).

Allocation is ipam's: read the addresses taken, insert the first free one;
the unique (network, address) constraint makes a racing conductor's INSERT
fail and retry. The project's floating_ips quota is checked in the same
transaction (quota.check: atomic). A change of association casts
``refresh_networking`` to the hosts whose NAT rules it changes.
"""
import logging
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent import exception
from agent.conductor import endpoint
from agent.conductor import ipam
from agent.conductor import networks
from agent.conductor import quota
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.rpc import checks

LOG = logging.getLogger(__name__)
REF = f.String(max_length=64)


class FloatingIPManager(endpoint.Endpoint):
    target = messaging.Target(version='1.6')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(network=f.String(max_length=255, nullable=True))
    def floating_ip_create(self, ctxt, network):
        """Allocate a floating IP of ``network`` (default: the first
        external network) to the caller's project."""
        project_id = ctxt.project_id or 'admin'
        for _ in range(ipam.MAX_ATTEMPTS):
            try:
                with self._session() as s:
                    pool = _pool(s, network)
                    quota.check(s, ctxt.project_id, {'floating_ips': 1})
                    used = set(s.scalars(sa.select(N.FloatingIP.address)
                                         .where(N.FloatingIP.network_id ==
                                                pool.id)))
                    if not pool.subnets:
                        raise exception.NetworkHasNoSubnet(network=pool.name)
                    address = ipam.first_free(pool.subnets[0], used)
                    if address is None:
                        raise exception.NetworkFull(network=pool.name)
                    row = N.FloatingIP(uuid=str(uuidlib.uuid4()),
                                       network=pool, address=address,
                                       project_id=project_id)
                    s.add(row)
                    s.flush()
                    return to_objects.floating_ip(row)
            except sa_exc.IntegrityError:
                LOG.info('Floating IP race in %s; trying the next one',
                         network)
        raise exception.NetworkFull(network=network)

    @checks.expects(project_id=f.String(max_length=64, nullable=True))
    def floating_ip_list(self, ctxt, project_id):
        """The floating IPs of ``project_id``, or of every project."""
        with self._session() as s:
            query = sa.select(N.FloatingIP).order_by(N.FloatingIP.id)
            if project_id:
                query = query.where(N.FloatingIP.project_id == project_id)
            return [to_objects.floating_ip(r) for r in s.scalars(query)]

    @checks.expects(ref=REF)
    def floating_ip_show(self, ctxt, ref):
        with self._session() as s:
            return to_objects.floating_ip(_get(s, ref))

    @checks.expects(ref=REF, instance_uuid=f.UUID(),
                 port=f.UUID(nullable=True))
    def floating_ip_associate(self, ctxt, ref, instance_uuid, port):
        """NAT the floating IP to ``port`` of the instance (default: its
        first port); both must belong to the floating IP's project."""
        with self._session() as s:
            row = _get(s, ref, for_update=True)
            port_row = _target_port(s, row, instance_uuid, port)
            if row.port_id not in (None, port_row.id):
                raise exception.FloatingIPInUse(
                    address=row.address, instance=row.port.instance_uuid)
            taken = s.scalar(sa.select(N.FloatingIP.address).where(
                N.FloatingIP.port_id == port_row.id))
            if taken not in (None, row.address):
                raise exception.PortHasFloatingIP(port=port_row.uuid,
                                                  address=taken)
            row.port = port_row
            s.flush()
            out = to_objects.floating_ip(row)
        self._refresh(ctxt, out.host)
        return out

    @checks.expects(ref=REF)
    def floating_ip_disassociate(self, ctxt, ref):
        with self._session() as s:
            row = _get(s, ref, for_update=True)
            host = row.port and row.port.host
            row.port = None
            s.flush()
            out = to_objects.floating_ip(row)
        self._refresh(ctxt, host)
        return out

    @checks.expects(ref=REF)
    def floating_ip_delete(self, ctxt, ref):
        """Free the address (disassociating it first)."""
        with self._session() as s:
            row = _get(s, ref, for_update=True)
            host = row.port and row.port.host
            s.delete(row)
        self._refresh(ctxt, host)

    def _refresh(self, ctxt, host):
        if host:
            self.compute.refresh_networking(ctxt, host)


def _pool(s, ref):
    if ref:
        row = networks.network_get(s, ref)
        if not row.external:
            raise exception.InvalidNetwork(
                reason='%s is not external: floating IPs come from external '
                       'networks' % row.name)
        return row
    row = s.scalar(sa.select(N.Network).where(N.Network.external.is_(True))
                   .order_by(N.Network.id).limit(1))
    if row is None:
        raise exception.InvalidNetwork(
            reason='no external network holds floating IPs (hvctl '
                   'network-create --external)')
    return row


def _get(s, ref, for_update=False):
    """The floating IP by uuid or address; ``for_update`` locks its row
    first (alone: PostgreSQL cannot lock the outer joins it loads with)."""
    query = sa.select(N.FloatingIP.id).where(sa.or_(
        N.FloatingIP.uuid == ref, N.FloatingIP.address == ref))
    row_id = s.scalar(query.with_for_update() if for_update else query)
    if row_id is None:
        raise exception.FloatingIPNotFound(ref=ref)
    return s.get(N.FloatingIP, row_id)


def _target_port(s, fip, instance_uuid, port_uuid):
    """The port the floating IP goes to, checked: a live instance of the
    floating IP's project, and a port of that instance."""
    instance = s.scalar(sa.select(models.Instance).where(
        models.Instance.uuid == instance_uuid, models.Instance.deleted == 0))
    if instance is None or instance.project_id != fip.project_id:
        raise exception.InstanceNotFound(instance=instance_uuid)
    query = sa.select(N.Port).where(N.Port.instance_uuid == instance_uuid)
    if port_uuid:
        query = query.where(N.Port.uuid == port_uuid)
    target = s.scalar(query.order_by(N.Port.id).limit(1))
    if target is None:
        raise exception.PortNotFound(
            port=port_uuid or 'of instance %s' % instance_uuid)
    return target
