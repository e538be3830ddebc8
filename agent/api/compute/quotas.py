"""Quotas and limits as nova shows them at microversion 2.1:
``os-quota-sets/{project}`` (show, detail, defaults, update) and
``limits`` (the caller's project).

hvagent keeps the quotas of QUOTAS; nova's others (key pairs, metadata
items, injected files, server groups) are not limited here and show as
-1; setting one is refused."""
from typing import Any

from fastapi import APIRouter
from fastapi import Body
from fastapi import Depends
from oslo_config import cfg

from agent.api import deps
from agent.api import quota_updates
from agent.api.compute import microversions
from agent.api.identity.projects import project_of

router = APIRouter(prefix=microversions.PREFIX, tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
#: nova's quota names and hvagent's resources
QUOTAS = {'instances': 'instances', 'cores': 'cores', 'ram': 'ram',
          'fixed_ips': 'fixed_ips', 'floating_ips': 'floating_ips',
          'security_groups': 'security_groups'}
UNLIMITED = ('key_pairs', 'metadata_items', 'injected_files',
             'injected_file_content_bytes', 'injected_file_path_bytes',
             'server_groups', 'server_group_members',
             'security_group_rules')
#: limits' names of each kept quota (max, used)
LIMITS = {'instances': ('maxTotalInstances', 'totalInstancesUsed'),
          'cores': ('maxTotalCores', 'totalCoresUsed'),
          'ram': ('maxTotalRAMSize', 'totalRAMUsed'),
          'floating_ips': ('maxTotalFloatingIps', 'totalFloatingIpsUsed'),
          'security_groups': ('maxSecurityGroups',
                              'totalSecurityGroupsUsed')}


def _quotas(caller, project, rule):
    pid = project_of(caller, project)['id']
    caller.check(rule, pid)
    return pid, deps.conductor().quota_show(caller.ctxt, project_id=pid)


def quota_set(pid: str, quotas: dict[str, Any],
              detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {'id': pid}
    for name, resource in QUOTAS.items():
        q = quotas[resource]
        out[name] = ({'limit': q['limit'], 'in_use': q['in_use'],
                      'reserved': 0} if detail else q['limit'])
    for name in UNLIMITED:
        out[name] = {'limit': -1, 'in_use': 0, 'reserved': 0} \
            if detail else -1
    return out


@router.get('/os-quota-sets/{project}')
def quota_show(project: str, caller: deps.Caller = deps.CALLER):
    pid, quotas = _quotas(caller, project, 'quota:show')
    return {'quota_set': quota_set(pid, quotas)}


@router.get('/os-quota-sets/{project}/detail')
def quota_detail(project: str, caller: deps.Caller = deps.CALLER):
    pid, quotas = _quotas(caller, project, 'quota:show')
    return {'quota_set': quota_set(pid, quotas, detail=True)}


@router.get('/os-quota-sets/{project}/defaults')
def quota_defaults(project: str, caller: deps.Caller = deps.CALLER):
    """The limits a project gets when none of its own is set ([quota])."""
    pid = project_of(caller, project)['id']
    caller.check('quota:show', pid)
    out: dict[str, Any] = {'id': pid}
    out.update({name: getattr(cfg.CONF.quota, resource)
                for name, resource in QUOTAS.items()})
    out.update({name: -1 for name in UNLIMITED})
    return {'quota_set': out}


@router.put('/os-quota-sets/{project}')
def quota_update(project: str, caller: deps.Caller = deps.CALLER,
                 body: dict[str, Any] = Body(
                     description='{"quota_set": {"cores": 20, ...}}')):
    pid, quotas = quota_updates.apply(caller, project, quota_updates.parse(
        body, 'quota_set', QUOTAS, ignored=('force',)))
    return {'quota_set': quota_set(pid, quotas)}


@router.get('/limits')
def limits(caller: deps.Caller = deps.CALLER):
    """The caller's project's limits and usage."""
    pid, quotas = _quotas(caller, caller.project_id, 'quota:show')
    absolute: dict[str, int] = {}
    for resource, (most, used) in LIMITS.items():
        absolute[most] = quotas[resource]['limit']
        absolute[used] = quotas[resource]['in_use']
    absolute.update({'maxServerMeta': 128, 'maxImageMeta': 128,
                     'maxPersonality': -1, 'maxPersonalitySize': -1,
                     'maxTotalKeypairs': -1, 'maxSecurityGroupRules': -1,
                     'maxServerGroups': -1, 'maxServerGroupMembers': -1,
                     'totalServerGroupsUsed': 0})
    return {'limits': {'rate': [], 'absolute': absolute}}
