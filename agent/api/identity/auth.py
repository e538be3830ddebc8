"""Identity v3 tokens as keystone serves them: ``POST /v3/auth/tokens``
(log in with a password: the token in ``X-Subject-Token``, its body with
the service catalog), ``GET``/``HEAD`` (validate the token in
``X-Subject-Token``, default the caller's own), ``DELETE`` (revoke it),
and ``GET /v3/auth/catalog``. A user's tokens are theirs to validate
and revoke; another user's are admin's."""
import datetime

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Header
from fastapi import Request
from fastapi import Response
from oslo_config import cfg

from agent import context
from agent import exception
from agent.api import auth_schemas
from agent.api import deps
from agent.api import service_catalog
from agent.api import throttle
from agent.api import tokens

CONF = cfg.CONF
router = APIRouter(prefix='/v3/auth', tags=['auth'])
INVALID = 'invalid credentials'
SUBJECT = Header(None, description='The token to validate or revoke '
                 "(default: the caller's own X-Auth-Token)")


def _base(request, nocatalog=False):
    return None if nocatalog else service_catalog.base_url(request)


@router.post('/tokens', status_code=201, response_model=auth_schemas.TokenOut,
             response_model_exclude_none=True,
             responses={401: {'description': 'invalid credentials'},
                        429: {'description': 'too many failed logins of '
                              'this user or from this address'},
                        503: {'description': 'too many password checks '
                              'at once'}})
def issue(body: auth_schemas.AuthRequest, request: Request,
          response: Response, nocatalog: bool = False,
          ctxt: context.RequestContext = Depends(deps.request_context)):
    """Log in with a password (keystone's body); the token is in
    X-Subject-Token. The conductor checks the password; failed logins
    are throttled per user and per client address (429 with
    Retry-After)."""
    user = body.auth.identity.password.user
    scope = body.auth.scope
    # by id when the body gives one, as keystone does
    by = {'user_id': user.id} if user.id else {'user': user.name}
    with throttle.COUNTER.attempt('logins', user=user.id or user.name,
                                  address=throttle.client_address(request)):
        if not body.in_default_domain():
            raise exception.NotAuthenticated(reason=INVALID)
        info = deps.conductor().authenticate(
            ctxt, password=user.password,
            project=scope and (scope.project.id or scope.project.name),
            **by)
    token, payload = tokens.issue(deps.signing_key(), info['user_id'],
                                  info['project_id'], CONF.api.token_ttl,
                                  issued_at=info['issued_at'])
    response.headers['X-Subject-Token'] = token
    return service_catalog.token_body(
        payload, info['user_name'], info['project_name'], info['roles'],
        _base(request, nocatalog))


def _subject(caller, token, rule):
    """The Caller of ``token`` (the caller itself when absent or the
    same): an invalid one is a 404; another user's needs ``rule`` (a
    user's other tokens are theirs, as in keystone)."""
    if not token or token == caller.token:
        return caller
    try:
        subject = deps.check_token(caller.ctxt.request_id, token)
    except exception.NotAuthenticated as e:
        raise exception.TokenNotFound(token='in X-Subject-Token',
                                      reason=e.kwargs.get('reason', e))
    if subject.user_id != caller.user_id:
        caller.check(rule)
    return subject


@router.get('/tokens', response_model=auth_schemas.TokenOut,
            response_model_exclude_none=True)
def show(request: Request, response: Response, nocatalog: bool = False,
         caller: deps.Caller = deps.CALLER,
         x_subject_token: str = SUBJECT):
    """Validate a token: its user, project, roles, expiry."""
    subject = _subject(caller, x_subject_token, 'token:validate')
    project = deps.conductor().project_show(caller.ctxt,
                                            ref=subject.project_id)
    response.headers['X-Subject-Token'] = subject.token
    return service_catalog.token_body(
        subject.payload, subject.user_name, project['name'], subject.roles,
        _base(request, nocatalog))


@router.head('/tokens', status_code=200)
def check(caller: deps.Caller = deps.CALLER,
          x_subject_token: str = SUBJECT):
    """200 if the token is valid (404 if not)."""
    _subject(caller, x_subject_token, 'token:validate')
    return Response(status_code=200)


@router.delete('/tokens', status_code=204)
def revoke(caller: deps.Caller = deps.CALLER,
           x_subject_token: str = SUBJECT):
    """Revoke a token (one's own: log out)."""
    subject = _subject(caller, x_subject_token, 'token:revoke')
    deps.conductor().token_revoke(
        caller.ctxt, token_id=subject.payload['id'],
        expires_at=datetime.datetime.fromtimestamp(
            subject.payload['exp'], datetime.timezone.utc).replace(
                tzinfo=None).isoformat())
    return Response(status_code=204)


@router.get('/catalog', response_model=auth_schemas.Catalog)
def catalog(request: Request, caller: deps.Caller = deps.CALLER):
    """The service catalog of the caller's token."""
    base = _base(request)
    return {'catalog': service_catalog.catalog(base, caller.project_id),
            'links': {'self': base + '/v3/auth/catalog', 'previous': None,
                      'next': None}}
