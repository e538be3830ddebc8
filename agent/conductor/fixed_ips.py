"""Fixed IP reservations (netadmin's "allocate an address", nova-network's
reserved fixed IPs): a project holds a port, a chosen address or the first
free one, on any network a boot may use (not an external one). A boot of
the project names it to get that address; deleting the instance gives the
port back to the project (ipam.release), and only freeing the reservation
deletes it.

The port row is the reservation (reserved, project_id): the unique
(network, address) constraint settles races with other reservations and
boots, and the fixed_ips quota counts it once, in the same transaction.
"""
import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import ipam
from agent.conductor import networks
from agent.db import net_models as N
from agent.objects import fields as f
from agent.rpc import checks

REF = f.String(max_length=64)


class FixedIPManager(endpoint.Endpoint):
    target = messaging.Target(version='1.7')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(network=f.String(max_length=255),
                 address=f.String(max_length=64, nullable=True))
    def fixed_ip_create(self, ctxt, network, address):
        """Reserve ``address`` (default: the first free one) of
        ``network`` for the caller's project."""
        project_id = ctxt.project_id or 'admin'
        with self._session() as s:      # any network a boot may use
            row = networks.port_network(s, ctxt, network)
        port_uuid = ipam.allocate(self.engine, row.id, None,
                                  address=address, project_id=project_id)
        return self.fixed_ip_show(ctxt, ref=port_uuid)

    @checks.expects(project_id=f.String(max_length=64, nullable=True))
    def fixed_ip_list(self, ctxt, project_id):
        """The reservations of ``project_id``, or of every project."""
        with self._session() as s:
            query = sa.select(N.Port).where(N.Port.reserved.is_(True))
            if project_id:
                query = query.where(N.Port.project_id == project_id)
            return networks.port_objects(s, s.scalars(
                query.order_by(N.Port.id)).all())

    @checks.expects(ref=REF)
    def fixed_ip_show(self, ctxt, ref):
        with self._session() as s:
            return networks.port_objects(s, [reserved(s, ref)])[0]

    @checks.expects(ref=REF)
    def fixed_ip_delete(self, ctxt, ref):
        """Free the address; refused while an instance holds it."""
        with self._session() as s:
            row = reserved(s, ref, for_update=True)
            if row.instance_uuid:
                raise exception.FixedIPInUse(
                    address='%s (by instance %s: delete it first)' % (
                        row.ip_address, row.instance_uuid))
            s.delete(row)


def reserved(s, ref, for_update=False):
    """The reservation whose port uuid is ``ref``."""
    query = sa.select(N.Port.id).where(N.Port.uuid == ref,
                                       N.Port.reserved.is_(True))
    row_id = s.scalar(query.with_for_update() if for_update else query)
    if row_id is None:
        raise exception.FixedIPNotFound(ref=ref)
    return s.get(N.Port, row_id)


def for_boot(s, ctxt, refs):
    """The reserved ports a boot of the caller's project asked for, each
    still free (bind_reserved takes them atomically)."""
    rows = []
    for ref in refs:
        row = reserved(s, ref)
        if row.project_id != (ctxt.project_id or 'admin'):
            raise exception.FixedIPNotFound(ref=ref)
        if row.instance_uuid or row in rows:
            raise exception.FixedIPInUse(address=row.ip_address)
        rows.append(row)
    return rows
