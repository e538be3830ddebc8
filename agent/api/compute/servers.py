"""Servers, nova's way: ``POST /servers`` (202, the id), ``GET
/servers`` and ``/servers/detail`` (``all_tenants`` for admin and itsec,
``name``, ``status``, ``limit``, ``marker``), ``GET`` and ``DELETE
/servers/{id}`` (204), and ``POST /servers/{id}/action`` with
``os-start``, ``os-stop``, ``reboot`` (SOFT or HARD), ``pause``,
``unpause`` (202) and ``os-getConsoleOutput`` (200, the log). Another
project's server is 404 to whoever may not read it."""
import uuid
from typing import Any

import pydantic
from fastapi import APIRouter
from fastapi import Body
from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi import Response

from agent import exception
from agent import image_refs
from agent.api import deps
from agent.api import paging
from agent.api import service_catalog
from agent.api.compute import flavors
from agent.api.compute import microversions
from agent.api.compute import schemas
from agent.api.compute import views
from agent.api.routes import images
from agent.api.routes import servers as native
from agent.objects import actions as user_actions

router = APIRouter(prefix=microversions.PREFIX + '/servers',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
#: a server action's key, the instance action it is and its body's model
ACTIONS = {'os-start': ('start', None), 'os-stop': ('stop', None),
           'pause': ('pause', None), 'unpause': ('unpause', None),
           'reboot': (None, schemas.Reboot),
           'os-getConsoleOutput': (None, schemas.ConsoleOutput)}



def _networks(networks):
    """Network names or ids of a create's ``networks`` ("auto", "none"
    and absent: none named)."""
    if not isinstance(networks, list):
        return []
    out = []
    for ref in networks:
        if ref.port or ref.fixed_ip:
            raise exception.InvalidRPCPayload(
                'networks: booting on a given port or fixed_ip is not '
                'supported yet; name the network ("uuid")')
        if not ref.uuid:
            raise exception.InvalidRPCPayload('networks: each needs "uuid"')
        out.append(ref.uuid)
    return out


@router.post('', status_code=202)
def server_create(body: schemas.ServerCreate, request: Request,
                  caller: deps.Caller = deps.CALLER):
    """Boot a server in the caller's project (quota checked)."""
    caller.check('server:create')
    req = body.server
    groups = [g.name for g in req.security_groups]
    image = req.imageRef.rstrip('/').rsplit('/', 1)[-1]
    # the kernel and ramdisk the image names (glance's properties), each
    # checked by boot() as the image is: one the caller may not read is 404
    ident = image_refs.image_id(image)
    shown = images.fetch(caller, ident, 'image:show') if ident else {}
    inst = native.boot(
        caller, name=req.name,
        flavor=flavors.find(caller, req.flavorRef).name,
        image=image, kernel=shown.get('kernel_id'),
        ramdisk=shown.get('ramdisk_id'), networks=_networks(req.networks), fixed_ips=[],
        security_groups=groups, metadata=req.metadata,
        key_name=req.key_name, user_data=req.user_data,
        config_drive=req.config_drive,
        availability_zone=req.availability_zone)
    return {'server': dict(
        views.server_summary(inst, service_catalog.base_url(request)),
        **{'OS-DCF:diskConfig': 'MANUAL',
           'security_groups': [{'name': g} for g in groups or ['default']]})}


def _ports_by_instance(caller):
    by_instance: dict[str, list[Any]] = {}
    for port in deps.conductor().port_list(caller.ctxt):
        if port.instance_uuid:
            by_instance.setdefault(port.instance_uuid, []).append(port)
    return by_instance


class ListQuery:
    """The query of a server list: ``all_tenants`` (admin and itsec),
    ``name`` (contained), ``status`` (nova's), ``limit``, ``marker``."""

    def __init__(self, all_tenants: bool = Query(
            False, description="admin and itsec: every project's"),
            name: str | None = Query(None, max_length=255,
                                     description='servers whose name '
                                     'contains this'),
            status: str | None = Query(None, max_length=32,
                                       description="nova's status, e.g. "
                                       'ACTIVE'),
            limit: int = Depends(paging.limit_param),
            marker: uuid.UUID | None = Query(None)):
        self.all_tenants, self.name, self.status = all_tenants, name, status
        self.limit, self.marker = limit, marker


def _page(request, caller, q, detail):
    items = native.instance_page(caller, q.all_tenants, q.limit, q.marker)
    nxt = paging.next_marker(items, q.limit, lambda i: i.uuid)
    items = [i for i in items
             if (q.name is None or q.name in i.name) and
             (q.status is None or
              views.status(i.vm_state, i.task_state) == q.status.upper())]
    base = service_catalog.base_url(request)
    if detail:
        ports = _ports_by_instance(caller)
        admin = caller.can('server:list:all_projects')
        shown = [views.server(i, ports.get(i.uuid, []), base, admin)
                 for i in items]
    else:
        shown = [views.server_summary(i, base) for i in items]
    return paging.nova_page(request, 'servers', shown, nxt)


@router.get('')
def server_list(request: Request, caller: deps.Caller = deps.CALLER,
                q: ListQuery = Depends()):
    return _page(request, caller, q, detail=False)


@router.get('/detail')
def server_detail(request: Request, caller: deps.Caller = deps.CALLER,
                  q: ListQuery = Depends()):
    return _page(request, caller, q, detail=True)


@router.get('/{server_id}')
def server_show(server_id: uuid.UUID, request: Request,
                caller: deps.Caller = deps.CALLER):
    inst = native.fetch(caller, server_id, 'server:show')
    ports = deps.conductor().port_list(caller.ctxt, instance_uuid=inst.uuid)
    return {'server': views.server(inst, ports, service_catalog.base_url(request),
                                   caller.can('server:list:all_projects'))}


@router.delete('/{server_id}', status_code=204)
def server_delete(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    native.act(caller, server_id, 'delete')
    return Response(status_code=204)


@router.post('/{server_id}/action')
def server_action(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER,
                  body: dict[str, Any] = Body(
                      description='one of {"os-start": null}, {"os-stop": '
                      'null}, {"reboot": {"type": "SOFT"|"HARD"}}, '
                      '{"pause": null}, {"unpause": null}, '
                      '{"os-getConsoleOutput": {"length": N}}')):
    if len(body) != 1 or next(iter(body)) not in ACTIONS:
        raise exception.InvalidRPCPayload(
            'a server action is one of %s; got %s' % (
                ', '.join(ACTIONS), ', '.join(map(str, body))[:200] or
                'nothing'))
    (key, payload), = body.items()
    action, model = ACTIONS[key]
    try:
        args = model.model_validate(payload or {}) if model else None
    except pydantic.ValidationError as e:
        raise exception.InvalidRPCPayload('%s: %s' % (key, '; '.join(
            err['msg'] for err in e.errors()))) from None
    if key == 'os-getConsoleOutput':
        inst = native.fetch(caller, server_id, 'server:console')
        return {'output': deps.conductor().console_output(
            caller.ctxt, ref=inst.uuid, length=args.length)}
    if key == 'reboot':
        action = 'reboot_hard' if args.type.upper() == 'HARD' else 'reboot'
    assert action in user_actions.BY_NAME
    native.act(caller, server_id, action)
    return Response(status_code=202)
