"""keystone's unified limits for glance's quotas, the way OpenStack sets
an image quota (``openstack registered limit list``, ``openstack limit
create|list|show|set|delete``): ``/v3/registered_limits`` (the defaults,
``[quota] images`` and ``image_megabytes``) and ``/v3/limits`` (a
project's own); and the catalog's services they name (``/v3/services``).

glance's resource names map onto hvagent's image quotas:
``image_count_total`` is ``images``, ``image_size_total`` (MiB) is
``image_megabytes``. Compute, network and volume quotas keep their own
services' APIs (os-quota-sets, /quotas). A limit's id is
``<project id>:<resource name>``: one per project and resource, as
keystone allows. Anyone may read their own project's limits (admin and
itsec any project's); only an admin sets them (policy ``quota:show``,
``quota:update``). Deleting a limit gives the project the default again.
"""
from typing import Any

from fastapi import APIRouter
from fastapi import Path
from fastapi import Query
from fastapi import Request
from fastapi import Response
from oslo_config import cfg
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api import quota_updates
from agent.api import service_catalog
from agent.api.identity.projects import project_of
from agent.api.image import records
from agent.api.schemas import Strict

router = APIRouter(prefix='/v3', tags=['identity'])
SERVICE = 'image'       # the catalog's id of the image service
RESOURCES = records.QUOTAS
LIMIT_ID = Path(min_length=3, max_length=128)


class LimitFields(Strict):
    service_id: str = Field(max_length=64)
    project_id: str = Field(min_length=1, max_length=64)
    resource_name: str = Field(max_length=255)
    resource_limit: int = Field(ge=-1, le=2**31 - 1)
    region_id: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=255)
    domain_id: None = None


class LimitsCreate(Strict):
    limits: list[LimitFields] = Field(min_length=1, max_length=16)


class LimitChange(Strict):
    resource_limit: int | None = Field(None, ge=-1, le=2**31 - 1)
    description: str | None = Field(None, max_length=255)


class LimitUpdate(Strict):
    limit: LimitChange


def _region() -> str:
    return cfg.CONF.api.region_name


def _link(request: Request, path: str) -> dict[str, str]:
    return {'self': service_catalog.base_url(request) + path}


def _limit(request, project_id, name, value):
    ident = '%s:%s' % (project_id, name)
    return {'id': ident, 'project_id': project_id, 'domain_id': None,
            'service_id': SERVICE, 'region_id': _region(),
            'resource_name': name, 'resource_limit': value,
            'description': None,
            'links': _link(request, '/v3/limits/' + ident)}


def _resource(service_id, name):
    if service_id != SERVICE or name not in RESOURCES:
        raise exception.InvalidRPCPayload(
            'hvagent keeps unified limits for service %r only: %s (the '
            "other services' quotas: their os-quota-sets and /quotas)"
            % (SERVICE, ', '.join(RESOURCES)))
    return RESOURCES[name]


def _project_limits(request, caller, project):
    """(project id, its glance limits)."""
    pid = project_of(caller, project)['id']
    caller.check('quota:show', pid)
    quotas = deps.conductor().quota_show(caller.ctxt, project_id=pid)
    return pid, [_limit(request, pid, name, quotas[resource]['limit'])
                 for name, resource in RESOURCES.items()]


def _split(limit_id):
    pid, _, name = limit_id.rpartition(':')
    if not pid or name not in RESOURCES:
        raise exception.NotFound('Could not find limit for %s' %
                                 limit_id[:128])
    return pid, name


def _service(kind, name, request):
    return {'id': kind, 'type': kind, 'name': name, 'enabled': True,
            'description': '%s (served by hvagent-api)' % name,
            'links': _link(request, '/v3/services/' + kind)}


@router.get('/services')
def service_list(request: Request, caller: deps.Caller = deps.CALLER,
                 type: str | None = Query(None, max_length=64),
                 name: str | None = Query(None, max_length=64)):
    """The catalog's services (what ``--service`` names resolve in)."""
    return {'services': [
        _service(kind, n, request)
        for kind, n, _path in service_catalog.SERVICES
        if type in (None, kind) and name in (None, n, kind)],
        'links': _link(request, '/v3/services') | {
            'next': None, 'previous': None}}


@router.get('/services/{service_id}')
def service_show(request: Request,
                 service_id: str = Path(max_length=64),
                 caller: deps.Caller = deps.CALLER):
    for kind, name, _path in service_catalog.SERVICES:
        if service_id == kind:
            return {'service': _service(kind, name, request)}
    raise exception.NotFound('Could not find service: %s' % service_id)


@router.get('/registered_limits')
def registered_limit_list(request: Request,
                          caller: deps.Caller = deps.CALLER):
    """The defaults every project has until a limit of its own is set."""
    return {'registered_limits': [
        {'id': name, 'service_id': SERVICE, 'region_id': _region(),
         'resource_name': name, 'description': None,
         'default_limit': getattr(cfg.CONF.quota, resource),
         'links': _link(request, '/v3/registered_limits/' + name)}
        for name, resource in RESOURCES.items()],
        'links': _link(request, '/v3/registered_limits') | {
            'next': None, 'previous': None}}


@router.get('/limits')
def limit_list(request: Request, caller: deps.Caller = deps.CALLER,
               project_id: str | None = Query(None, max_length=64),
               service_id: str | None = Query(None, max_length=64),
               resource_name: str | None = Query(None, max_length=255)):
    """The limits of ``project_id`` (default: the token's project)."""
    out: list[dict[str, Any]] = []
    if service_id in (None, SERVICE):
        out = _project_limits(request, caller,
                              project_id or caller.project_id)[1]
    return {'limits': [lim for lim in out if resource_name in (
        None, lim['resource_name'])],
        'links': _link(request, '/v3/limits') | {
            'next': None, 'previous': None}}


@router.get('/limits/{limit_id}')
def limit_show(request: Request, limit_id: str = LIMIT_ID,
               caller: deps.Caller = deps.CALLER):
    pid, name = _split(limit_id)
    for lim in _project_limits(request, caller, pid)[1]:
        if lim['resource_name'] == name:
            return {'limit': lim}
    raise AssertionError(name)      # every resource has a limit


def _set(request, caller, pid, name, value):
    quota_updates.apply(caller, pid, {RESOURCES[name]: value})
    return _limit(request, pid, name, value)


@router.post('/limits', status_code=201)
def limit_create(body: LimitsCreate, request: Request,
                 caller: deps.Caller = deps.CALLER):
    for lim in body.limits:
        _resource(lim.service_id, lim.resource_name)
    return {'limits': [_set(request, caller,
                            project_of(caller, lim.project_id)['id'],
                            lim.resource_name, lim.resource_limit)
                       for lim in body.limits]}


@router.patch('/limits/{limit_id}')
def limit_update(body: LimitUpdate, request: Request,
                 limit_id: str = LIMIT_ID,
                 caller: deps.Caller = deps.CALLER):
    pid, name = _split(limit_id)
    if body.limit.resource_limit is None:
        return limit_show(request, limit_id, caller)
    return {'limit': _set(request, caller, pid, name,
                          body.limit.resource_limit)}


@router.delete('/limits/{limit_id}', status_code=204)
def limit_delete(limit_id: str = LIMIT_ID,
                 caller: deps.Caller = deps.CALLER):
    """Back to the default ([quota])."""
    pid, name = _split(limit_id)
    quota_updates.apply(caller, pid, {
        RESOURCES[name]: getattr(cfg.CONF.quota, RESOURCES[name])})
    return Response(status_code=204)
