"""Ports in neutron's shapes, under ``/network/v2.0/ports`` (list with
filters such as ``device_id`` and ``network_id``, show): the NICs the
boot flow made for servers and the fixed IPs a project holds.

A project's netadmin makes a port with no server (``POST``: an address
of a network the project may use, the one asked or the first free; the
fixed_ips quota counts it) and deletes it while no server holds it; a
boot names it (``"networks": [{"port": id}]``) to get its address, and
the port comes back unbound when the server goes. A project sees its own
ports (an admin every port); the host a port is bound to is shown to
admin and itsec; another project's port is 404."""
import ipaddress

from fastapi import APIRouter
from fastapi import Request
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api.network import views
from agent.api.network.networks import PREFIX
from agent.api.network.networks import Limit
from agent.api.network.networks import Marker
from agent.api.network.networks import Ref
from agent.api.network.networks import listed
from agent.api.network.networks import own_project
from agent.api.schemas import Strict

router = APIRouter(prefix=PREFIX + '/ports', tags=['network'])


class FixedIP(Strict):
    ip_address: ipaddress.IPv4Address | None = None
    subnet_id: str | None = Field(None, max_length=64, description='the '
                                  "network's one subnet (checked)")


class PortFields(Strict):
    network_id: str = Field(min_length=1, max_length=255,
                            description='a network id (or name)')
    fixed_ips: list[FixedIP] = Field([], max_length=1)
    name: str = Field('', max_length=255, description='accepted (the '
                      'client sends it), not kept yet: ports show ""')
    admin_state_up: bool = True
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class PortCreate(Strict):
    port: PortFields


def _ports(caller):
    """The caller's project's ports (every port: an admin); itsec and
    admin also see every project's ports with no server (policy
    ``fixed_ip:list:all_projects``)."""
    conductor = deps.conductor()
    ports = {p.uuid: p for p in conductor.port_list(caller.ctxt)}
    if caller.can('fixed_ip:list:all_projects'):
        ports.update((p.uuid, p) for p in conductor.fixed_ip_list(
            caller.ctxt, project_id=None))
    binding = caller.can('port:binding')
    return [views.port(p, binding) for p in ports.values()]


@router.get('')
def port_list(request: Request, caller: deps.Caller = deps.CALLER,
              limit: int = Limit, marker: str | None = Marker):
    return listed(request, 'ports', _ports(caller), limit, marker)


def _find(caller, ref):
    for port in _ports(caller):
        if port['id'] == ref:
            return port
    raise exception.PortNotFound(port=ref)


@router.get('/{ref}')
def port_show(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    return {'port': _find(caller, ref)}


@router.post('', status_code=201)
def port_create(body: PortCreate, caller: deps.Caller = deps.CALLER):
    """A port of the caller's project holding an address of the network
    (``fixed_ips[0].ip_address``, else the first free one)."""
    req = body.port
    own_project(caller, req)
    caller.check('fixed_ip:create')
    fixed = req.fixed_ips[0] if req.fixed_ips else FixedIP()
    port = deps.conductor().fixed_ip_create(
        caller.ctxt, network=req.network_id,
        address=fixed.ip_address and str(fixed.ip_address))
    if fixed.subnet_id not in (None, port.network.subnet_id):
        deps.conductor().fixed_ip_delete(caller.ctxt, ref=port.uuid)
        raise exception.InvalidRPCPayload(
            'fixed_ips: subnet %s is not the subnet of network %s'
            % (fixed.subnet_id, req.network_id))
    return {'port': views.port(port, caller.can('port:binding'))}


class PortChanges(Strict):
    port_security_enabled: bool
    security_groups: list[str] | None = Field(
        None, max_length=0, description='only [] (none: the port\'s '
        "groups are its server's; turning security off needs none)")


class PortUpdate(Strict):
    port: PortChanges


@router.put('/{ref}')
def port_update(body: PortUpdate, ref: str = Ref,
                caller: deps.Caller = deps.CALLER):
    """Turn a port's anti-spoofing and filtering off or on (admin, policy
    ``port:security``; off only for a port in no security group: 409)."""
    _find(caller, ref)
    caller.check('port:security')
    port = deps.conductor().port_update(
        caller.ctxt, ref=ref, port_security_enabled=body.port.
        port_security_enabled)
    return {'port': views.port(port, caller.can('port:binding'))}


@router.delete('/{ref}', status_code=204)
def port_delete(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    """Free a port no server holds (409 while one does; a server's NICs
    go with the server)."""
    shown = _find(caller, ref)
    try:
        port = deps.conductor().fixed_ip_show(caller.ctxt, ref=shown['id'])
    except exception.FixedIPNotFound:
        raise exception.Conflict(
            'Port %s is a NIC of server %s: it goes with the server'
            % (ref, shown['device_id'])) from None
    caller.guard({'project_id': port.project_id}, 'fixed_ip:show',
                 'fixed_ip:delete', exception.PortNotFound(port=ref))
    deps.conductor().fixed_ip_delete(caller.ctxt, ref=port.uuid)
    return Response(status_code=204)
