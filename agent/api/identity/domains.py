"""Keystone's domains, read-only: there is one, ``Default`` (id
``default``), and every authenticated caller may read it (clients look
it up by name before they create projects and users in it)."""
from fastapi import APIRouter
from fastapi import HTTPException
from fastapi import Query
from fastapi import Request

from agent.api import deps
from agent.api import service_catalog
from agent.api.auth_schemas import DOMAIN_ID
from agent.api.auth_schemas import DOMAIN_NAME

router = APIRouter(tags=['identity'])


def _domain(request: Request) -> dict:
    return {'id': DOMAIN_ID, 'name': DOMAIN_NAME, 'enabled': True,
            'description': 'The one domain of this cloud', 'tags': [],
            'options': {}, 'links': {'self': '%s/v3/domains/%s' % (
                service_catalog.base_url(request), DOMAIN_ID)}}


@router.get('/v3/domains')
def domain_list(request: Request, caller: deps.Caller = deps.CALLER,
                name: str | None = Query(None, max_length=255),
                enabled: bool | None = None):
    """The domain list (``name``, ``enabled`` filter it)."""
    found = [d for d in (_domain(request),)
             if name in (None, d['name']) and enabled in (None, True)]
    return {'domains': found, 'links': {
        'self': str(request.url), 'next': None, 'previous': None}}


@router.get('/v3/domains/{domain_id}')
def domain_show(domain_id: str, request: Request,
                caller: deps.Caller = deps.CALLER):
    if domain_id != DOMAIN_ID:
        raise HTTPException(404, 'Could not find domain: %s.'
                            % domain_id[:64])
    return {'domain': _domain(request)}
