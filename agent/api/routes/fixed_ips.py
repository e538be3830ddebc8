"""Fixed IP reservations: netadmin holds addresses of a network for the
project (a chosen one or the first free); a boot of the project names a
reservation to get its address (``"fixed_ips": [id]``), and gets it back
when the server goes. The fixed_ips quota counts each reservation once."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas

router = APIRouter(prefix='/v1/fixed-ips', tags=['fixed IPs'])


def view(port):
    return {'id': port.uuid, 'address': port.ip_address,
            'network': port.network.name, 'project_id': port.project_id,
            'mac_address': port.mac_address,
            'server_id': port.instance_uuid}


def fetch(caller, fixed_id, rule):
    port = deps.conductor().fixed_ip_show(caller.ctxt, ref=str(fixed_id))
    caller.guard({'project_id': port.project_id}, 'fixed_ip:show', rule,
                 exception.FixedIPNotFound(ref=fixed_id))
    return port


@router.get('', response_model=schemas.FixedIPs)
def index(caller: deps.Caller = deps.CALLER,
          all_projects: bool = Query(False),
          limit: int = Depends(paging.limit_param),
          marker: str | None = Depends(paging.marker_param)):
    return paging.scoped_page(
        caller, 'fixed_ip:list', deps.conductor().fixed_ip_list, view,
        'fixed_ips', all_projects, limit, marker)


@router.post('', status_code=201, response_model=schemas.FixedIPOut)
def create(body: schemas.FixedIPIn, caller: deps.Caller = deps.CALLER):
    """Reserve ``address`` (default: the first free one) of ``network``
    for the caller's project (fixed_ips quota checked)."""
    caller.check('fixed_ip:create')
    return {'fixed_ip': view(deps.conductor().fixed_ip_create(
        caller.ctxt, network=body.network,
        address=body.address and str(body.address)))}


@router.get('/{fixed_id}', response_model=schemas.FixedIPOut)
def show(fixed_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'fixed_ip': view(fetch(caller, fixed_id, 'fixed_ip:show'))}


@router.delete('/{fixed_id}', status_code=204)
def delete(fixed_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Free the address (refused while a server holds it)."""
    fetch(caller, fixed_id, 'fixed_ip:delete')
    deps.conductor().fixed_ip_delete(caller.ctxt, ref=str(fixed_id))
    return Response(status_code=204)
