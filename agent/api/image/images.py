"""Images in glance's shapes: ``POST /v2/images`` (queued), ``PUT
/v2/images/{id}/file`` (the bytes; 204), ``GET /v2/images`` (``name``,
``visibility``, ``status``, ``limit``, ``marker``), ``GET``, ``GET
.../file`` and ``DELETE /v2/images/{id}``.

An image's sha256 is glance's ``os_hash_value`` (``os_hash_algo``
sha256); glance's md5 ``checksum`` is not computed (null). Extra image
properties a client sends (openstacksdk sends its own
``owner_specified.*`` hashes) are accepted and not kept yet.
"""
import datetime
import uuid
from typing import Any, Literal
from urllib import parse

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi import Response
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api.image import records
from agent.api.schemas import Name

PREFIX = '/image/v2'
router = APIRouter(prefix=PREFIX + '/images', tags=['image'])
info_router = APIRouter(prefix=PREFIX + '/info', tags=['image'])


class ImageCreate(BaseModel):
    """glance's create body; properties beyond these are accepted (as
    glance does) and not kept."""
    model_config = ConfigDict(extra='allow')
    name: str = Name
    disk_format: Literal['qcow2', 'raw'] = 'qcow2'
    container_format: Literal['bare'] = 'bare'
    visibility: Literal['private', 'public'] = 'private'
    id: uuid.UUID | None = Field(None, description='not supported: ids are '
                                 "the API's to give")
    min_disk: int = Field(0, ge=0)
    min_ram: int = Field(0, ge=0)
    protected: Literal[False] = False
    tags: list[str] = Field([], max_length=0)
    kernel_id: uuid.UUID | None = Field(None, description='the kernel '
                                        'image a boot from it uses')
    ramdisk_id: uuid.UUID | None = Field(None, description='the ramdisk '
                                         'image a boot from it uses')


def _time(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%dT%H:%M:%SZ')
    return value


def view(image: dict[str, Any]) -> dict[str, Any]:
    ident = str(image['id'])
    return {'id': ident, 'name': image['name'], 'status': image['status'],
            'visibility': image['visibility'], 'protected': False,
            'os_hidden': False, 'checksum': None,
            'os_hash_algo': 'sha256' if image['checksum'] else None,
            'os_hash_value': image['checksum'], 'owner': image['project_id'],
            'size': image['size'], 'virtual_size': None,
            'min_ram': 0, 'min_disk': 0,
            'disk_format': image['disk_format'], 'container_format': 'bare',
            'created_at': _time(image['created_at']),
            'updated_at': _time(image.get('updated_at') or
                                image['created_at']),
            'tags': [], 'self': '/v2/images/' + ident,
            **{k: image[k] for k in ('kernel_id', 'ramdisk_id',
                                     'instance_uuid') if image.get(k)},
            **({'image_type': 'snapshot'} if image.get('instance_uuid')
               else {}),
            'file': '/v2/images/%s/file' % ident,
            'schema': '/v2/schemas/image'}


@router.post('', status_code=201)
def image_create(body: ImageCreate, caller: deps.Caller = deps.CALLER):
    if body.id is not None:
        raise exception.InvalidRPCPayload('an image id is given by the API, '
                                          'not the client')
    boots_with = {k: str(v) for k, v in (('kernel_id', body.kernel_id),
                                         ('ramdisk_id', body.ramdisk_id))
                  if v is not None}
    return view(records.new_image(caller, body.name, body.disk_format,
                                 body.visibility, **boots_with))


@router.put('/{image_id}/file', status_code=204,
            openapi_extra=records.BINARY)
async def image_upload(image_id: uuid.UUID, request: Request,
                       checksum: str | None = Query(
                           None, pattern='^[0-9a-fA-F]{64}$',
                           description="hvagent's: the sha256 the bytes "
                           'must have (400 and nothing kept otherwise)'),
                       caller: deps.Caller = deps.IMAGE_WRITER):
    """The image's bytes (once; 409 after); its sha256 becomes
    ``os_hash_value``. Past ``[api] max_image_upload_bytes``: 413. A
    snapshot's (status ``saving``) come from the agent of its instance's
    host, with the conductor's upload grant, and from no one else."""
    await records.store_bytes(caller, image_id, request, checksum)
    return Response(status_code=204)


@router.get('')
def image_list(request: Request, caller: deps.Caller = deps.CALLER,
               name: str | None = Query(None, max_length=255),
               visibility: str | None = Query(None, max_length=16),
               status: str | None = Query(None, max_length=16),
               limit: int = Depends(paging.limit_param),
               marker: uuid.UUID | None = Query(None)):
    """The project's images and the public ones."""
    page = records.page(caller, limit, marker)
    shown = [view(i) for i in page['images']
             if (name is None or i['name'] == name) and
             (visibility in (None, 'all') or i['visibility'] == visibility)
             and (status is None or i['status'] == status)]
    out = {'images': shown, 'first': '/v2/images',
           'schema': '/v2/schemas/images'}
    if page['next_marker']:
        out['next'] = '/v2/images?' + parse.urlencode(dict(
            request.query_params, marker=str(page['next_marker'])))
    return out


@router.get('/{image_id}')
def image_show(image_id: uuid.UUID,
               caller: deps.Caller = deps.IMAGE_READER):
    """The image, to whoever may show it: a user, or a compute agent
    presenting the conductor's grant for an instance booting it."""
    return view(records.fetch(caller, image_id, 'image:show'))


@router.get('/{image_id}/file',
            responses={200: {'content': {'application/octet-stream': {}}}})
def image_download(image_id: uuid.UUID,
                   caller: deps.Caller = deps.IMAGE_READER):
    """The bytes, to a user or a compute agent with a grant."""
    return records.file_response(caller, image_id)


@router.delete('/{image_id}', status_code=204)
def image_delete(image_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return records.remove(caller, image_id)


@info_router.get('/usage')
def usage(caller: deps.Caller = deps.CALLER):
    """glance's quota usage of the caller's project: each unified limit
    (/v3/limits: image_count_total, image_size_total in MiB) with what is
    used; glance's staging quotas are not kept (-1)."""
    caller.check('quota:show', caller.project_id)
    quotas = deps.conductor().quota_show(caller.ctxt,
                                         project_id=caller.project_id)
    out = {name: {'limit': quotas[resource]['limit'],
                  'usage': quotas[resource]['in_use']}
           for name, resource in records.QUOTAS.items()}
    out.update({name: {'limit': -1, 'usage': 0} for name in (
        'image_stage_total', 'image_count_uploading')})
    return {'usage': out}
