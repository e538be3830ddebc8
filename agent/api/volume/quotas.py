"""Block storage quotas as cinder shows them: ``os-quota-sets/{project}``
(``usage`` for limits with use) and their update. hvagent keeps the
number of volumes; cinder's others (gigabytes, snapshots, backups...)
are not limited here and show as -1; setting one is refused."""
from typing import Any

from fastapi import APIRouter
from fastapi import Body

from agent.api import deps
from agent.api import quota_updates
from agent.api.identity.projects import project_of
from agent.api.volume.volumes import PREFIX
from agent.api.volume.volumes import own_project

router = APIRouter(prefix=PREFIX + '/os-quota-sets', tags=['volume'])
UNLIMITED = ('gigabytes', 'snapshots', 'backups', 'backup_gigabytes',
             'per_volume_gigabytes', 'groups')


def quota_set(pid: str, quotas: dict[str, Any], usage: bool):
    out: dict[str, Any] = {'id': pid}
    q = quotas['volumes']
    out['volumes'] = {'limit': q['limit'], 'in_use': q['in_use'],
                      'reserved': 0, 'allocated': 0} if usage else q['limit']
    for name in UNLIMITED:
        out[name] = {'limit': -1, 'in_use': 0, 'reserved': 0,
                     'allocated': 0} if usage else -1
    return {'quota_set': out}


@router.get('/{target}')
def quota_show(project_id: str, target: str, usage: bool = False,
               caller: deps.Caller = deps.CALLER):
    own_project(caller, project_id)
    pid = project_of(caller, target)['id']
    caller.check('quota:show', pid)
    return quota_set(pid, deps.conductor().quota_show(
        caller.ctxt, project_id=pid), usage)


@router.put('/{target}')
def quota_update(project_id: str, target: str,
                 caller: deps.Caller = deps.CALLER,
                 body: dict[str, Any] = Body(
                     description='{"quota_set": {"volumes": 10}}')):
    own_project(caller, project_id)
    pid, quotas = quota_updates.apply(caller, target, quota_updates.parse(
        body, 'quota_set', {'volumes': 'volumes'}))
    return quota_set(pid, quotas, False)


limits_router = APIRouter(prefix=PREFIX, tags=['volume'])


@limits_router.get('/limits')
def limits(project_id: str, caller: deps.Caller = deps.CALLER):
    """The token's project's volume limits and use."""
    own_project(caller, project_id)
    caller.check('quota:show', project_id)
    q = deps.conductor().quota_show(caller.ctxt,
                                    project_id=project_id)['volumes']
    absolute = {'maxTotalVolumes': q['limit'],
                'totalVolumesUsed': q['in_use']}
    for most, used in (('maxTotalVolumeGigabytes', 'totalGigabytesUsed'),
                       ('maxTotalSnapshots', 'totalSnapshotsUsed'),
                       ('maxTotalBackups', 'totalBackupsUsed'),
                       ('maxTotalBackupGigabytes',
                        'totalBackupGigabytesUsed')):
        absolute.update({most: -1, used: 0})
    return {'limits': {'rate': [], 'absolute': absolute}}
