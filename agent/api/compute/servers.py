"""Servers, nova's way: ``POST /servers`` (202, the id), ``GET
/servers`` and ``/servers/detail`` (``all_tenants`` for admin and itsec,
``name``, ``status``, ``limit``, ``marker``), ``GET`` and ``DELETE
/servers/{id}`` (204). Their actions: server_actions.py, metadata:
server_metadata.py. Another project's server is 404 to whoever may not
read it."""
import uuid
from typing import Any

from fastapi import APIRouter
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
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.compute import schemas
from agent.api.compute import views
from agent.api.image import records as images

router = APIRouter(prefix=microversions.PREFIX + '/servers',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])


def _networks(networks):
    """(network names or ids, ports) of a create's ``networks``: each
    entry names a network (``uuid``) or one of the project's ports with
    no server (``port``: a fixed IP it holds, made with POST
    /network/v2.0/ports; the server's first NICs). "auto", "none" and
    absent: none named."""
    if not isinstance(networks, list):
        return [], []
    nets, ports = [], []
    for ref in networks:
        if ref.fixed_ip:
            raise exception.InvalidRPCPayload(
                'networks: a fixed_ip is reserved as a port first (POST '
                '/network/v2.0/ports with its fixed_ips), then booted on '
                'with {"port": id}')
        if bool(ref.uuid) == bool(ref.port):
            raise exception.InvalidRPCPayload(
                'networks: each names a network ("uuid") or a port')
        if ref.port:
            if not image_refs.UUID.match(ref.port):
                raise exception.PortNotFound(port=ref.port)
            ports.append(ref.port)
        else:
            nets.append(ref.uuid)
    return nets, ports


#: where this API's own links name an image (glance's, nova's bookmark)
IMAGE_LINKS = ('/image/v2/images/', '/compute/images/')


def _image(ref, base):
    """An image id, also given as this API's own link to it (``base``:
    its public URL); anything else as given (an http(s) URL under the
    operator's allowlist, a fake-driver label), for instances.boot and
    the conductor to check: a path, a file:// URL or another host's URL
    is refused there, whatever it ends with."""
    for prefix in IMAGE_LINKS:
        if ref.startswith(base + prefix):
            return image_refs.image_id(ref[len(base + prefix):]) or ref
    return ref


@router.post('', status_code=202)
def server_create(body: schemas.ServerCreate, request: Request,
                  caller: deps.Caller = deps.CALLER):
    """Boot a server in the caller's project (quota checked)."""
    caller.check('server:create')
    req = body.server
    groups = [g.name for g in req.security_groups]
    networks, ports = _networks(req.networks)
    image = _image(req.imageRef, service_catalog.base_url(request))
    # the kernel and ramdisk the image names (glance's properties), each
    # checked by boot() as the image is: one the caller may not read is 404
    ident = image_refs.image_id(image)
    shown = images.fetch(caller, ident, 'image:show') if ident else {}
    inst = instances.boot(
        caller, name=req.name,
        flavor=flavors.find(caller, req.flavorRef).name,
        image=image, kernel=shown.get('kernel_id'),
        ramdisk=shown.get('ramdisk_id'), networks=networks, fixed_ips=ports,
        security_groups=groups, metadata=req.metadata,
        key_name=req.key_name, user_data=req.user_data,
        config_drive=req.config_drive,
        availability_zone=req.availability_zone)
    # nova's answer: the id and links, no name (its schema has none)
    summary = views.server_summary(inst, service_catalog.base_url(request))
    return {'server': {
        'id': summary['id'], 'links': summary['links'],
        'OS-DCF:diskConfig': 'MANUAL',
        'security_groups': [{'name': g} for g in groups or ['default']]}}


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
    items = instances.instance_page(caller, q.all_tenants, q.limit, q.marker)
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
    inst = instances.fetch(caller, server_id, 'server:show')
    ports = deps.conductor().port_list(caller.ctxt, instance_uuid=inst.uuid)
    return {'server': views.server(inst, ports, service_catalog.base_url(request),
                                   caller.can('server:list:all_projects'))}


@router.delete('/{server_id}', status_code=204)
def server_delete(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    instances.act(caller, server_id, 'delete')
    return Response(status_code=204)
