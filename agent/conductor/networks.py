"""The conductor's networking endpoint: networks, ports, security groups
(those in ``secgroups``).

Users create networks (one subnet each) and security groups; the boot flow
allocates a port per requested network (``ipam``); agents bind the ports of
the instances they build and read every port of their host, with security
groups resolved to addresses, to wire bridges, DHCP and nftables.

A network belongs to the project that made it; only an admin shares it
with every project (``network_set``). Boots, fixed IP reservations and
port listings see only the caller's project's networks and the shared
ones: another project's network is "not found". Ports have port security
(anti-spoofing and security groups) unless an admin turns it off
(``port_update``).
"""
import ipaddress
import json
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import secgroups
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import net_models as wire
from agent.objects import states
from agent.rpc import checks

NAME = f.String(max_length=255)
IP = f.String(max_length=64)
MAX_VNI = 16777215
#: what a subnet is made with, besides its range
SUBNET_FIELDS = dict(gateway_ip=f.String(max_length=64, nullable=True),
                     dns_nameservers=f.List(IP, max_items=8),
                     allocation_pools=f.List(f.List(IP, max_items=2),
                                             max_items=16))


def _invalid(reason):
    return exception.InvalidNetwork(reason=reason)


def check_network(network_type, cidr, segmentation_id, physical_network,
                  gateway_ip, allocation_pools):
    """Refuse what cannot be wired; return the normalized CIDR."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
        addresses = [ipaddress.ip_address(a) for a in
                     ([gateway_ip] if gateway_ip else []) +
                     [a for pool in allocation_pools for a in pool]]
    except ValueError as e:
        raise _invalid(str(e)) from None
    outside = [str(a) for a in addresses if a not in net]
    if outside:
        raise _invalid('%s not in %s' % (', '.join(outside), net))
    if any(len(pool) != 2 for pool in allocation_pools):
        raise _invalid('an allocation pool is [first, last]')
    if network_type in ('flat', 'vlan') and not physical_network:
        raise _invalid('%s networks need a physical_network' % network_type)
    if network_type == 'vlan' and not 1 <= (segmentation_id or 0) <= 4094:
        raise _invalid('vlan networks need a VLAN id 1-4094')
    if network_type == 'flat' and segmentation_id:
        raise _invalid('flat networks have no segmentation id')
    return str(net)


class NetworkManager(secgroups.SecurityGroupMethods, endpoint.Endpoint):
    target = messaging.Target(version='1.18')  # see conductor_rpcapi.ConductorAPI

    def groups(self, s, rows):
        return _groups(s, rows)

    # -------------------------------------------------------- networks
    @checks.expects(name=NAME, network_type=f.Enum(wire.NETWORK_TYPES),
                 cidr=f.String(max_length=64, nullable=True),
                 segmentation_id=f.Integer(min=1, max=MAX_VNI,
                                           nullable=True),
                 physical_network=f.String(max_length=64, nullable=True),
                 **SUBNET_FIELDS,
                 mtu=f.Integer(min=68, max=65535, nullable=True),
                 external=f.Boolean(default=False),
                 subnet_name=f.String(max_length=255, nullable=True,
                                      default=None))
    def network_create(self, ctxt, name, network_type, cidr, segmentation_id,
                       physical_network, gateway_ip, dns_nameservers,
                       allocation_pools, mtu, external, subnet_name):
        """``external`` (1.6): a pool of floating IPs, never wired for
        ports; its physical_network names the uplink agents put floating
        addresses on. ``cidr`` None (1.18): a network without its subnet
        yet (``subnet_create``). (Who may choose the type, segment and
        uplink is hvagent-api's policy: this topic is controllers'.)"""
        if cidr is not None:
            cidr = check_network(network_type, cidr, segmentation_id,
                                 physical_network, gateway_ip,
                                 allocation_pools)
        else:
            check_network(network_type, '0.0.0.0/0', segmentation_id,
                          physical_network, None, [])
        with self._session() as s:
            if s.scalar(sa.select(N.Network.id).where(N.Network.name == name)):
                raise _invalid('a network named %r exists' % name)
            if network_type == 'vxlan' and segmentation_id is None:
                used = set(s.scalars(sa.select(
                    N.Network.segmentation_id).where(
                    N.Network.network_type == 'vxlan')))
                segmentation_id = next(v for v in range(1, MAX_VNI)
                                       if v not in used)
            row = N.Network(uuid=str(uuidlib.uuid4()), name=name,
                            project_id=ctxt.project_id,
                            network_type=network_type,
                            segmentation_id=segmentation_id,
                            physical_network=physical_network, mtu=mtu,
                            external=external)
            if cidr is not None:
                row.subnets.append(_subnet(subnet_name, cidr, gateway_ip,
                                           dns_nameservers, allocation_pools))
            s.add(row)
            s.flush()
            return to_objects.network(row)

    @checks.expects(network=NAME, name=f.String(max_length=255,
                                                nullable=True),
                 cidr=IP, **SUBNET_FIELDS)
    def subnet_create(self, ctxt, network, name, cidr, gateway_ip,
                      dns_nameservers, allocation_pools):
        """The subnet of a network made without one (1.18), by its
        project (or an admin); a second subnet is refused (409)."""
        with self._session() as s:
            row = _own_network(s, ctxt, network)
            if row.subnets:
                raise exception.SubnetExists(network=row.name,
                                             subnet=row.subnets[0].uuid)
            cidr = check_network(row.network_type, cidr, row.segmentation_id,
                                 row.physical_network, gateway_ip,
                                 allocation_pools)
            row.subnets.append(_subnet(name, cidr, gateway_ip,
                                       dns_nameservers, allocation_pools))
            s.flush()
            return to_objects.network(row)

    @checks.expects(network=NAME)
    def subnet_delete(self, ctxt, network):
        """Remove a network's subnet (1.18); 409 while it has ports."""
        with self._session() as s:
            row = _emptied(s, ctxt, network)
            s.flush()
            s.expire(row, ['subnets'])
            return to_objects.network(row)

    @checks.expects()
    def network_list(self, ctxt):
        """The networks the caller may use (own and shared; all for an
        admin) and the external ones (every project allocates floating IPs
        of them; no port is made on one)."""
        query = sa.select(N.Network).order_by(N.Network.name)
        if not ctxt.is_admin:
            query = query.where(sa.or_(
                N.Network.shared.is_(True), N.Network.external.is_(True),
                N.Network.project_id == secgroups.caller_project(ctxt)))
        with self._session() as s:
            counts = dict(s.execute(sa.select(
                N.Port.network_id, sa.func.count()).group_by(
                N.Port.network_id)).all())
            return [to_objects.network(r, counts.get(r.id, 0))
                    for r in s.scalars(query)]

    @checks.expects(ref=NAME, shared=f.Boolean())
    def network_set(self, ctxt, ref, shared):
        """Share a network with every project, or stop (admins only)."""
        if not ctxt.is_admin:
            raise exception.AdminRequired(what='share a network')
        with self._session() as s:
            row = network_get(s, ref)
            row.shared = shared
            s.flush()
            return to_objects.network(row)

    @checks.expects(ref=f.UUID(), port_security_enabled=f.Boolean())
    def port_update(self, ctxt, ref, port_security_enabled):
        """Turn a port's anti-spoofing and filtering off or on (admins
        only; off only for a port without security groups)."""
        if not ctxt.is_admin:
            raise exception.AdminRequired(what='change port security')
        with self._session() as s:
            row = s.scalar(sa.select(N.Port).where(N.Port.uuid == ref))
            if row is None:
                raise exception.PortNotFound(port=ref)
            if not port_security_enabled and s.scalar(sa.select(
                    sa.func.count()).where(
                    secgroups.LINK.port_id == row.id)):
                raise exception.PortHasSecurityGroups(port=ref)
            row.port_security_enabled = port_security_enabled
            s.flush()
            host, out = row.host, port_objects(s, [row])[0]
        self.refresh_hosts(ctxt, {host})
        return out

    @checks.expects(ref=NAME)
    def network_delete(self, ctxt, ref):
        with self._session() as s:
            s.delete(_emptied(s, ctxt, ref))

    @checks.expects(network=f.String(max_length=255, nullable=True),
                 instance_uuid=f.UUID(nullable=True))
    def port_list(self, ctxt, network, instance_uuid):
        """The ports of the caller's project (every port for an admin),
        on a network they may use."""
        with self._session() as s:
            query = sa.select(N.Port).order_by(N.Port.id)
            if not ctxt.is_admin:
                query = query.where(N.Port.project_id ==
                                    secgroups.caller_project(ctxt))
            if network:
                query = query.where(N.Port.network_id == network_visible(
                    s, ctxt, network).id)
            if instance_uuid:
                query = query.where(N.Port.instance_uuid == instance_uuid)
            return port_objects(s, s.scalars(query).all())


def _subnet(name, cidr, gateway_ip, dns_nameservers, allocation_pools):
    return N.Subnet(uuid=str(uuidlib.uuid4()), name=name, cidr=cidr,
                    gateway_ip=gateway_ip,
                    dns_nameservers=json.dumps(dns_nameservers),
                    allocation_pools=json.dumps(allocation_pools))


def _own_network(s, ctxt, ref):
    """The network ``ref`` if the caller's project owns it (any for an
    admin); another project's, shared or not, is 404."""
    row = network_get(s, ref)
    if not ctxt.is_admin and (row.project_id !=
                              secgroups.caller_project(ctxt)):
        raise exception.NetworkNotFound(network=ref)
    return row


def _emptied(s, ctxt, ref):
    """The caller's network ``ref`` without its subnet (409 while it has
    ports)."""
    row = _own_network(s, ctxt, ref)
    ports = s.scalar(sa.select(sa.func.count()).where(
        N.Port.network_id == row.id))
    if ports:
        raise exception.NetworkInUse(network=row.name, ports=ports)
    for subnet in row.subnets:
        s.delete(subnet)
    return row


def _by_ref(s, model, ref):
    """The row of ``model`` whose uuid or name is ``ref``, or None."""
    return s.scalar(sa.select(model).where(
        sa.or_(model.uuid == ref, model.name == ref)))


def network_get(s, ref):
    row = _by_ref(s, N.Network, ref)
    if row is None:
        raise exception.NetworkNotFound(network=ref)
    return row


def network_visible(s, ctxt, ref):
    """The network ``ref`` if the caller may use it (their project's or
    shared; any for an admin), else 404."""
    row = network_get(s, ref)
    if not (ctxt.is_admin or row.shared or
            row.project_id == secgroups.caller_project(ctxt)):
        raise exception.NetworkNotFound(network=ref)
    return row


def port_network(s, ctxt, ref):
    """The network ``ref`` for a new port of the caller's project: one
    they may use, not an external one."""
    row = network_visible(s, ctxt, ref)
    if row.external:
        raise _invalid('%s is external: it holds floating IPs, not ports'
                       % row.name)
    return row


_MIGRATING_IN = sa.select(models.Migration.instance_uuid).where(
    models.Migration.dest_compute == sa.bindparam('host'),
    models.Migration.status.in_((states.MIGRATION_PREPARING,
                                 states.MIGRATION_RUNNING)))


def host_port_objects(s, host):
    """Every port bound to ``host``, as its agent wires them, and the ports
    of instances migrating live to it (wired and filtered there before
    the switch-over, still bound to the source: no floating IP yet)."""
    rows = s.scalars(sa.select(N.Port).where(sa.or_(
        N.Port.host == host, N.Port.instance_uuid.in_(_MIGRATING_IN))).order_by(
        N.Port.id), {'host': host}).all()
    return port_objects(s, rows, incoming={
        r.id for r in rows if r.host != host})


def _groups(s, rows):
    """Security groups with remote groups resolved to their ports' IPs."""
    remote_ids = {r.remote_group_id for g in rows for r in g.rules
                  if r.remote_group_id}
    names, members = {}, {}
    if remote_ids:
        names = dict(s.execute(sa.select(
            N.SecurityGroup.id, N.SecurityGroup.name).where(
            N.SecurityGroup.id.in_(remote_ids))).all())
        for gid, ip in s.execute(sa.select(
                N.PortSecurityGroup.security_group_id, N.Port.ip_address).join(
                N.Port, N.Port.id == N.PortSecurityGroup.port_id).where(
                N.PortSecurityGroup.security_group_id.in_(remote_ids))):
            members.setdefault(gid, []).append(ip)
    return [to_objects.security_group(g, names, members) for g in rows]


def port_objects(s, rows, incoming=frozenset()):
    if not rows:
        return []
    links = s.execute(sa.select(N.PortSecurityGroup).where(
        N.PortSecurityGroup.port_id.in_([r.id for r in rows]))).scalars().all()
    group_rows = {g.id: g for g in s.scalars(sa.select(N.SecurityGroup).where(
        N.SecurityGroup.id.in_({link.security_group_id for link in links})))}
    groups = dict(zip(group_rows, _groups(s, list(group_rows.values()))))
    by_port = {}
    for link in links:
        by_port.setdefault(link.port_id, []).append(
            groups[link.security_group_id])
    isolated = set(s.scalars(sa.select(models.Instance.uuid).where(
        models.Instance.uuid.in_({r.instance_uuid for r in rows}),
        models.Instance.isolated.is_(True))))
    floating = {fip.port_id: fip for fip in s.scalars(sa.select(
        N.FloatingIP).where(N.FloatingIP.port_id.in_([r.id for r in rows])))}
    return [to_objects.port(r, by_port.get(r.id, ()),
                            r.instance_uuid in isolated,
                            None if r.id in incoming else floating.get(r.id))
            for r in rows]
