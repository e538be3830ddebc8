"""nova's ``POST /servers/{id}/action``: a body of one key, the action.

* lifecycle (202, no body): ``os-start``, ``os-stop``, ``reboot``
  (``{"type": "SOFT"|"HARD"}``), ``pause``, ``unpause``, ``suspend``,
  ``resume`` (its memory saved to the host's disk), and hvagent's
  own ``isolate`` and ``release`` (itsec's quarantine: the guest paused,
  its ports cut off the network);
* ``os-getConsoleOutput`` (200, ``{"output"}``); ``os-getSerialConsole``
  and ``os-getVNCConsole`` (200, ``{"console"}``, remote_consoles.py);
* security groups (202): ``addSecurityGroup``, ``removeSecurityGroup``
  (``{"name": group name or id}``, one of the server's project);
* ``rebuild`` (``{"imageRef"}``; 202, ``{"server"}``): a fresh root disk
  from that image for the same server (agent.compute.rebuild);
* ``createImage`` (``{"name"}``; 202, no body, the new image's URL in
  ``Location`` as nova answers before 2.45): the server's root disk into
  a new image of the caller's project (agent.conductor.snapshots);
  ``rescue`` (``{"rescue_image_ref"}`` or null/{}: its own image; 200,
  ``{}``) and ``unrescue`` (202; agent.compute.rescue);
* moves (202, ``{"migration"}``, which GET /servers/{id}/migrations
  follows; nova answers with no body): ``os-migrateLive`` and
  ``migrate`` (admins), ``resize`` (``{"flavorRef"}``), then
  ``confirmResize`` or ``revertResize``.

Each is checked by the same policy rule as everywhere (the action's, see
agent.objects.actions); another project's server is 404.
"""
import uuid
from collections.abc import Callable
from typing import Any

import pydantic
from fastapi import APIRouter
from fastapi import Body
from fastapi import Depends
from fastapi import Request
from fastapi import Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from agent import exception
from agent.api import action_schemas
from agent.api import deps
from agent.api import service_catalog
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.compute import remote_consoles
from agent.api.compute import schemas
from agent.api.compute import views
from agent.api.image import images as image_api

router = APIRouter(prefix=microversions.PREFIX + '/servers',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
#: actions that are one of agent.objects.actions, by their body's key
LIFECYCLE = {'os-start': 'start', 'os-stop': 'stop', 'pause': 'pause',
             'unpause': 'unpause', 'suspend': 'suspend', 'resume': 'resume',
             'unrescue': 'unrescue', 'isolate': 'isolate',
             'release': 'release'}
ACCEPTED = Response(status_code=202)


def _lifecycle(caller, server_id, key, _args):
    instances.act(caller, server_id, LIFECYCLE[key])
    return ACCEPTED


def _reboot(caller, server_id, _key, args):
    instances.act(caller, server_id,
                  'reboot_hard' if args.type.upper() == 'HARD' else 'reboot')
    return ACCEPTED


def _console(caller, server_id, _key, args):
    inst = instances.fetch(caller, server_id, 'server:console')
    return {'output': deps.conductor().console_output(
        caller.ctxt, ref=inst.uuid, length=args.length)}


def _group(caller, server_id, key, args):
    """The server's ports join or leave a group of its project (its host
    gets the rules at once); 404 for another project's group."""
    conductor = deps.conductor()
    if key == 'addSecurityGroup':
        inst = instances.fetch(caller, server_id, 'server:secgroup_add')
        conductor.server_secgroup_add(caller.ctxt, instance_uuid=inst.uuid,
                                      group=args.name)
        return ACCEPTED
    inst = instances.fetch(caller, server_id, 'server:secgroup_remove')
    groups = [g for g in conductor.secgroup_list(caller.ctxt)
              if args.name in (g.uuid, g.name) and
              g.project_id == inst.project_id]
    if not groups:
        raise exception.SecurityGroupNotFound(group=args.name)
    conductor.server_secgroup_remove(caller.ctxt, instance_uuid=inst.uuid,
                                     group=groups[0].uuid)
    return ACCEPTED


def _migration(mig):
    return {'migration': action_schemas.Migration.of(mig)}


def _live_migrate(caller, server_id, _key, args):
    caller.check('server:migrate_live')
    inst = instances.fetch(caller, server_id, 'server:migrate_live')
    return _migration(deps.conductor().live_migrate(
        caller.ctxt, ref=inst.uuid, host=args.host, block_migration=None
        if args.block_migration == 'auto' else args.block_migration))


def _migrate(caller, server_id, _key, args):
    caller.check('server:migrate')
    inst = instances.fetch(caller, server_id, 'server:migrate')
    return _migration(deps.conductor().migrate(
        caller.ctxt, ref=inst.uuid, host=args and args.host))


def _resize(caller, server_id, _key, args):
    inst = instances.fetch(caller, server_id, 'server:resize')
    return _migration(deps.conductor().resize(
        caller.ctxt, ref=inst.uuid, flavor=args.flavorRef))


class Rebuilt:
    """A rebuild's answer: the server, rendered by server_action (202,
    ``{"server"}``, as nova answers)."""

    def __init__(self, inst):
        self.inst = inst


def _rebuild(caller, server_id, _key, args):
    inst = instances.fetch(caller, server_id, 'server:rebuild')
    return Rebuilt(instances.rebuild(caller, inst, args.imageRef))


def _rescue(caller, server_id, _key, args):
    inst = instances.fetch(caller, server_id, 'server:rescue')
    instances.rescue(caller, inst, args.rescue_image_ref)
    return {}           # nova's answer without instance passwords


class ImageCreated:
    """A snapshot's answer: 202 with the image's URL (server_action)."""

    def __init__(self, image_id):
        self.image_id = image_id


def _create_image(caller, server_id, _key, args):
    inst = instances.fetch(caller, server_id, 'server:create_image')
    caller.check('image:create')
    return ImageCreated(deps.conductor().instance_snapshot(
        caller.ctxt, ref=inst.uuid, name=args.name)['id'])


def _resize_end(caller, server_id, key, _args):
    conductor = deps.conductor()
    if key == 'confirmResize':
        inst = instances.fetch(caller, server_id, 'server:confirm_resize')
        return _migration(conductor.resize_confirm(caller.ctxt,
                                                   ref=inst.uuid))
    inst = instances.fetch(caller, server_id, 'server:revert_resize')
    return _migration(conductor.resize_revert(caller.ctxt, ref=inst.uuid))


Handler = Callable[[Any, uuid.UUID, str, Any], Any]
#: body key -> (the model of its value, or None: it must be null; handler)
ACTIONS: dict[str, tuple[Any, Handler]] = {
    **{key: (None, _lifecycle) for key in LIFECYCLE},
    'reboot': (schemas.Reboot, _reboot),
    'os-getConsoleOutput': (schemas.ConsoleOutput, _console),
    'os-getSerialConsole': (remote_consoles.SerialConsole,
                            remote_consoles.action),
    'os-getVNCConsole': (remote_consoles.VNCConsole, remote_consoles.action),
    'addSecurityGroup': (schemas.SecurityGroupRef, _group),
    'removeSecurityGroup': (schemas.SecurityGroupRef, _group),
    'os-migrateLive': (action_schemas.LiveMigrate, _live_migrate),
    'migrate': (action_schemas.ColdMigrate | None, _migrate),
    'resize': (action_schemas.FlavorRef, _resize),
    'rebuild': (action_schemas.Rebuild, _rebuild),
    'rescue': (action_schemas.Rescue, _rescue),
    'createImage': (action_schemas.CreateImage, _create_image),
    'confirmResize': (None, _resize_end),
    'revertResize': (None, _resize_end),
}
#: what a null or empty value stands for, for the models that allow it
_DEFAULTS = (schemas.Reboot, schemas.ConsoleOutput, action_schemas.Rescue)


def parse(body: Any) -> tuple[str, Any]:
    """(the action's key, its arguments as its model) of a body; 400
    (InvalidRPCPayload) for anything but one known key with a valid
    value."""
    if not isinstance(body, dict) or len(body) != 1 or \
            next(iter(body)) not in ACTIONS:
        raise exception.InvalidRPCPayload(
            'a server action is one key, one of %s; got %s' % (
                ', '.join(ACTIONS), ', '.join(map(str, body or ()))[:200]
                or 'nothing'))
    (key, value), = body.items()
    return key, _arguments(key, value)


def _arguments(key, value):
    model, _ = ACTIONS[key]
    if model is None:
        # null (the clients) or {} (Tempest), as nova takes either
        if value not in (None, {}):
            raise exception.InvalidRPCPayload('%s takes null or {}' % key)
        return None
    if value is None and model in _DEFAULTS:
        value = {}
    try:
        return pydantic.TypeAdapter(model).validate_python(value)
    except pydantic.ValidationError as e:
        raise exception.InvalidRPCPayload('; '.join(
            '%s: %s' % ('.'.join(map(str, (key,) + tuple(err['loc']))),
                        err['msg']) for err in e.errors())[:500]) from None


@router.post('/{server_id}/action',
             responses={200: {'description': 'os-getConsoleOutput: '
                              '{"output"}; os-getSerialConsole, '
                              'os-getVNCConsole: {"console"}'},
                        202: {'description': 'accepted; the moves answer '
                              '{"migration"}'}})
def server_action(server_id: uuid.UUID, request: Request,
                  caller: deps.Caller = deps.CALLER,
                  body: dict[str, Any] = Body(
                      description='one key, the action: ' + ', '.join(
                          ACTIONS) + ' (see this module)')):
    key, args = parse(body)
    answer = ACTIONS[key][1](caller, server_id, key, args)
    if isinstance(answer, ImageCreated):
        return Response(status_code=202, headers={
            'Location': '%s%s/images/%s' % (service_catalog.base_url(request),
                                            image_api.PREFIX,
                                            answer.image_id)})
    if isinstance(answer, Rebuilt):
        ports = deps.conductor().port_list(caller.ctxt,
                                           instance_uuid=answer.inst.uuid)
        answer = {'server': views.server(
            answer.inst, ports, service_catalog.base_url(request),
            caller.can('server:list:all_projects'))}
    if isinstance(answer, dict) and answer.keys() & {'migration', 'server'}:
        return JSONResponse(jsonable_encoder(answer), status_code=202)
    return answer
