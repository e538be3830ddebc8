"""Flavors, hosts and security groups (a server's too). A group is
resolved in the caller's project only: another project's is 404."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas
from agent.api.routes import servers

router = APIRouter(prefix='/v1', tags=['catalogue'])
Marker = Depends(paging.marker_param)


@router.get('/flavors', response_model=schemas.Flavors)
def flavors(caller: deps.Caller = deps.CALLER,
            limit: int = Depends(paging.limit_param),
            marker: str | None = Marker):
    caller.check('flavor:list')
    items = [f.as_dict() for f in deps.conductor().flavor_list(caller.ctxt)]
    items, nxt = paging.page(items, limit, marker, lambda f: f['name'])
    return {'flavors': items, 'next_marker': nxt}


@router.get('/hosts', response_model=schemas.Hosts)
def hosts(caller: deps.Caller = deps.CALLER,
          limit: int = Depends(paging.limit_param),
          marker: str | None = Depends(paging.marker_param)):
    """Every service with its host's resources (compute agents)."""
    caller.check('host:list')
    out = []
    for item in deps.conductor().host_list(caller.ctxt):
        svc, node = item['service'], item['node']
        row = {'host': svc.host, 'binary': svc.binary, 'up': svc.up,
               'disabled': svc.disabled,
               'disabled_reason': svc.disabled_reason}
        if node is not None:
            row.update({k: getattr(node, k) for k in (
                'vcpus', 'vcpus_used', 'memory_mb', 'memory_mb_used',
                'running_vms')})
        out.append(row)
    out, nxt = paging.page(out, limit, marker,
                           lambda h: '%s/%s' % (h['host'], h['binary']))
    return {'hosts': out, 'next_marker': nxt}


def _group(g):
    return {'id': g.uuid, 'name': g.name, 'project_id': g.project_id,
            'description': g.description,
            'rules': [dict(r.as_dict(), id=r.uuid) for r in g.rules]}


@router.get('/security-groups', response_model=schemas.SecurityGroups)
def secgroups(caller: deps.Caller = deps.CALLER,
              all_projects: bool = Query(False),
              limit: int = Depends(paging.limit_param),
              marker: str | None = Marker):
    """The caller's project's groups (every project's: admin, itsec)."""
    if all_projects:
        caller.check('secgroup:list:all_projects')
    wide = {'all_projects': True} if all_projects else {}   # 1.9 only then
    items = [_group(g) for g in deps.conductor().secgroup_list(
        caller.ctxt, **wide)
        if all_projects or g.project_id == caller.project_id]
    items, nxt = paging.page(items, limit, marker, lambda g: str(g['id']))
    return {'security_groups': items, 'next_marker': nxt}


@router.post('/security-groups', status_code=201,
             response_model=schemas.SecurityGroupOut)
def secgroup_create(body: schemas.SecurityGroupIn,
                    caller: deps.Caller = deps.CALLER):
    """A security group in the caller's project (quota checked)."""
    caller.check('secgroup:create')
    group = deps.conductor().secgroup_create(
        caller.ctxt, name=body.name, description=body.description)
    return {'security_group': _group(group)}


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


@router.post('/security-groups/{group_id}/rules', status_code=201,
             response_model=schemas.SecurityGroupOut)
def rule_add(group_id: uuid.UUID, body: schemas.RuleIn,
             caller: deps.Caller = deps.CALLER):
    """A rule, checked as the hosts' firewall checks it (400 if it would
    not render); the hosts of the group's ports get it at once."""
    owned(caller, group_id, 'secgroup:rule_add')
    group = deps.conductor().secgroup_rule_add(
        caller.ctxt, group=str(group_id), **body.model_dump())
    return {'security_group': _group(group)}


@router.delete('/security-groups/{group_id}/rules/{rule_id}',
               status_code=204)
def rule_delete(group_id: uuid.UUID, rule_id: uuid.UUID,
                caller: deps.Caller = deps.CALLER):
    group = owned(caller, group_id, 'secgroup:rule_delete')
    if str(rule_id) not in {r.uuid for r in group.rules}:
        raise exception.SecurityGroupRuleNotFound(rule=rule_id)
    deps.conductor().secgroup_rule_delete(caller.ctxt, rule=str(rule_id))
    return Response(status_code=204)


@router.delete('/security-groups/{group_id}', status_code=204)
def secgroup_delete(group_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Delete a group no server uses (409 while one does)."""
    owned(caller, group_id, 'secgroup:delete')
    deps.conductor().secgroup_delete(caller.ctxt, group=str(group_id))
    return Response(status_code=204)


@router.post('/servers/{server_id}/security-groups',
             response_model=schemas.SecurityGroupOut)
def server_group_add(server_id: uuid.UUID, body: schemas.GroupRef,
                     caller: deps.Caller = deps.CALLER):
    """Put the server's ports in a group of its project (running or
    not: its host gets the rules at once)."""
    servers.fetch(caller, server_id, 'server:secgroup_add')
    return {'security_group': _group(deps.conductor().server_secgroup_add(
        caller.ctxt, instance_uuid=str(server_id),
        group=body.security_group))}


@router.delete('/servers/{server_id}/security-groups/{group_id}',
               status_code=204)
def server_group_remove(server_id: uuid.UUID, group_id: uuid.UUID,
                        caller: deps.Caller = deps.CALLER):
    servers.fetch(caller, server_id, 'server:secgroup_remove')
    deps.conductor().server_secgroup_remove(
        caller.ctxt, instance_uuid=str(server_id), group=str(group_id))
    return Response(status_code=204)
