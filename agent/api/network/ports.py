"""Ports in neutron's shapes, under ``/network/v2.0/ports`` (list with
filters such as ``device_id`` and ``network_id``, show): the NICs the
boot flow made for servers and the fixed IPs a project holds. They are
read here; servers make and free them. A project sees its own ports (an
admin every port); the host a port is bound to is shown to admin and
itsec."""
from fastapi import APIRouter
from fastapi import Request

from agent import exception
from agent.api import deps
from agent.api.network import views
from agent.api.network.networks import PREFIX
from agent.api.network.networks import Limit
from agent.api.network.networks import Marker
from agent.api.network.networks import Ref
from agent.api.network.networks import listed

router = APIRouter(prefix=PREFIX + '/ports', tags=['network'])


def _ports(caller):
    binding = caller.can('port:binding')
    return [views.port(p, binding)
            for p in deps.conductor().port_list(caller.ctxt)]


@router.get('')
def port_list(request: Request, caller: deps.Caller = deps.CALLER,
              limit: int = Limit, marker: str | None = Marker):
    return listed(request, 'ports', _ports(caller), limit, marker)


@router.get('/{ref}')
def port_show(ref: str = Ref, caller: deps.Caller = deps.CALLER):
    for port in _ports(caller):
        if port['id'] == ref:
            return {'port': port}
    raise exception.PortNotFound(port=ref)
