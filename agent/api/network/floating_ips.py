"""Floating IPs in neutron's shapes, under ``/network/v2.0/floatingips``:
list (filters), show, create (an address of an external network, the
first free one, floating_ips quota), update (``port_id``: point it at a
port of one of the project's servers, or null), delete. A project's
netadmin allocates and points them; its other users read them; another
project's is 404. hvagent has no routers: ``router_id`` is null and the agent of
the port's host NATs the address."""
import uuid

from fastapi import APIRouter
from fastapi import Request
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api.network.networks import PREFIX
from agent.api.network.networks import Limit
from agent.api.network.networks import Marker
from agent.api.network.networks import listed
from agent.api.network.networks import own_project
from agent.api.schemas import Strict

router = APIRouter(prefix=PREFIX + '/floatingips', tags=['network'])


class Pointing(Strict):
    port_id: uuid.UUID | None = None
    fixed_ip_address: str | None = Field(None, max_length=64)
    description: str = Field('', max_length=0, description='not kept yet')


class FloatingIPFields(Pointing):
    floating_network_id: uuid.UUID
    floating_ip_address: None = Field(None, description='not supported: '
                                      'the first free address is given')
    subnet_id: None = None
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class FloatingIPCreate(Strict):
    floatingip: FloatingIPFields


class FloatingIPUpdate(Strict):
    floatingip: Pointing


def fetch(caller, fip_id, rule):
    """The floating IP, if the caller may see it and then apply
    ``rule``; another project's is 404."""
    fip = deps.conductor().floating_ip_show(caller.ctxt, ref=str(fip_id))
    caller.guard({'project_id': fip.project_id}, 'floating_ip:show', rule,
                 exception.FloatingIPNotFound(ref=fip_id))
    return fip


def view(fip):
    return {'id': fip.uuid, 'floating_ip_address': fip.address,
            'floating_network_id': fip.network.uuid, 'router_id': None,
            'port_id': fip.port_uuid, 'fixed_ip_address': fip.fixed_ip,
            'status': 'ACTIVE' if fip.port_uuid else 'DOWN',
            'port_details': None, 'dns_domain': '', 'dns_name': '',
            'qos_policy_id': None, 'project_id': fip.project_id,
            'tenant_id': fip.project_id, 'description': '', 'tags': [],
            'revision_number': 0}


def _point(caller, fip_id, pointing):
    """Associate with the port ``pointing`` names (one of the caller's
    project's; its fixed IP if one is named), or disassociate."""
    conductor = deps.conductor()
    if pointing.port_id is None:
        return conductor.floating_ip_disassociate(caller.ctxt,
                                                  ref=str(fip_id))
    ports = [p for p in conductor.port_list(caller.ctxt)
             if p.uuid == str(pointing.port_id)]
    if not ports or not ports[0].instance_uuid:
        raise exception.PortNotFound(port=pointing.port_id)
    if pointing.fixed_ip_address not in (None, ports[0].ip_address):
        raise exception.InvalidRPCPayload(
            'port %s has no fixed IP %s' % (pointing.port_id,
                                            pointing.fixed_ip_address))
    return conductor.floating_ip_associate(
        caller.ctxt, ref=str(fip_id), instance_uuid=ports[0].instance_uuid,
        port=ports[0].uuid)


@router.get('')
def fip_list(request: Request, caller: deps.Caller = deps.CALLER,
             limit: int = Limit, marker: str | None = Marker):
    """The caller's project's (every project's for admin and itsec)."""
    wide = caller.can('floating_ip:list:all_projects')
    return listed(request, 'floatingips', [
        view(f) for f in deps.conductor().floating_ip_list(
            caller.ctxt, project_id=None if wide else caller.project_id)],
        limit, marker)


@router.get('/{fip_id}')
def fip_show(fip_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'floatingip': view(fetch(caller, fip_id, 'floating_ip:show'))}


@router.post('', status_code=201)
def fip_create(body: FloatingIPCreate, caller: deps.Caller = deps.CALLER):
    fields = body.floatingip
    own_project(caller, fields)
    caller.check('floating_ip:create')
    fip = deps.conductor().floating_ip_create(
        caller.ctxt, network=str(fields.floating_network_id))
    if fields.port_id is not None:
        fip = _point(caller, fip.uuid, fields)
    return {'floatingip': view(fip)}


@router.put('/{fip_id}')
def fip_update(fip_id: uuid.UUID, body: FloatingIPUpdate,
               caller: deps.Caller = deps.CALLER):
    fetch(caller, fip_id, 'floating_ip:associate')
    return {'floatingip': view(_point(caller, fip_id, body.floatingip))}


@router.delete('/{fip_id}', status_code=204)
def fip_delete(fip_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Give the address back (disassociated first)."""
    fetch(caller, fip_id, 'floating_ip:delete')
    deps.conductor().floating_ip_delete(caller.ctxt, ref=str(fip_id))
    return Response(status_code=204)
