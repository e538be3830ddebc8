"""POST /v3/auth/tokens (log in), GET (who am I), DELETE (log out)."""
import datetime

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Request
from fastapi import Response
from oslo_config import cfg

from agent import context
from agent.api import deps
from agent.api import schemas
from agent.api import throttle
from agent.api import tokens

CONF = cfg.CONF
router = APIRouter(prefix='/v3/auth', tags=['auth'])


def _token(payload, user_name, project_name, roles):
    return schemas.TokenOut(token=schemas.Token(
        expires_at=datetime.datetime.fromtimestamp(payload['exp'],
                                                   datetime.timezone.utc),
        user=schemas.Ref(id=payload['user_id'], name=user_name),
        project=schemas.Ref(id=payload['project_id'], name=project_name),
        roles=roles))


@router.post('/tokens', status_code=201, response_model=schemas.TokenOut,
             responses={401: {'description': 'invalid credentials'},
                        429: {'description': 'too many failed logins of '
                              'this user or from this address'},
                        503: {'description': 'too many password checks '
                              'at once'}})
def issue(body: schemas.TokenRequest, request: Request, response: Response,
          ctxt: context.RequestContext = Depends(deps.request_context)):
    """Log in with a password; the token is in X-Subject-Token. The
    conductor checks the password; failed logins are throttled per user
    and per client address (429 with Retry-After)."""
    with throttle.COUNTER.attempt('logins', user=body.user,
                                  address=throttle.client_address(request)):
        info = deps.conductor().authenticate(
            ctxt, user=body.user, password=body.password,
            project=body.project)
    token, payload = tokens.issue(deps.signing_key(), info['user_id'],
                                  info['project_id'], CONF.api.token_ttl,
                                  issued_at=info['issued_at'])
    response.headers['X-Subject-Token'] = token
    return _token(payload, info['user_name'], info['project_name'],
                  info['roles'])


@router.get('/tokens', response_model=schemas.TokenOut)
def show(caller: deps.Caller = deps.CALLER):
    """The caller's own token: user, project, roles, expiry."""
    project = deps.conductor().project_show(caller.ctxt,
                                            ref=caller.project_id)
    return _token(caller.payload, caller.user_name, project['name'],
                  caller.roles)


@router.delete('/tokens', status_code=204)
def revoke(caller: deps.Caller = deps.CALLER):
    """Revoke the caller's token (log out)."""
    deps.conductor().token_revoke(
        caller.ctxt, token_id=caller.payload['id'],
        expires_at=datetime.datetime.fromtimestamp(
            caller.payload['exp'], datetime.timezone.utc).replace(
                tzinfo=None).isoformat())
    return Response(status_code=204)
