"""Floating IPs: netadmin allocates public addresses to the project and
points them at the project's instances (the agent NATs them)."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas

router = APIRouter(prefix='/v1/floating-ips', tags=['floating IPs'])


def view(fip):
    return {'id': fip.uuid, 'address': fip.address,
            'network': fip.network.name, 'project_id': fip.project_id,
            'server_id': fip.instance_uuid, 'port_id': fip.port_uuid,
            'fixed_ip': fip.fixed_ip}


def fetch(caller, fip_id, rule):
    fip = deps.conductor().floating_ip_show(caller.ctxt, ref=str(fip_id))
    caller.guard({'project_id': fip.project_id}, 'floating_ip:show', rule,
                 exception.FloatingIPNotFound(ref=fip_id))
    return fip


@router.get('', response_model=schemas.FloatingIPs)
def index(caller: deps.Caller = deps.CALLER,
          all_projects: bool = Query(False),
          limit: int = Depends(paging.limit_param),
          marker: str | None = Depends(paging.marker_param)):
    return paging.scoped_page(
        caller, 'floating_ip:list', deps.conductor().floating_ip_list, view,
        'floating_ips', all_projects, limit, marker)


@router.post('', status_code=201, response_model=schemas.FloatingIPOut)
def create(body: schemas.FloatingIPIn, caller: deps.Caller = deps.CALLER):
    """Allocate an address of an external network to the caller's
    project (floating_ips quota checked)."""
    caller.check('floating_ip:create')
    return {'floating_ip': view(deps.conductor().floating_ip_create(
        caller.ctxt, network=body.network))}


@router.get('/{fip_id}', response_model=schemas.FloatingIPOut)
def show(fip_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'floating_ip': view(fetch(caller, fip_id, 'floating_ip:show'))}


@router.put('/{fip_id}', response_model=schemas.FloatingIPOut)
def update(fip_id: uuid.UUID, body: schemas.FloatingIPUpdate,
           caller: deps.Caller = deps.CALLER):
    """Associate with one of the project's servers (``server_id``, and
    ``port_id`` for a server with several ports) or, with null,
    disassociate."""
    fetch(caller, fip_id, 'floating_ip:associate')
    conductor = deps.conductor()
    if body.server_id is None:
        fip = conductor.floating_ip_disassociate(caller.ctxt, ref=str(fip_id))
    else:
        fip = conductor.floating_ip_associate(
            caller.ctxt, ref=str(fip_id), instance_uuid=str(body.server_id),
            port=body.port_id and str(body.port_id))
    return {'floating_ip': view(fip)}


@router.delete('/{fip_id}', status_code=204)
def delete(fip_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Give the address back (disassociated first)."""
    fetch(caller, fip_id, 'floating_ip:delete')
    deps.conductor().floating_ip_delete(caller.ctxt, ref=str(fip_id))
    return Response(status_code=204)
