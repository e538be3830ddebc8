"""Images: create, upload (sha256 checked), list, show, download, delete.
Bytes live on the API host (image_store); compute agents download them
with the conductor's image grant for the instance, users with their
token."""
import os
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi import Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from agent import exception
from agent.api import deps
from agent.api import image_store
from agent.api import paging
from agent.api import schemas

router = APIRouter(prefix='/v1/images', tags=['images'])
BINARY = {'requestBody': {'required': True, 'content': {
    'application/octet-stream': {'schema': {'type': 'string',
                                            'format': 'binary'}}}}}


def fetch(caller, image_id, rule):
    """The image, if the caller may see it and then apply ``rule``."""
    image = deps.conductor().image_show(caller.ctxt, image_id=str(image_id))
    caller.guard({k: image[k] for k in ('project_id', 'user_id',
                                        'visibility')}, 'image:show', rule,
                 exception.ImageNotFound(image=image_id,
                                         reason='no such image'))
    return image


def active(image):
    if image['status'] != 'active':
        raise exception.Conflict(what='No data for image %s yet: it'
                                 % image['id'])
    return image


@router.post('', status_code=201, response_model=schemas.ImageOut)
def create(body: schemas.ImageIn, caller: deps.Caller = deps.CALLER):
    """A queued image of the caller's project; PUT its bytes next."""
    return {'image': new_image(caller, body.name, body.disk_format,
                               body.visibility)}


def new_image(caller, name, disk_format, visibility, **boots_with):
    """``boots_with``: kernel_id, ramdisk_id (image ids)."""
    caller.check('image:create')
    if visibility == 'public':
        caller.check('image:publicize')
    return deps.conductor().image_create(
        caller.ctxt, name=name, disk_format=disk_format,
        visibility=visibility, **boots_with)


@router.put('/{image_id}/file', response_model=schemas.ImageOut,
            openapi_extra=BINARY)
async def upload(image_id: uuid.UUID, request: Request,
                 checksum: str | None = Query(
                     None, pattern='^[0-9a-fA-F]{64}$',
                     description='sha256 the bytes must have'),
                 caller: deps.Caller = deps.CALLER):
    """The image's bytes (once); its sha256 is recorded. Past ``[api]
    max_image_upload_bytes`` (announced or counted): 413, nothing kept."""
    return {'image': await store_bytes(caller, image_id, request, checksum)}


async def store_bytes(caller, image_id, request, checksum):
    """Stream the request's body into a queued image; the image, active
    (413 past the size cap, 409 if it has data already)."""
    length = request.headers.get('content-length', '')
    if length.isdigit():
        image_store.check_size(int(length))
    image = await run_in_threadpool(fetch, caller, image_id, 'image:upload')
    if image['status'] != 'queued':
        raise exception.Conflict(what='Image data of %s' % image_id)
    writer = await run_in_threadpool(image_store.Writer, str(image_id))
    try:
        async for chunk in request.stream():
            await run_in_threadpool(writer.write, chunk)
        size, digest = await run_in_threadpool(writer.finish, checksum)
        image = await run_in_threadpool(
            lambda: deps.conductor().image_activate(
                caller.ctxt, image_id=str(image_id), size=size,
                checksum=digest))
        await run_in_threadpool(writer.publish)
    finally:
        writer.abort()      # a no-op once published
    return image


@router.get('', response_model=schemas.Images)
def index(caller: deps.Caller = deps.CALLER,
          limit: int = Depends(paging.limit_param),
          marker: uuid.UUID | None = Query(None)):
    """The project's images and the public ones."""
    caller.check('image:list')
    return paging.project_page(deps.conductor().image_list, caller,
                               'images', limit, marker)


@router.get('/{image_id}', response_model=schemas.ImageOut)
def show(image_id: uuid.UUID, caller: deps.Caller = deps.IMAGE_READER):
    return {'image': fetch(caller, image_id, 'image:show')}


@router.get('/{image_id}/file', response_class=FileResponse,
            responses={200: {'content': {'application/octet-stream': {}}}})
def download(image_id: uuid.UUID,
             caller: deps.Caller = deps.IMAGE_READER):
    """The image's bytes, to whoever may show it: a user, or a compute
    agent presenting the conductor's grant for an instance booting it."""
    return file_response(caller, image_id)


def file_response(caller, image_id):
    image = fetch(caller, image_id, 'image:show')
    path = image_store.path(str(active(image)['id']))
    if not os.path.exists(path):
        raise exception.ImageNotFound(image=image_id, reason='no data')
    return FileResponse(path, media_type='application/octet-stream')


@router.delete('/{image_id}', status_code=204)
def delete(image_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return remove(caller, image_id)


def remove(caller, image_id):
    fetch(caller, image_id, 'image:delete')
    deps.conductor().image_delete(caller.ctxt, image_id=str(image_id))
    image_store.remove(str(image_id))
    return Response(status_code=204)
