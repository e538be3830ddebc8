"""What Image v2 does with images: create, store the bytes (sha256
recorded), page, find one the caller may see, serve and remove its bytes.
Bytes live on the API host (image_store); compute agents download them
with the conductor's image grant for the instance, users with their
token."""
import asyncio
import contextlib
import os

from fastapi import Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from agent import exception
from agent.api import deps
from agent.api import image_store
from agent.api import paging

#: glance's quota names (keystone's unified limits of service 'image')
#: -> hvagent's quota resources
QUOTAS = {'image_count_total': 'images',
          'image_size_total': 'image_megabytes'}
#: bytes of an upload handed to the writing thread at a time
WRITE_BLOCK = 4 << 20
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


def new_image(caller, name, disk_format, visibility, **boots_with):
    """``boots_with``: kernel_id, ramdisk_id (image ids)."""
    caller.check('image:create')
    if visibility == 'public':
        caller.check('image:publicize')
    return deps.conductor().image_create(
        caller.ctxt, name=name, disk_format=disk_format,
        visibility=visibility, **boots_with)


async def store_bytes(caller, image_id, request, checksum):
    """Stream the request's body into a queued image (a user's) or a
    saving one (a snapshot, uploaded with its agent's grant:
    deps.GrantUploader); the image, active (413 past the size cap, 409
    if it has data already or is not the grant's snapshot)."""
    length = request.headers.get('content-length', '')
    if length.isdigit():
        image_store.check_size(int(length))
    image = await run_in_threadpool(fetch, caller, image_id, 'image:upload')
    snapshot_of = getattr(caller, 'snapshot_of', None)
    if image['status'] != ('saving' if snapshot_of else 'queued') or \
            snapshot_of and image.get('instance_uuid') != snapshot_of:
        raise exception.Conflict(what='Image data of %s' % image_id)
    writer = await run_in_threadpool(image_store.Writer, str(image_id))
    try:
        await _write_all(request.stream(), writer)
        size, digest = await run_in_threadpool(writer.finish, checksum)
        image = await run_in_threadpool(
            lambda: deps.conductor().image_activate(
                caller.ctxt, image_id=str(image_id), size=size,
                checksum=digest, **({'instance_uuid': snapshot_of}
                                    if snapshot_of else {})))
        await run_in_threadpool(writer.publish)
    finally:
        writer.abort()      # a no-op once published
    return image


async def _write_all(chunks, writer):
    """Hand the body to ``writer`` block by block in the thread pool,
    reading the next block meanwhile (one block ahead: the network and
    the disk overlap, memory stays bounded)."""
    writing = None
    try:
        async for block in _blocks(chunks):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(
                run_in_threadpool(writer.write, block))
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            with contextlib.suppress(Exception):
                await writing       # before the caller aborts the file


async def _blocks(chunks, size=WRITE_BLOCK):
    """The body's chunks (the server's reads: 64 KiB or less) joined
    into blocks of ``size`` bytes (the last one shorter), so that the
    hashing and writing thread is handed a block at a time: one hop per
    chunk cost a gigabyte upload seconds in thread switches."""
    pending, held = [], 0
    async for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b''.join(pending)
            pending, held = [], 0
    if pending:
        yield b''.join(pending)


def page(caller, limit, marker):
    """A page of the project's images and the public ones:
    {'images', 'next_marker'}."""
    caller.check('image:list')
    return paging.project_page(deps.conductor().image_list, caller,
                               'images', limit, marker)


def file_response(caller, image_id):
    image = fetch(caller, image_id, 'image:show')
    path = image_store.path(str(active(image)['id']))
    if not os.path.exists(path):
        raise exception.ImageNotFound(image=image_id, reason='no data')
    return FileResponse(path, media_type='application/octet-stream')


def remove(caller, image_id):
    fetch(caller, image_id, 'image:delete')
    deps.conductor().image_delete(caller.ctxt, image_id=str(image_id))
    image_store.remove(str(image_id))
    return Response(status_code=204)
