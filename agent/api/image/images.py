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
from agent.api.routes import images as native
from agent.api.schemas import Name

PREFIX = '/image/v2'
router = APIRouter(prefix=PREFIX + '/images', tags=['image'])


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
            **{k: image[k] for k in ('kernel_id', 'ramdisk_id')
               if image.get(k)},
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
    return view(native.new_image(caller, body.name, body.disk_format,
                                 body.visibility, **boots_with))


@router.put('/{image_id}/file', status_code=204,
            openapi_extra=native.BINARY)
async def image_upload(image_id: uuid.UUID, request: Request,
                       caller: deps.Caller = deps.CALLER):
    await native.store_bytes(caller, image_id, request, None)
    return Response(status_code=204)


@router.get('')
def image_list(request: Request, caller: deps.Caller = deps.CALLER,
               name: str | None = Query(None, max_length=255),
               visibility: str | None = Query(None, max_length=16),
               status: str | None = Query(None, max_length=16),
               limit: int = Depends(paging.limit_param),
               marker: uuid.UUID | None = Query(None)):
    """The project's images and the public ones."""
    page = native.index(caller, limit, marker)
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
def image_show(image_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return view(native.fetch(caller, image_id, 'image:show'))


@router.get('/{image_id}/file',
            responses={200: {'content': {'application/octet-stream': {}}}})
def image_download(image_id: uuid.UUID,
                   caller: deps.Caller = deps.CALLER):
    return native.file_response(caller, image_id)


@router.delete('/{image_id}', status_code=204)
def image_delete(image_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return native.remove(caller, image_id)
