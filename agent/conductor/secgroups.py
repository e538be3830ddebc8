"""Security groups in the conductor: each belongs to a project and is only
ever resolved inside it.

Every reference (a rule's group and remote group, a boot's groups, a
delete, a server's add or remove) names a group of the caller's project;
another project's group is "not found" (404, never 403: no existence
oracle). An admin's uuid names any group, and an admin's name too when no
group of the admin's project has it and exactly one other has. A rule's
remote group and a port's groups are always of the group's (the port's)
own project, for admins too: membership is what remote-group rules trust.

Rules are checked by ``net.rules``, the validator the agents' renderer
applies, before they are stored. Every change that alters what a host's
ports need (a rule added or deleted, a port joining or leaving a group,
a group deleted with the rules naming it) casts ``refresh_networking`` to
each host with a port in the group or in a group whose rules name it as
remote group; the agents also resync periodically, should a cast be lost.
"""
import ipaddress
import logging
import uuid as uuidlib

import sqlalchemy as sa

from agent import exception
from agent.conductor import quota
from agent.db import api as db
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.rpc import checks
from net import rules as net_rules

LOG = logging.getLogger(__name__)
NAME = f.String(max_length=255)
REF = f.String(max_length=255)
SG, RULE, LINK = N.SecurityGroup, N.SecurityGroupRule, N.PortSecurityGroup


def caller_project(ctxt):
    return ctxt.project_id or 'admin'


def _in(s, project_id, ref):
    """The group of ``project_id`` (None: any) with uuid ``ref``, else
    with name ``ref``; rows, best first."""
    for column in (SG.uuid, SG.name):
        query = sa.select(SG).where(column == ref).order_by(SG.id)
        if project_id is not None:
            query = query.where(SG.project_id == project_id)
        rows = s.scalars(query.limit(2)).all()
        if rows:
            return rows
    return []


def in_project(s, project_id, ref):
    """The group ``ref`` (uuid or name) of ``project_id``, or 404."""
    rows = _in(s, project_id, ref)
    if not rows:
        raise exception.SecurityGroupNotFound(group=ref)
    return rows[0]


def find(s, ctxt, ref):
    """The group the caller means by ``ref`` (see the module docstring)."""
    own = _in(s, caller_project(ctxt), ref)
    if own or not ctxt.is_admin:
        return in_project(s, caller_project(ctxt), ref)
    rows = _in(s, None, ref)
    if len(rows) > 1:
        raise exception.InvalidSecurityGroupRule(
            reason='security group name %r is used in several projects: '
            'name the group by its id' % ref)
    if not rows:
        raise exception.SecurityGroupNotFound(group=ref)
    return rows[0]


def hosts_of(s, group_ids):
    """Hosts whose ports' rules change with these groups: members of
    them, and members of groups whose rules name them as remote group."""
    ids = set(group_ids)
    if not ids:
        return set()
    ids |= set(s.scalars(sa.select(RULE.security_group_id).where(
        RULE.remote_group_id.in_(ids))))
    return set(s.scalars(sa.select(N.Port.host).join(
        LINK, LINK.port_id == N.Port.id).where(
        LINK.security_group_id.in_(ids), N.Port.host.is_not(None)).distinct()))


def peer_hosts(s, instance_uuid):
    """Hosts whose rules change when this instance's ports join or leave
    their groups (members' hosts and those naming the groups as remote
    group)."""
    return hosts_of(s, s.scalars(sa.select(LINK.security_group_id).join(
        N.Port, N.Port.id == LINK.port_id).where(
        N.Port.instance_uuid == instance_uuid)))


def check_rule(direction, protocol, port_min, port_max, remote_ip_prefix,
               remote_group):
    """The normalized rule (net.rules, the renderer's validator), or a
    400 with the validator's reason."""
    if remote_ip_prefix is not None and remote_group:
        raise exception.InvalidSecurityGroupRule(
            reason='Invalid security group input: a rule has '
            'remote_ip_prefix or remote_group, not both')
    try:
        return net_rules.check(direction, protocol, port_min, port_max,
                               remote_ip_prefix)
    except net_rules.InvalidRule as e:
        raise exception.InvalidSecurityGroupRule(reason=str(e)) from None


class SecurityGroupMethods:
    """The security group methods of the conductor's networking endpoint
    (networks.NetworkManager), which provides ``_session`` and
    ``refresh_hosts`` (endpoint.Endpoint) and ``groups`` (groups with
    remote members resolved)."""

    @checks.expects(name=NAME, description=f.String(nullable=True))
    def secgroup_create(self, ctxt, name, description):
        project_id = caller_project(ctxt)
        with self._session() as s:
            quota.check(s, ctxt.project_id, {'security_groups': 1})
            if s.scalar(sa.select(SG.id).where(
                    SG.project_id == project_id, SG.name == name)) is not None:
                raise exception.Conflict(what='Security group %s' % name)
            row = SG(uuid=str(uuidlib.uuid4()), name=name,
                     project_id=project_id, description=description)
            s.add(row)
            s.flush()
            return to_objects.security_group(row)

    @checks.expects(group=REF, direction=f.Enum(['ingress', 'egress']),
                 protocol=f.Enum(['tcp', 'udp', 'icmp'], nullable=True),
                 port_range_min=f.Integer(min=1, max=65535, nullable=True),
                 port_range_max=f.Integer(min=1, max=65535, nullable=True),
                 remote_ip_prefix=f.String(max_length=64, nullable=True),
                 remote_group=f.String(max_length=255, nullable=True))
    def secgroup_rule_add(self, ctxt, group, direction, protocol,
                          port_range_min, port_range_max, remote_ip_prefix,
                          remote_group):
        rule = check_rule(direction, protocol, port_range_min,
                          port_range_max, remote_ip_prefix, remote_group)
        with self._session() as s:
            row = find(s, ctxt, group)
            remote = in_project(s, row.project_id, remote_group) \
                if remote_group else None
            row.rules.append(RULE(
                uuid=str(uuidlib.uuid4()), direction=rule.direction,
                ethertype=rule.ethertype, protocol=rule.protocol,
                port_range_min=rule.port_min, port_range_max=rule.port_max,
                remote_ip_prefix=rule.remote_cidr and str(
                    ipaddress.ip_network(rule.remote_cidr)),
                remote_group_id=remote and remote.id))
            s.flush()
            hosts, out = hosts_of(s, [row.id]), self.groups(s, [row])[0]
        self.refresh_hosts(ctxt, hosts)
        return out

    @checks.expects(all_projects=f.Boolean(default=False))
    def secgroup_list(self, ctxt, all_projects=False):
        """The caller's project's groups; every project's for an admin
        or with ``all_projects`` (1.9; the API allows it to admin and
        itsec)."""
        query = sa.select(SG).order_by(SG.name)
        if not (all_projects or ctxt.is_admin):
            query = query.where(SG.project_id == caller_project(ctxt))
        with self._session() as s:
            return self.groups(s, s.scalars(query).all())

    @checks.expects(rule=f.UUID())
    def secgroup_rule_delete(self, ctxt, rule):
        """Delete a rule of one of the caller's groups; return the
        group."""
        with self._session() as s:
            row = s.scalar(sa.select(RULE).where(RULE.uuid == rule))
            group = row and s.get(SG, row.security_group_id)
            if group is None or not (ctxt.is_admin or group.project_id ==
                                     caller_project(ctxt)):
                raise exception.SecurityGroupRuleNotFound(rule=rule)
            s.delete(row)
            s.flush()
            s.expire(group, ['rules'])
            hosts, out = hosts_of(s, [group.id]), self.groups(s, [group])[0]
        self.refresh_hosts(ctxt, hosts)
        return out

    @checks.expects(group=REF)
    def secgroup_delete(self, ctxt, group):
        """Delete a group no port uses (409 otherwise), with the rules of
        other groups naming it as remote group."""
        with self._session() as s:
            row = find(s, ctxt, group)
            ports = s.scalar(sa.select(sa.func.count()).where(
                LINK.security_group_id == row.id))
            if ports:
                raise exception.SecurityGroupInUse(group=row.name,
                                                   ports=ports)
            hosts = hosts_of(s, [row.id])
            s.execute(sa.delete(RULE).where(sa.or_(
                RULE.remote_group_id == row.id,
                RULE.security_group_id == row.id)))
            s.delete(row)
        self.refresh_hosts(ctxt, hosts)

    def _server_ports(self, s, ctxt, instance_uuid):
        """The instance (the caller's project's, or any for an admin) and
        its ports."""
        inst = db.instance_get(s, instance_uuid)
        if not (ctxt.is_admin or inst.project_id == caller_project(ctxt)):
            raise exception.InstanceNotFound(instance=instance_uuid)
        return inst, s.scalars(sa.select(N.Port).where(
            N.Port.instance_uuid == inst.uuid).order_by(N.Port.id)).all()

    @checks.expects(instance_uuid=f.UUID(), group=REF)
    def server_secgroup_add(self, ctxt, instance_uuid, group):
        """Put every port of a running (or any) server in ``group``, one
        of the server's project's; return the group."""
        with self._session() as s:
            inst, ports = self._server_ports(s, ctxt, instance_uuid)
            row = in_project(s, inst.project_id, group)
            for port in ports:
                if not port.port_security_enabled:
                    raise exception.PortSecurityDisabled(port=port.uuid)
            have = set(s.scalars(sa.select(LINK.port_id).where(
                LINK.security_group_id == row.id,
                LINK.port_id.in_([p.id for p in ports]))))
            for port in ports:
                if port.id not in have:
                    s.add(LINK(port_id=port.id, security_group_id=row.id))
            s.flush()
            hosts = hosts_of(s, [row.id]) | {p.host for p in ports}
            out = self.groups(s, [row])[0]
        self.refresh_hosts(ctxt, hosts)
        return out

    @checks.expects(instance_uuid=f.UUID(), group=REF)
    def server_secgroup_remove(self, ctxt, instance_uuid, group):
        """Take the server's ports out of ``group`` (idempotent: a server
        not in it stays so; the group must be of the server's project)."""
        with self._session() as s:
            inst, ports = self._server_ports(s, ctxt, instance_uuid)
            row = in_project(s, inst.project_id, group)
            hosts = hosts_of(s, [row.id]) | {p.host for p in ports}
            gone = s.execute(sa.delete(LINK).where(
                LINK.security_group_id == row.id,
                LINK.port_id.in_([p.id for p in ports]))).rowcount
        if gone:
            self.refresh_hosts(ctxt, hosts)
