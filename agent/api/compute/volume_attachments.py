"""A server's volumes, nova's ``os-volume_attachments`` (2.1): attach
one of the project's volumes (the agent does it; the volume turns
``in-use``), list, show and detach them."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.schemas import Strict
from agent.api.volume import records

router = APIRouter(
    prefix=microversions.PREFIX + '/servers/{server_id}/os-volume_attachments',
    tags=['compute'], dependencies=[Depends(microversions.negotiate)])


class AttachmentFields(Strict):
    volumeId: uuid.UUID
    device: str | None = Field(None, max_length=32, description='ignored: '
                               'the hypervisor names the device')
    tag: str | None = Field(None, max_length=60)
    delete_on_termination: bool = False


class AttachmentCreate(Strict):
    volumeAttachment: AttachmentFields


def _view(inst, volume_id):
    for bd in inst.block_devices:
        if str(bd.volume_id) == str(volume_id):
            return {'id': str(volume_id), 'volumeId': str(volume_id),
                    'serverId': inst.uuid, 'device': bd.device_name}
    raise exception.NotFound('Volume %s is not attached to server %s'
                             % (volume_id, inst.uuid))


@router.post('')
def attach(server_id: uuid.UUID, body: AttachmentCreate,
           caller: deps.Caller = deps.CALLER):
    volume_id = body.volumeAttachment.volumeId
    inst = records.attachment(caller, server_id, volume_id, 'attach_volume')
    return {'volumeAttachment': _view(inst, volume_id)}


@router.get('')
def attachment_list(server_id: uuid.UUID,
                    caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:show')
    return {'volumeAttachments': [_view(inst, bd.volume_id)
                                  for bd in inst.block_devices]}


@router.get('/{volume_id}')
def attachment_show(server_id: uuid.UUID, volume_id: uuid.UUID,
                    caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:show')
    return {'volumeAttachment': _view(inst, volume_id)}


@router.delete('/{volume_id}', status_code=202)
def detach(server_id: uuid.UUID, volume_id: uuid.UUID,
           caller: deps.Caller = deps.CALLER):
    records.attachment(caller, server_id, volume_id, 'detach_volume')
    return Response(status_code=202)
