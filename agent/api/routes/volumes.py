"""Volumes: sparse raw files in ``[api] volume_dir`` made and removed here,
recorded (and quota-checked) by the conductor; attached to and detached
from instances through the compute agent."""
import os
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response
from oslo_config import cfg

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas
from agent.api.routes import servers
from agent.objects import actions as user_actions

CONF = cfg.CONF
router = APIRouter(tags=['volumes'])


def fetch(caller, volume_id, rule):
    volume = deps.conductor().volume_show(caller.ctxt,
                                          volume_id=str(volume_id))
    caller.guard({'project_id': volume['project_id'],
                  'user_id': volume['user_id']}, 'volume:show', rule,
                 exception.NotFound('Volume %s could not be found'
                                    % volume_id))
    return volume


@router.post('/v1/volumes', status_code=201,
             response_model=schemas.VolumeOut)
def create(body: schemas.VolumeIn, caller: deps.Caller = deps.CALLER):
    """A new empty (sparse) volume in the caller's project."""
    return {'volume': new_volume(caller, body.name, body.size_gb)}


def new_volume(caller, name, size_gb):
    caller.check('volume:create')
    volume_id = str(uuid.uuid4())
    path = os.path.join(os.path.abspath(CONF.api.volume_dir), volume_id)
    volume = deps.conductor().volume_create(
        caller.ctxt, volume_id=volume_id, name=name, size_gb=size_gb,
        path=path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'xb') as f:
            f.truncate(size_gb << 30)
    except OSError:
        deps.conductor().volume_delete(caller.ctxt, volume_id=volume_id)
        raise
    return volume


@router.get('/v1/volumes', response_model=schemas.Volumes)
def index(caller: deps.Caller = deps.CALLER,
          limit: int = Depends(paging.limit_param),
          marker: uuid.UUID | None = Query(None)):
    caller.check('volume:list')
    return paging.project_page(deps.conductor().volume_list, caller,
                               'volumes', limit, marker)


@router.get('/v1/volumes/{volume_id}', response_model=schemas.VolumeOut)
def show(volume_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'volume': fetch(caller, volume_id, 'volume:show')}


@router.delete('/v1/volumes/{volume_id}', status_code=204)
def delete(volume_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Delete an available volume and its file (409 while attached)."""
    remove(caller, volume_id)
    return Response(status_code=204)


def remove(caller, volume_id):
    volume = fetch(caller, volume_id, 'volume:delete')
    deps.conductor().volume_delete(caller.ctxt, volume_id=str(volume_id))
    try:
        os.unlink(volume['path'])
    except FileNotFoundError:
        pass


def attachment(caller, server_id, volume_id, action):
    """Attach (``attach_volume``) or detach one of the server's project's
    volumes through the agent; the instance."""
    inst = servers.fetch(caller, server_id,
                         user_actions.BY_NAME[action].rule)
    volume = fetch(caller, volume_id, 'volume:show')
    if volume['project_id'] != inst.project_id:
        raise exception.Conflict(what='Volume %s is of another project; '
                                 'an attachment' % volume_id)
    info = {'driver_volume_type': 'file', 'format': 'raw',
            'path': volume['path']} if action == 'attach_volume' else {}
    return deps.conductor().instance_action(
        caller.ctxt, ref=inst.uuid, action=action, volume_id=volume['id'],
        connection_info=info)


@router.post('/v1/servers/{server_id}/volumes', status_code=202,
             response_model=schemas.ServerOut)
def attach(server_id: uuid.UUID, body: schemas.Attachment,
           caller: deps.Caller = deps.CALLER):
    """Attach one of the project's volumes (the agent does it)."""
    return {'server': servers.server(attachment(
        caller, server_id, body.volume_id, 'attach_volume'))}


@router.delete('/v1/servers/{server_id}/volumes/{volume_id}',
               status_code=202, response_model=schemas.ServerOut)
def detach(server_id: uuid.UUID, volume_id: uuid.UUID,
           caller: deps.Caller = deps.CALLER):
    return {'server': servers.server(attachment(
        caller, server_id, volume_id, 'detach_volume'))}
