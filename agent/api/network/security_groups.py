"""Security groups and their rules in neutron's shapes, under
``/network/v2.0``: ``/security-groups`` and ``/security-group-rules``
(list with filters, show, create, delete). The same groups, policy and
quota as the rest of hvagent: a project's netadmin manages its groups;
another project's group is 404 (admin and itsec read every project's).
Rules are IPv4, for tcp, udp, icmp or any protocol."""
import uuid
from typing import Literal

from fastapi import APIRouter
from fastapi import Request
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api.network import views
from agent.api.network.networks import PREFIX
from agent.api.network.networks import Limit
from agent.api.network.networks import Marker
from agent.api.network.networks import listed
from agent.api.network.networks import own_project
from agent.api.schemas import Name
from agent.api.schemas import Strict

router = APIRouter(prefix=PREFIX, tags=['network'])
#: neutron's protocol names and numbers -> hvagent's
PROTOCOLS = {'tcp': 'tcp', '6': 'tcp', 'udp': 'udp', '17': 'udp',
             'icmp': 'icmp', '1': 'icmp', 'any': None}


class GroupFields(Strict):
    name: str = Name
    description: str | None = Field(None, max_length=255)
    stateful: Literal[True] = True
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class GroupCreate(Strict):
    security_group: GroupFields


class RuleFields(Strict):
    security_group_id: uuid.UUID
    direction: Literal['ingress', 'egress']
    ethertype: Literal['IPv4'] = 'IPv4'
    protocol: str | None = Field(None, max_length=16)
    port_range_min: int | None = Field(None, ge=1, le=65535)
    port_range_max: int | None = Field(None, ge=1, le=65535)
    remote_ip_prefix: str | None = Field(None, max_length=64)
    remote_group_id: uuid.UUID | None = None
    remote_address_group_id: None = None
    description: str = Field('', max_length=0, description='not kept yet')
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class RuleCreate(Strict):
    security_group_rule: RuleFields


def owned(caller, group_id, rule):
    """The group, if the caller's project's (any for an admin: the
    conductor lists only those) and ``rule`` allows; 404 for another
    project's group, whoever asks."""
    missing = exception.SecurityGroupNotFound(group=group_id)
    groups = [g for g in deps.conductor().secgroup_list(caller.ctxt)
              if g.uuid == str(group_id)]
    if not groups:
        raise missing
    caller.guard({'project_id': groups[0].project_id}, 'project:show',
                 rule, missing)
    return groups[0]


def _groups(caller):
    """The groups the caller reads: their project's (every project's for
    admin and itsec)."""
    wide = caller.can('secgroup:list:all_projects')
    groups = deps.conductor().secgroup_list(
        caller.ctxt, **({'all_projects': True} if wide else {}))
    return [g for g in groups if wide or g.project_id == caller.project_id]


def _views(groups):
    ids = views.group_ids(groups)
    return [views.security_group(g, ids) for g in groups]


def _group_view(caller, ref):
    for view in _views(_groups(caller)):
        if view['id'] == ref:
            return view
    raise exception.SecurityGroupNotFound(group=ref)


@router.get('/security-groups')
def group_list(request: Request, caller: deps.Caller = deps.CALLER,
               limit: int = Limit, marker: str | None = Marker):
    return listed(request, 'security_groups', _views(_groups(caller)),
                  limit, marker)


@router.get('/security-groups/{group_id}')
def group_show(group_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'security_group': _group_view(caller, str(group_id))}


@router.post('/security-groups', status_code=201)
def group_create(body: GroupCreate, caller: deps.Caller = deps.CALLER):
    """In the caller's project (its security_groups quota checked)."""
    fields = body.security_group
    own_project(caller, fields)
    caller.check('secgroup:create')
    group = deps.conductor().secgroup_create(
        caller.ctxt, name=fields.name, description=fields.description)
    return {'security_group': _group_view(caller, group.uuid)}


@router.delete('/security-groups/{group_id}', status_code=204)
def group_delete(group_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """409 while a server's port is in it."""
    owned(caller, group_id, 'secgroup:delete')
    deps.conductor().secgroup_delete(caller.ctxt, group=str(group_id))
    return Response(status_code=204)


def _rules(caller):
    return [r for g in _views(_groups(caller))
            for r in g['security_group_rules']]


@router.get('/security-group-rules')
def rule_list(request: Request, caller: deps.Caller = deps.CALLER,
              limit: int = Limit, marker: str | None = Marker):
    return listed(request, 'security_group_rules', _rules(caller), limit,
                  marker)


def _rule_view(caller, rule_id):
    for rule in _rules(caller):
        if rule['id'] == rule_id:
            return rule
    raise exception.SecurityGroupRuleNotFound(rule=rule_id)


@router.get('/security-group-rules/{rule_id}')
def rule_show(rule_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'security_group_rule': _rule_view(caller, str(rule_id))}


@router.post('/security-group-rules', status_code=201)
def rule_create(body: RuleCreate, caller: deps.Caller = deps.CALLER):
    """Checked as the hosts' firewall checks it (400 if it would not
    render); the hosts of the group's ports get it at once."""
    fields = body.security_group_rule
    protocol = (fields.protocol or 'any').lower()
    if protocol not in PROTOCOLS:
        raise exception.InvalidRPCPayload(
            'protocol %s: hvagent filters tcp, udp, icmp or any'
            % fields.protocol)
    group_id = str(fields.security_group_id)
    before = {r.uuid for r in owned(caller, group_id,
                                    'secgroup:rule_add').rules}
    group = deps.conductor().secgroup_rule_add(
        caller.ctxt, group=group_id, direction=fields.direction,
        protocol=PROTOCOLS[protocol], port_range_min=fields.port_range_min,
        port_range_max=fields.port_range_max,
        remote_ip_prefix=fields.remote_ip_prefix,
        remote_group=fields.remote_group_id and str(fields.remote_group_id))
    new = [r.uuid for r in group.rules if r.uuid not in before]
    if not new:
        raise exception.Conflict(what='This rule')
    return {'security_group_rule': _rule_view(caller, new[0])}


@router.delete('/security-group-rules/{rule_id}', status_code=204)
def rule_delete(rule_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    rule = _rule_view(caller, str(rule_id))
    owned(caller, rule['security_group_id'], 'secgroup:rule_delete')
    deps.conductor().secgroup_rule_delete(caller.ctxt, rule=str(rule_id))
    return Response(status_code=204)
