"""A server's NICs, nova's ``os-interface`` (2.1): plug a new port on a
network the caller may use into the running server (``openstack server
add network``), list and show its ports, take one out (``server remove
network``/``port``; the port is deleted, its address freed). The agent
does the plugging (agent.compute.interfaces); the server's task is
``attaching_interface``/``detaching_interface`` meanwhile.

Not taken (400): attaching an existing port (``port_id``) or asking for
an address (``fixed_ips``): a reserved address is lent at boot
(``networks: [{"port": ...}]``)."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response
from pydantic import Field

from agent import context
from agent import exception
from agent.api import deps
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.schemas import Strict

router = APIRouter(
    prefix=microversions.PREFIX + '/servers/{server_id}/os-interface',
    tags=['compute'], dependencies=[Depends(microversions.negotiate)])


class InterfaceFields(Strict):
    net_id: uuid.UUID | None = Field(None, description='the network of the '
                                     'new port (required)')
    port_id: uuid.UUID | None = Field(None, description='not taken: '
                                      'ports are made here')
    fixed_ips: list[dict] | None = Field(None, max_length=1,
                                         description='not taken')


class InterfaceCreate(Strict):
    interfaceAttachment: InterfaceFields


def view(port):
    return {'port_id': port.uuid, 'net_id': port.network.uuid,
            'mac_addr': port.mac_address, 'port_state': port.status,
            'fixed_ips': [{'subnet_id': port.network.subnet_id,
                           'ip_address': port.ip_address}]}


def _ports(caller, inst):
    """The server's ports, for a caller who may show the server (itsec
    and admin too, whatever their own project: the conductor lists ports
    of the context's project, here the server's)."""
    ctxt = context.RequestContext(
        request_id=caller.ctxt.request_id, user_id=caller.user_id,
        project_id=inst.project_id, via_api=True)
    return deps.conductor().port_list(ctxt, instance_uuid=inst.uuid)


@router.post('')
def interface_attach(server_id: uuid.UUID, body: InterfaceCreate,
                     caller: deps.Caller = deps.CALLER):
    """A new port on ``net_id``, plugged into the server by its agent
    (its ``port_state`` is DOWN until then)."""
    asked = body.interfaceAttachment
    if asked.port_id or asked.fixed_ips:
        raise exception.InvalidRPCPayload(
            'interfaceAttachment: only net_id is taken (a new port on that '
            'network); port_id and fixed_ips are not')
    if asked.net_id is None:
        raise exception.InvalidRPCPayload('interfaceAttachment: net_id is '
                                          'required')
    inst = instances.fetch(caller, server_id, 'server:interface')
    port = deps.conductor().interface_attach(caller.ctxt, ref=inst.uuid,
                                             network=str(asked.net_id))
    return {'interfaceAttachment': view(port)}


@router.get('')
def interface_list(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:show')
    return {'interfaceAttachments': [view(p) for p in _ports(caller, inst)]}


@router.get('/{port_id}')
def interface_show(server_id: uuid.UUID, port_id: uuid.UUID,
                   caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:show')
    for port in _ports(caller, inst):
        if port.uuid == str(port_id):
            return {'interfaceAttachment': view(port)}
    raise exception.PortNotFound(port=port_id)


@router.delete('/{port_id}', status_code=202)
def interface_detach(server_id: uuid.UUID, port_id: uuid.UUID,
                     caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:interface')
    deps.conductor().interface_detach(caller.ctxt, ref=inst.uuid,
                                      port_id=str(port_id))
    return Response(status_code=202)
