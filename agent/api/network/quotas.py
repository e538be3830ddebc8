"""Network quotas as neutron shows them: ``/quotas/{project}`` (show,
update), ``/quotas/{project}/details`` (with use) and ``/default``.
hvagent keeps the number of floating IPs and security groups; neutron's
others (networks, subnets, ports, routers, rules...) are not limited here
and show as -1; setting one is refused."""
from typing import Any

from fastapi import APIRouter
from fastapi import Body
from oslo_config import cfg

from agent import exception
from agent.api import deps
from agent.api import quota_updates
from agent.api.identity.projects import project_of
from agent.api.network.networks import PREFIX

router = APIRouter(prefix=PREFIX + '/quotas', tags=['network'])
#: neutron's quota names and hvagent's resources
QUOTAS = {'floatingip': 'floating_ips', 'security_group': 'security_groups'}
UNLIMITED = ('network', 'subnet', 'port', 'router', 'security_group_rule',
             'rbac_policy', 'subnetpool')


def _quota(quotas: dict[str, Any], details: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, resource in QUOTAS.items():
        q = quotas[resource]
        out[name] = {'limit': q['limit'], 'used': q['in_use'],
                     'reserved': 0} if details else q['limit']
    for name in UNLIMITED:
        out[name] = {'limit': -1, 'used': 0, 'reserved': 0} \
            if details else -1
    return {'quota': out}


def _show(caller, project):
    pid = project_of(caller, project)['id']
    caller.check('quota:show', pid)
    return deps.conductor().quota_show(caller.ctxt, project_id=pid)


@router.get('/{project}')
def quota_show(project: str, caller: deps.Caller = deps.CALLER):
    return _quota(_show(caller, project), False)


@router.get('/{project}/details')
@router.get('/{project}/details.json', include_in_schema=False)
def quota_details(project: str, caller: deps.Caller = deps.CALLER):
    return _quota(_show(caller, project), True)


@router.get('/{project}/default')
def quota_default(project: str, caller: deps.Caller = deps.CALLER):
    """The limits a project gets when none of its own is set ([quota])."""
    pid = project_of(caller, project)['id']
    caller.check('quota:show', pid)
    return {'quota': {**{name: getattr(cfg.CONF.quota, resource)
                         for name, resource in QUOTAS.items()},
                      **dict.fromkeys(UNLIMITED, -1)}}


@router.put('/{project}')
def quota_update(project: str, caller: deps.Caller = deps.CALLER,
                 body: dict[str, Any] = Body(
                     description='{"quota": {"floatingip": 10}}')):
    """``check_limit`` (what the client sends unless told ``--force``):
    a limit below what the project uses already is refused (400), as
    neutron does; with ``force`` it is set, and the next allocation is
    refused."""
    limits = quota_updates.parse(body, 'quota', QUOTAS,
                                 ignored=('check_limit', 'force'))
    if body['quota'].get('check_limit') is True:
        used = _show(caller, project)
        below = sorted(name for name, resource in QUOTAS.items()
                       if 0 <= limits.get(resource, -1)
                       < used[resource]['in_use'])
        if below:
            raise exception.InvalidRPCPayload(
                'the project uses more %s than the new limit (set it with '
                '--force)' % ', '.join(below))
    _, quotas = quota_updates.apply(caller, project, limits)
    return _quota(quotas, False)
