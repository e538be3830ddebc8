"""IP address management: a fixed IP and a MAC per port, allocated by the
conductor (the seed's nova-network takes a free row of its fixed-IP table;
here the free address is computed and claimed by INSERT).

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


def allocate(engine, network_id, instance_uuid, security_group_ids=()):
    """Insert a port with a free IP and a fresh MAC; return its uuid."""
    for _ in range(MAX_ATTEMPTS):
        try:
            with db_session.session_scope(engine) as s:
                network = s.get(N.Network, network_id)
                subnet = network.subnets[0]
                used = set(s.scalars(sa.select(N.Port.ip_address).where(
                    N.Port.network_id == network_id)))
                ip = first_free(subnet, used)
                if ip is None:
                    raise exception.NetworkFull(network=network.name)
                port = N.Port(uuid=str(uuidlib.uuid4()), network_id=network_id,
                              subnet_id=subnet.id, instance_uuid=instance_uuid,
                              mac_address=random_mac(), ip_address=ip,
                              status='DOWN')
                s.add(port)
                s.flush()
                for group_id in security_group_ids:
                    s.add(N.PortSecurityGroup(port_id=port.id,
                                              security_group_id=group_id))
                return port.uuid
        except sa_exc.IntegrityError:
            LOG.info('Address race in network %s; trying the next one',
                     network_id)
    raise exception.NetworkFull(network=network_id)


def release(session, instance_uuid):
    """Free every port of an instance (in the caller's transaction); their
    floating IPs stay with the project, no longer associated."""
    ids = list(session.scalars(sa.select(N.Port.id).where(
        N.Port.instance_uuid == instance_uuid)))
    if ids:
        session.execute(sa.update(N.FloatingIP).where(
            N.FloatingIP.port_id.in_(ids)).values(port_id=None))
        session.execute(sa.delete(N.PortSecurityGroup).where(
            N.PortSecurityGroup.port_id.in_(ids)))
        session.execute(sa.delete(N.Port).where(N.Port.id.in_(ids)))
    return len(ids)
