"""Flavors, hosts and security groups."""
import uuid

from fastapi import APIRouter, Depends, Query

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas

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
               'disabled': svc.disabled}
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
    if all_projects:
        caller.check('secgroup:list:all_projects')
    items = [_group(g) for g in deps.conductor().secgroup_list(caller.ctxt)
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


@router.post('/security-groups/{group_id}/rules', status_code=201,
             response_model=schemas.SecurityGroupOut)
def rule_add(group_id: uuid.UUID, body: schemas.RuleIn,
             caller: deps.Caller = deps.CALLER):
    groups = [g for g in deps.conductor().secgroup_list(caller.ctxt)
              if g.uuid == str(group_id)]
    if not groups or not caller.can('project:show',
                                    project_id=groups[0].project_id):
        raise exception.SecurityGroupNotFound(group=group_id)
    caller.check('secgroup:rule_add', project_id=groups[0].project_id)
    group = deps.conductor().secgroup_rule_add(
        caller.ctxt, group=str(group_id), remote_group=None,
        **body.model_dump())
    return {'security_group': _group(group)}
