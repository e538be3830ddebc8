"""Instances: boot, list, show, lifecycle actions, actions log, metadata,
console. Another project's instance is 404 to whoever may not read it."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Query

from agent import exception
from agent import image_refs
from agent.api import action_schemas
from agent.api import deps
from agent.api import paging
from agent.api import schemas
from agent.api.routes import images
from agent.objects import actions as user_actions

router = APIRouter(prefix='/v1/servers', tags=['servers'])


def server(inst):
    return {'id': inst.uuid, 'name': inst.name, 'status': inst.vm_state,
            'task_state': inst.task_state, 'power_state': inst.power_state,
            'host': inst.host, 'flavor': inst.flavor.name,
            'image': inst.image_ref,
            'project_id': inst.project_id,
            'user_id': inst.user_id, 'key_name': inst.key_name,
            'metadata': inst.metadata, 'networks': inst.networks,
            'volumes': [b.volume_id for b in inst.block_devices],
            'isolated': inst.isolated,
            'fault': inst.fault and inst.fault.message,
            'created_at': inst.created_at, 'launched_at': inst.launched_at}


def fetch(caller, server_id, rule):
    """The instance, if the caller may read it and then apply ``rule``."""
    inst = deps.conductor().instance_show(caller.ctxt, ref=str(server_id))
    caller.guard({'project_id': inst.project_id, 'user_id': inst.user_id},
                 'server:show', rule,
                 exception.InstanceNotFound(instance=server_id))
    return inst


@router.post('', status_code=202, response_model=schemas.ServerOut)
def create(body: schemas.ServerCreate, caller: deps.Caller = deps.CALLER):
    """Boot an instance in the caller's project (quota checked)."""
    req = body.server
    return {'server': server(boot(
        caller, name=req.name, flavor=req.flavor, image=req.image,
        kernel=req.kernel, ramdisk=req.ramdisk, networks=req.networks,
        fixed_ips=[str(i) for i in req.fixed_ips],
        security_groups=req.security_groups, metadata=req.metadata,
        key_name=req.key_name, user_data=req.user_data,
        config_drive=req.config_drive, availability_zone=None))}


def boot(caller, *, name, flavor, image, kernel, ramdisk, networks,
         fixed_ips, security_groups, metadata, key_name, user_data,
         config_drive, availability_zone):
    """Boot an instance in the caller's project (quota checked by the
    conductor): the images checked here, the key pair's public key put
    on a config drive."""
    caller.check('server:create')
    image, kernel, ramdisk = (image_ref(caller, ref) for ref in (
        image, kernel, ramdisk))
    options = {'config_drive': config_drive, 'kernel_ref': kernel,
               'ramdisk_ref': ramdisk}
    if user_data is not None:
        options['user_data'] = user_data
    if key_name:
        key = deps.conductor().keypair_show(
            caller.ctxt, user_id=caller.user_id, name=key_name)
        options.update(key_name=key_name, key_data=key['public_key'],
                       config_drive=True)
    return deps.conductor().boot_instance(
        caller.ctxt, name=name, flavor=flavor, image_ref=image,
        availability_zone=availability_zone,
        hints={'same_host': [], 'different_host': []}, metadata=metadata,
        networks=networks, options=options, fixed_ips=fixed_ips,
        security_groups=security_groups)


def image_ref(caller, ref):
    """An image id the caller may show (404 otherwise, 409 before its
    data), as its canonical id; anything else goes to the conductor,
    which refuses what no host may fetch (image_refs.classify)."""
    if ref and image_refs.image_id(ref):
        return images.active(images.fetch(caller, image_refs.image_id(ref),
                                          'image:show'))['id']
    return ref


@router.get('', response_model=schemas.Servers)
def index(caller: deps.Caller = deps.CALLER,
          all_projects: bool = Query(False, description='admin and itsec: '
                                     'every project'),
          limit: int = Depends(paging.limit_param),
          marker: uuid.UUID | None = Query(None)):
    items = instance_page(caller, all_projects, limit, marker)
    return {'servers': [server(i) for i in items],
            'next_marker': paging.next_marker(items, limit,
                                              lambda i: i.uuid)}


def instance_page(caller, all_projects, limit, marker):
    """A page of the caller's project's instances (every project's:
    admin and itsec)."""
    caller.check('server:list')
    project = caller.project_id
    if all_projects:
        caller.check('server:list:all_projects')
        project = None
    return deps.conductor().instance_page(
        caller.ctxt, project_id=project, user_id=None, limit=limit,
        marker=marker and str(marker))


@router.get('/{server_id}', response_model=schemas.ServerOut)
def show(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'server': server(fetch(caller, server_id, 'server:show'))}


def act(caller, server_id, action):
    inst = fetch(caller, server_id, user_actions.BY_NAME[action].rule)
    return {'server': server(deps.conductor().instance_action(
        caller.ctxt, ref=inst.uuid, action=action, volume_id=None,
        connection_info={}))}


@router.delete('/{server_id}', status_code=202,
               response_model=schemas.ServerOut)
def delete(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return act(caller, server_id, 'delete')


@router.post('/{server_id}/action', status_code=202,
             response_model=schemas.ServerOut | action_schemas.MigrationOut)
def action(server_id: uuid.UUID, body: action_schemas.ServerAction,
           caller: deps.Caller = deps.CALLER):
    """``{"action": NAME}``: start, stop, reboot, reboot_hard, pause,
    unpause; isolate (pause and cut every port off the network) and
    release, itsec's. ``{"os-migrateLive": {"host", "block_migration"}}``
    (admins): move the running guest to another host; the answer is the
    migration (GET /servers/{id}/migrations follows it).
    ``{"resize": {"flavorRef"}}`` (the instance's owner or project
    manager): to another host with another flavor, stopped on the way;
    ``{"migrate": null}`` (admins): the same with the same flavor; then
    ``{"confirmResize": null}`` or ``{"revertResize": null}``; the answer
    is the migration."""
    if isinstance(body, action_schemas.Action):
        return act(caller, server_id, body.action)
    if isinstance(body, action_schemas.LiveMigrateAction):
        caller.check('server:migrate_live')
        inst = fetch(caller, server_id, 'server:migrate_live')
        req = body.os_migrate_live
        return _migration(deps.conductor().live_migrate(
            caller.ctxt, ref=inst.uuid, host=req.host, block_migration=None
            if req.block_migration == 'auto' else req.block_migration))
    return _resize_action(caller, server_id, body)


def _migration(mig):
    return {'migration': action_schemas.Migration.of(mig)}


def _resize_action(caller, server_id, body):
    """resize, migrate, confirmResize, revertResize: the migration."""
    conductor = deps.conductor()
    if isinstance(body, action_schemas.MigrateAction):
        caller.check('server:migrate')
        inst = fetch(caller, server_id, 'server:migrate')
        return _migration(conductor.migrate(
            caller.ctxt, ref=inst.uuid,
            host=body.migrate and body.migrate.host))
    if isinstance(body, action_schemas.ResizeAction):
        inst = fetch(caller, server_id, 'server:resize')
        return _migration(conductor.resize(
            caller.ctxt, ref=inst.uuid, flavor=body.resize.flavorRef))
    if isinstance(body, action_schemas.ConfirmResizeAction):
        inst = fetch(caller, server_id, 'server:confirm_resize')
        return _migration(conductor.resize_confirm(caller.ctxt,
                                                   ref=inst.uuid))
    inst = fetch(caller, server_id, 'server:revert_resize')
    return _migration(conductor.resize_revert(caller.ctxt, ref=inst.uuid))


@router.get('/{server_id}/actions', response_model=schemas.Actions)
def actions(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER,
            limit: int = Depends(paging.limit_param),
            marker: str | None = Depends(paging.marker_param)):
    """Every request made on the instance: who, what, when, result
    (marker: a request_id)."""
    inst = fetch(caller, server_id, 'server:actions')
    items, nxt = paging.page(
        [a.as_dict() for a in deps.conductor().action_list(
            caller.ctxt, ref=inst.uuid)], limit, marker,
        lambda a: a['request_id'])
    return {'actions': items, 'next_marker': nxt}


@router.get('/{server_id}/metadata', response_model=schemas.Metadata)
def metadata(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'metadata': fetch(caller, server_id, 'server:show').metadata}


@router.put('/{server_id}/metadata/{key}', response_model=schemas.Metadata)
def metadata_set(server_id: uuid.UUID, body: schemas.MetaValue,
                 key: str = Path(min_length=1, max_length=255),
                 caller: deps.Caller = deps.CALLER):
    inst = fetch(caller, server_id, 'server:metadata:set')
    return {'metadata': deps.conductor().metadata_set(
        caller.ctxt, instance_uuid=inst.uuid, key=key, value=body.value)}


@router.delete('/{server_id}/metadata/{key}', response_model=schemas.Metadata)
def metadata_delete(server_id: uuid.UUID,
                    key: str = Path(min_length=1, max_length=255),
                    caller: deps.Caller = deps.CALLER):
    inst = fetch(caller, server_id, 'server:metadata:set')
    return {'metadata': deps.conductor().metadata_set(
        caller.ctxt, instance_uuid=inst.uuid, key=key, value=None)}


@router.get('/{server_id}/console', response_model=schemas.Console)
def console(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER,
            length: int | None = Query(None, ge=1, le=10000)):
    inst = fetch(caller, server_id, 'server:console')
    return {'output': deps.conductor().console_output(
        caller.ctxt, ref=inst.uuid, length=length)}
