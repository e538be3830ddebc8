"""Networks and subnets in neutron's shapes, under ``/network/v2.0``.

An hvagent network has one subnet. As in neutron, a network is made
first (``POST /networks``) and its subnet after (``POST /subnets``); a
second subnet is refused (409), and a network without a subnet takes no
server yet (400). A project's netadmin makes the project's networks
(VXLAN, the segment picked by the conductor); only an admin chooses the
type, segment or uplink (``provider:*``), makes a network external or
shares it. Another project's network, unless shared, is 404 to everyone
but an admin.
"""
import ipaddress
import uuid
from typing import Literal

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Request
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api.network import views
from agent.api.schemas import Name
from agent.api.schemas import Strict

PREFIX = '/network/v2.0'
router = APIRouter(prefix=PREFIX, tags=['network'])
Marker = Depends(paging.marker_param)
Limit = Depends(paging.limit_param)
Ref = Path(min_length=1, max_length=255)
NONE_YET = Field([], max_length=0, description='not supported yet')


class NetworkFields(Strict):
    name: str = Name
    admin_state_up: Literal[True] = True
    shared: bool = False
    description: str = Field('', max_length=0, description='not kept yet')
    external: bool = Field(False, alias='router:external')
    network_type: Literal['flat', 'vlan', 'vxlan'] = Field(
        'vxlan', alias='provider:network_type')
    segmentation_id: int | None = Field(None, ge=1, le=16777215,
                                        alias='provider:segmentation_id')
    physical_network: str | None = Field(None, max_length=64,
                                         alias='provider:physical_network')
    mtu: int | None = Field(None, ge=68, le=65535)
    port_security_enabled: Literal[True] = True
    availability_zone_hints: list[str] = NONE_YET
    is_default: Literal[False] = False
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class NetworkCreate(Strict):
    network: NetworkFields


class Pool(Strict):
    start: str = Field(max_length=64)
    end: str = Field(max_length=64)


class SubnetFields(Strict):
    network_id: uuid.UUID
    name: str | None = Field(None, max_length=255,
                             pattern=r'^[^\x00-\x1f\x7f]*$')
    cidr: str = Field(max_length=64)
    ip_version: Literal[4, 6] = 4
    gateway_ip: str | None = Field(None, max_length=64)
    allocation_pools: list[Pool] = Field([], max_length=16)
    dns_nameservers: list[str] = Field([], max_length=8)
    enable_dhcp: Literal[True] = True
    host_routes: list[dict] = NONE_YET
    service_types: list[str] = NONE_YET
    description: str = Field('', max_length=0, description='not kept yet')
    subnetpool_id: None = None
    use_default_subnetpool: Literal[False] = False
    prefixlen: None = None
    segment_id: None = None
    ipv6_ra_mode: None = None
    ipv6_address_mode: None = None
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


class SubnetCreate(Strict):
    subnet: SubnetFields


def own_project(caller, fields):
    """A body's project must be the caller's (hvagent makes networks,
    subnets and groups in the token's project only)."""
    for given in (fields.project_id, fields.tenant_id):
        if given and given != caller.project_id:
            raise exception.InvalidRPCPayload(
                'project_id %s is not the token\'s project: hvagent makes '
                'it in the token\'s project' % given)


def visible(caller):
    """The networks the caller may use (own and shared; all: admin)."""
    return deps.conductor().network_list(caller.ctxt)


def network_of(caller, ref):
    for net in visible(caller):
        if ref in (net.uuid, net.name):
            return net
    raise exception.NetworkNotFound(network=ref)


def _subnet_of(caller, ref):
    for net in visible(caller):
        if net.subnet_id and ref in (net.subnet_id, net.subnet_name):
            return net
    raise exception.NotFound('Subnet %s could not be found' % ref)


def listed(request, name, items, limit, marker):
    items = views.select(list(request.query_params.multi_items()), items)
    items, nxt = paging.page(items, limit, marker, lambda i: i['id'])
    return paging.nova_page(request, name, items, nxt)


# ------------------------------------------------------------- networks
@router.get('/networks')
def network_list(request: Request, caller: deps.Caller = deps.CALLER,
                 limit: int = Limit, marker: str | None = Marker):
    provider = caller.can('network:provider')
    return listed(request, 'networks', [
        views.network(n, provider) for n in visible(caller)], limit, marker)


@router.get('/networks/{ref}')
def network_show(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    return {'network': views.network(network_of(caller, ref),
                                     caller.can('network:provider'))}


@router.post('/networks', status_code=201)
def network_create(body: NetworkCreate, caller: deps.Caller = deps.CALLER):
    fields = body.network
    caller.check('network:create', caller.project_id)
    own_project(caller, fields)
    if fields.external or fields.segmentation_id or \
            fields.physical_network or fields.network_type != 'vxlan':
        caller.check('network:provider:set', caller.project_id)
    if fields.shared:
        caller.check('network:share', caller.project_id)
    conductor = deps.conductor()
    net = conductor.network_create(
        caller.ctxt, name=fields.name, network_type=fields.network_type,
        cidr=None, segmentation_id=fields.segmentation_id,
        physical_network=fields.physical_network, mtu=fields.mtu,
        external=fields.external)
    if fields.shared:
        net = conductor.network_set(caller.ctxt, ref=net.uuid, shared=True)
    return {'network': views.network(net, caller.can('network:provider'))}


class NetworkChanges(Strict):
    shared: bool


class NetworkUpdate(Strict):
    network: NetworkChanges


@router.put('/networks/{ref}')
def network_update(body: NetworkUpdate, ref: str = Ref,
                   caller: deps.Caller = deps.CALLER):
    """Share a network with every project or stop (admin, policy
    ``network:share``); nothing else of a network changes yet."""
    net = network_of(caller, ref)
    caller.check('network:share', net.project_id)
    return {'network': views.network(deps.conductor().network_set(
        caller.ctxt, ref=net.uuid, shared=body.network.shared),
        caller.can('network:provider'))}


@router.delete('/networks/{ref}', status_code=204)
def network_delete(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    """404 for a network the caller may not use, 403 for a shared one of
    another project, 409 while it has ports."""
    net = network_of(caller, ref)
    caller.check('network:delete', net.project_id)
    deps.conductor().network_delete(caller.ctxt, ref=net.uuid)
    return Response(status_code=204)


# -------------------------------------------------------------- subnets
@router.get('/subnets')
def subnet_list(request: Request, caller: deps.Caller = deps.CALLER,
                limit: int = Limit, marker: str | None = Marker):
    return listed(request, 'subnets', [
        views.subnet(n) for n in visible(caller) if n.subnet_id],
        limit, marker)


@router.get('/subnets/{ref}')
def subnet_show(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    return {'subnet': views.subnet(_subnet_of(caller, ref))}


def _gateway(fields, cidr):
    """neutron's default gateway: the subnet's first address, unless the
    body names one or asks for none (``"gateway_ip": null``)."""
    if 'gateway_ip' in fields.model_fields_set:
        return fields.gateway_ip
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address + 1) if net.num_addresses >= 4 else None


@router.post('/subnets', status_code=201)
def subnet_create(body: SubnetCreate, caller: deps.Caller = deps.CALLER):
    fields = body.subnet
    own_project(caller, fields)
    net = network_of(caller, str(fields.network_id))
    caller.check('subnet:create', net.project_id)
    try:
        version = ipaddress.ip_network(fields.cidr, strict=False).version
    except ValueError as e:
        raise exception.InvalidNetwork(reason=str(e)) from None
    if version != fields.ip_version:
        raise exception.InvalidNetwork(reason='%s is not an IPv%d range' % (
            fields.cidr, fields.ip_version))
    net = deps.conductor().subnet_create(
        caller.ctxt, network=net.uuid, name=fields.name, cidr=fields.cidr,
        gateway_ip=_gateway(fields, fields.cidr),
        dns_nameservers=fields.dns_nameservers,
        allocation_pools=[[p.start, p.end] for p in fields.allocation_pools])
    return {'subnet': views.subnet(net)}


@router.delete('/subnets/{ref}', status_code=204)
def subnet_delete(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    net = _subnet_of(caller, ref)
    caller.check('subnet:delete', net.project_id)
    deps.conductor().subnet_delete(caller.ctxt, network=net.uuid)
    return Response(status_code=204)
