"""Flavors (nova's ``/flavors``, ``/flavors/detail``, ``/flavors/{id}``).
A flavor's id is its number; a name is taken too where an id is
expected (the clients try the name as an id first)."""
from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Request

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import service_catalog
from agent.api.compute import microversions
from agent.api.compute import views

router = APIRouter(prefix=microversions.PREFIX, tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])


def find(caller, ref):
    """The flavor whose id, name or URL is ``ref``; 404 if none."""
    caller.check('flavor:list')
    ident = ref.rstrip('/').rsplit('/', 1)[-1]
    flavors = deps.conductor().flavor_list(caller.ctxt)
    for fl in flavors:
        if str(fl.id) == ident:
            return fl
    for fl in flavors:
        if fl.name == ref:
            return fl
    raise exception.FlavorNotFound(flavor=ref)


def _list(request, caller, limit, marker, detail, min_ram, min_disk):
    caller.check('flavor:list')
    base = service_catalog.base_url(request)
    items = [views.flavor(fl, base, detail)
             for fl in deps.conductor().flavor_list(caller.ctxt)
             if fl.memory_mb >= min_ram and fl.root_gb >= min_disk]
    items, nxt = paging.page(items, limit, marker, lambda f: f['id'])
    return paging.nova_page(request, 'flavors', items, nxt)


#: nova's filters: flavors with at least this much RAM (MiB), disk (GiB)
MIN_RAM = Query(0, alias='minRam', ge=0, le=2**31)
MIN_DISK = Query(0, alias='minDisk', ge=0, le=2**31)


@router.get('/flavors')
def flavor_list(request: Request, caller: deps.Caller = deps.CALLER,
                limit: int = Depends(paging.limit_param),
                marker: str | None = Depends(paging.marker_param),
                min_ram: int = MIN_RAM, min_disk: int = MIN_DISK):
    return _list(request, caller, limit, marker, False, min_ram, min_disk)


@router.get('/flavors/detail')
def flavor_detail(request: Request, caller: deps.Caller = deps.CALLER,
                  limit: int = Depends(paging.limit_param),
                  marker: str | None = Depends(paging.marker_param),
                  min_ram: int = MIN_RAM, min_disk: int = MIN_DISK):
    return _list(request, caller, limit, marker, True, min_ram, min_disk)


@router.get('/flavors/{flavor_id}')
def flavor_show(flavor_id: str, request: Request,
                caller: deps.Caller = deps.CALLER):
    base = service_catalog.base_url(request)
    return {'flavor': views.flavor(find(caller, flavor_id), base)}
