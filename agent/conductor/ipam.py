"""IP address management: a fixed IP and a MAC per port, allocated by the
conductor (the seed's nova-network takes a free row of its fixed-IP table;
here the free address is computed and claimed by INSERT). A project may
also reserve a port (a chosen or the first free address) and boot on it.

Each attempt is its own short transaction: read the addresses in use, pick
the first free one, insert the port. The unique constraints (IP per network,
MAC) make a concurrent conductor that picked the same address fail its
INSERT; it rolls back and tries the next address. No locks are held across
conductors and nothing is ever handed out twice.
"""
import ipaddress
import json
import logging
import random
import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent import exception
from agent.conductor import quota
from agent.db import net_models as N
from agent.db import session as db_session

LOG = logging.getLogger(__name__)
MAX_ATTEMPTS = 64
#: the locally administered prefix nova and neutron use for guest MACs
MAC_PREFIX = (0xfa, 0x16, 0x3e)


def random_mac():
    return ':'.join('%02x' % b for b in MAC_PREFIX + tuple(
        random.getrandbits(8) for _ in range(3)))


def candidates(subnet):
    """Addresses a port may get, in order: the allocation pools, or every
    host address of the CIDR; never the gateway."""
    net = ipaddress.ip_network(subnet.cidr)
    skip = {subnet.gateway_ip} if subnet.gateway_ip else set()
    pools = json.loads(subnet.allocation_pools or '[]')
    if pools:
        ranges = ((ipaddress.ip_address(a), ipaddress.ip_address(b))
                  for a, b in pools)
        for first, last in ranges:
            for n in range(int(first), int(last) + 1):
                ip = str(ipaddress.ip_address(n))
                if ip not in skip:
                    yield ip
        return
    for ip in net.hosts():
        if str(ip) not in skip:
            yield str(ip)


def first_free(subnet, used):
    """The first candidate address of ``subnet`` not in ``used``, or None."""
    return next((a for a in candidates(subnet) if a not in used), None)


def allocate(engine, network_id, instance_uuid, security_group_ids=(),
             address=None, project_id=None):
    """Insert a port with a free IP (or ``address``, if free) and a fresh
    MAC; return its uuid. Without an instance the port is
    ``project_id``'s reservation (its fixed_ips quota checked)."""
    for _ in range(MAX_ATTEMPTS):
        try:
            with db_session.session_scope(engine) as s:
                if instance_uuid is None:   # a reservation: the quota
                    quota.check(s, project_id, {'fixed_ips': 1})
                network = s.get(N.Network, network_id)
                if not network.subnets:
                    raise exception.NetworkHasNoSubnet(network=network.name)
                subnet = network.subnets[0]
                used = set(s.scalars(sa.select(N.Port.ip_address).where(
                    N.Port.network_id == network_id)))
                ip = chosen(subnet, address, used) if address else \
                    first_free(subnet, used)
                if ip is None:
                    raise exception.NetworkFull(network=network.name)
                port = N.Port(uuid=str(uuidlib.uuid4()), network_id=network_id,
                              subnet_id=subnet.id, instance_uuid=instance_uuid,
                              mac_address=random_mac(), ip_address=ip,
                              status='DOWN', project_id=project_id,
                              reserved=instance_uuid is None)
                s.add(port)
                s.flush()
                _set_groups(s, [port.id], security_group_ids)
                return port.uuid
        except sa_exc.IntegrityError:
            if address:         # that very address was taken meanwhile
                raise exception.FixedIPInUse(address=address) from None
            LOG.info('Address race in network %s; trying the next one',
                     network_id)
    raise exception.NetworkFull(network=network_id)


def chosen(subnet, address, used):
    """``address`` if a port of ``subnet`` may have it and none does."""
    net = ipaddress.ip_network(subnet.cidr)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise exception.InvalidNetwork(
            reason='%r is not an IP address' % address) from None
    if ip not in net or ip in (net.network_address, net.broadcast_address) \
            or str(ip) == subnet.gateway_ip:
        raise exception.InvalidNetwork(
            reason='%s is not a host address of %s (other than the gateway)'
            % (ip, subnet.cidr))
    if str(ip) in used:
        raise exception.FixedIPInUse(address=ip)
    return str(ip)


def bind_reserved(session, ports, instance_uuid, security_group_ids):
    """Lend reserved ports (rows, free: no instance) to a new instance, in
    the caller's transaction; one another boot took meanwhile raises."""
    for port in ports:
        taken = session.execute(sa.update(N.Port).where(
            N.Port.id == port.id, N.Port.reserved.is_(True),
            N.Port.instance_uuid.is_(None)).values(
                instance_uuid=instance_uuid)).rowcount
        if not taken:
            raise exception.FixedIPInUse(address=port.ip_address)
    _set_groups(session, [p.id for p in ports], security_group_ids)


def _set_groups(session, port_ids, security_group_ids):
    for port_id in port_ids:
        for group_id in security_group_ids:
            session.add(N.PortSecurityGroup(port_id=port_id,
                                            security_group_id=group_id))


def release(session, instance_uuid):
    """Free every port of an instance (in the caller's transaction): a
    reserved one goes back to its project, unbound, the others are
    deleted; their floating IPs stay with the project, no longer
    associated."""
    ids = list(session.scalars(sa.select(N.Port.id).where(
        N.Port.instance_uuid == instance_uuid)))
    if ids:
        session.execute(sa.update(N.FloatingIP).where(
            N.FloatingIP.port_id.in_(ids)).values(port_id=None))
        session.execute(sa.delete(N.PortSecurityGroup).where(
            N.PortSecurityGroup.port_id.in_(ids)))
        session.execute(sa.update(N.Port).where(
            N.Port.id.in_(ids), N.Port.reserved.is_(True)).values(
                instance_uuid=None, host=None, status='DOWN'))
        session.execute(sa.delete(N.Port).where(
            N.Port.id.in_(ids), N.Port.reserved.is_(False)))
    return len(ids)
