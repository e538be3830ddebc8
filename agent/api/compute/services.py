"""Compute services, listed and disabled or enabled by admins, in the
shapes of nova's os-services before microversion 2.53 (what
``openstack compute service list`` and ``service set --disable`` send).
A disabled host takes no new instance; what runs there is left alone."""
from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query

from agent.api import deps
from agent.api import schemas
from agent.api.compute import hypervisors
from agent.api.compute import microversions
from agent.objects import models as object_models

router = APIRouter(prefix=microversions.PREFIX + '/os-services',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])


def _service(item):
    svc, node = item['service'], item['node']
    zone = hypervisors.zone_of(node) \
        if svc.binary == object_models.COMPUTE_BINARY else 'internal'
    return {'id': svc.id, 'binary': svc.binary, 'host': svc.host,
            'zone': zone,
            'status': 'disabled' if svc.disabled else 'enabled',
            'state': 'up' if svc.up else 'down',
            'updated_at': svc.updated_at,
            'disabled_reason': svc.disabled_reason}


@router.get('', response_model=schemas.Services)
def service_list(caller: deps.Caller = deps.CALLER,
                 host: str | None = Query(None, max_length=255),
                 binary: str | None = Query(None, max_length=64)):
    """Every service (only ``host``'s, only ``binary``s if given)."""
    caller.check('service:list')
    return {'services': [
        _service(i) for i in deps.conductor().host_list(caller.ctxt)
        if host in (None, i['service'].host)
        and binary in (None, i['service'].binary)]}


def _update(caller, ref, disabled, reason=None):
    caller.check('service:update')
    svc = deps.conductor().service_update(
        caller.ctxt, host=ref.host, binary=ref.binary, disabled=disabled,
        disabled_reason=reason)
    return {'service': {'host': svc.host, 'binary': svc.binary,
                        'status': 'disabled' if svc.disabled else 'enabled',
                        'disabled_reason': svc.disabled_reason}}


@router.put('/disable', response_model=schemas.ServiceStatusOut,
            response_model_exclude_none=True)
def disable(body: schemas.ServiceRef, caller: deps.Caller = deps.CALLER):
    """No new instance on the host (a reason given before is cleared)."""
    return _update(caller, body, True)


@router.put('/disable-log-reason', response_model=schemas.ServiceStatusOut,
            response_model_exclude_none=True)
def disable_log_reason(body: schemas.ServiceDisable,
                       caller: deps.Caller = deps.CALLER):
    """Disable, saying why (printable text, at most 255 characters)."""
    return _update(caller, body, True, body.disabled_reason)


@router.put('/enable', response_model=schemas.ServiceStatusOut,
            response_model_exclude_none=True)
def enable(body: schemas.ServiceRef, caller: deps.Caller = deps.CALLER):
    """Placement on the host resumes; the reason is cleared."""
    return _update(caller, body, False)
