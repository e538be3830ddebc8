"""Volumes in cinder's shapes (microversion 3.0): ``POST /volumes``
(``{"volume": {"size", "name"}}``: an empty volume), ``GET /volumes``,
``/volumes/detail``, ``GET`` and ``DELETE /volumes/{id}`` (202),
``POST /volumes/{id}/action`` with ``os-extend`` (202), under
``/volume/v3/{project_id}``, where the project must be the token's.
Volumes from an image, a snapshot, another volume or a backup are not
made yet (400)."""
import datetime
import uuid
from typing import Any, Literal

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Request
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import service_catalog
from agent.api.schemas import Strict
from agent.api.volume import records

PREFIX = '/volume/v3/{project_id}'
router = APIRouter(prefix=PREFIX + '/volumes', tags=['volume'])


class VolumeFields(Strict):
    size: int = Field(ge=1, le=1024, description='GiB')
    name: str | None = Field(None, min_length=1, max_length=255,
                             pattern=r'^[^\x00-\x1f\x7f]+$')
    description: str | None = Field(None, max_length=255)
    availability_zone: str | None = Field(None, max_length=255)
    metadata: dict[str, str] | None = Field(None, max_length=0,
                                            description='not kept yet')
    volume_type: str | None = Field(None, max_length=255)
    multiattach: Literal[False] = False
    # what a volume is made from: not supported yet, null only
    imageRef: None = None
    snapshot_id: None = None
    source_volid: None = None
    backup_id: None = None
    consistencygroup_id: None = None
    group_id: None = None


class VolumeCreate(Strict):
    volume: VolumeFields


def own_project(caller, project_id):
    if project_id != caller.project_id:
        raise exception.NotFound(
            'Project %s is not the token\'s project: volumes are reached '
            "under the token's own project id" % project_id[:64])


def _time(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%dT%H:%M:%S.%f')
    return value


def view(volume: dict[str, Any], base: str, detail: bool = True):
    ident = str(volume['id'])
    href = '%s/volume/v3/%s/volumes/%s' % (base, volume['project_id'],
                                          ident)
    out: dict[str, Any] = {'id': ident, 'name': volume['name'],
                           'links': [{'rel': 'self', 'href': href}]}
    if not detail:
        return out
    server = volume['attached_to'] and str(volume['attached_to'])
    out.update({
        'status': volume['status'], 'size': volume['size_gb'],
        'availability_zone': 'nova', 'bootable': 'false',
        'encrypted': False, 'multiattach': False, 'metadata': {},
        'description': None, 'volume_type': 'file',
        'snapshot_id': None, 'source_volid': None,
        'replication_status': None, 'consistencygroup_id': None,
        'user_id': volume['user_id'],
        'os-vol-tenant-attr:tenant_id': volume['project_id'],
        'created_at': _time(volume['created_at']),
        'updated_at': _time(volume.get('updated_at') or
                            volume['created_at']),
        'attachments': [{'id': ident, 'attachment_id': ident,
                         'volume_id': ident, 'server_id': server,
                         'host_name': None, 'device': None,
                         'attached_at': None}] if server else []})
    return out



@router.post('', status_code=202)
def volume_create(project_id: str, body: VolumeCreate, request: Request,
                  caller: deps.Caller = deps.CALLER):
    own_project(caller, project_id)
    volume = body.volume
    name = volume.name or 'volume-%s' % uuid.uuid4().hex[:8]
    return {'volume': view(records.new_volume(caller, name, volume.size),
                           service_catalog.base_url(request))}


def _list(request, caller, project_id, limit, marker, detail):
    own_project(caller, project_id)
    caller.check('volume:list')
    page = paging.project_page(deps.conductor().volume_list, caller,
                               'volumes', limit, marker)
    return paging.nova_page(request, 'volumes', [
        view(v, service_catalog.base_url(request), detail) for v in page['volumes']],
        page['next_marker'])


class ListQuery:
    """A volume list's project (the URL's) and page."""

    def __init__(self, project_id: str,
                 limit: int = Depends(paging.limit_param),
                 marker: uuid.UUID | None = None):
        self.project_id, self.limit, self.marker = project_id, limit, marker


@router.get('')
def volume_list(request: Request, caller: deps.Caller = deps.CALLER,
                q: ListQuery = Depends()):
    return _list(request, caller, q.project_id, q.limit, q.marker, False)


@router.get('/detail')
def volume_detail(request: Request, caller: deps.Caller = deps.CALLER,
                  q: ListQuery = Depends()):
    return _list(request, caller, q.project_id, q.limit, q.marker, True)


@router.get('/{volume_id}')
def volume_show(project_id: str, volume_id: uuid.UUID, request: Request,
                caller: deps.Caller = deps.CALLER):
    own_project(caller, project_id)
    return {'volume': view(records.fetch(caller, volume_id, 'volume:show'),
                           service_catalog.base_url(request))}


class ExtendArgs(Strict):
    new_size: int = Field(ge=1, le=16384, description='GiB')


class VolumeAction(Strict):
    os_extend: ExtendArgs = Field(alias='os-extend')


@router.post('/{volume_id}/action', status_code=202)
def volume_action(project_id: str, volume_id: uuid.UUID, body: VolumeAction,
                  caller: deps.Caller = deps.CALLER):
    """cinder's volume actions; ``os-extend`` (``{"new_size": GiB}``) is
    the one served: an available volume, or an in-use one (its guest
    sees the new size; cinder asks microversion 3.42 for that)."""
    own_project(caller, project_id)
    records.extend(caller, volume_id, body.os_extend.new_size)
    return Response(status_code=202)


@router.delete('/{volume_id}', status_code=202)
def volume_delete(project_id: str, volume_id: uuid.UUID,
                  caller: deps.Caller = deps.CALLER):
    own_project(caller, project_id)
    records.remove(caller, volume_id)
    return Response(status_code=202)
