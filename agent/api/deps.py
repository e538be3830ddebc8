"""Per-request authentication and policy: FastAPI dependencies.

``caller`` checks ``X-Auth-Token`` (signature and expiry here; revocation,
a password change since the token was issued, a disabled user and the
current roles at the conductor) and yields a Caller whose context
travels with every RPC call the request makes.
"""
import functools
import logging

from fastapi import Depends, Header, Request
from oslo_config import cfg

from agent import context
from agent import exception
from agent import rpc
from agent.api import errors
from agent.api import policy
from agent.api import tokens

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


@functools.lru_cache(maxsize=1)
def conductor():
    return rpc.ConductorAPI()


@functools.lru_cache(maxsize=1)
def signing_key():
    return tokens.load_key()


class Caller:
    def __init__(self, request_id, token, payload, roles, user_name):
        self.token, self.payload = token, payload
        self.user_id, self.project_id = payload['user_id'], \
            payload['project_id']
        self.roles, self.user_name = roles, user_name
        # the token travels on: agents present it to download images
        self.ctxt = context.RequestContext(
            request_id=request_id, user_id=self.user_id,
            project_id=self.project_id, is_admin='admin' in roles,
            auth_token=token)

    @property
    def creds(self):
        return {'roles': self.roles, 'user_id': self.user_id,
                'project_id': self.project_id}

    def can(self, rule, project_id=None, user_id=None, **target):
        target.update(project_id=project_id or self.project_id,
                      user_id=user_id or self.user_id)
        return policy.allowed(rule, target, self.creds)

    def check(self, rule, project_id=None, user_id=None, **target):
        if not self.can(rule, project_id, user_id, **target):
            raise errors.Forbidden(rule=rule)

    def guard(self, owner, read_rule, rule, missing):
        """Raise ``missing`` (a NotFound) unless the caller may read the
        thing ``owner`` describes (project_id, user_id...), Forbidden
        unless they may also apply ``rule`` to it."""
        if not self.can(read_rule, **owner):
            raise missing
        self.check(rule, **owner)


def request_context(request: Request):
    """A context for requests made before authentication (login)."""
    return context.RequestContext(request_id=request.state.request_id)


def caller(request: Request, x_auth_token: str = Header(
        None, description='A token from POST /v3/auth/tokens')):
    if not x_auth_token:
        raise exception.NotAuthenticated(reason='X-Auth-Token missing')
    payload = tokens.verify(signing_key(), x_auth_token)
    ctxt = context.RequestContext(request_id=request.state.request_id,
                                  user_id=payload['user_id'],
                                  project_id=payload['project_id'])
    info = conductor().token_check(
        ctxt, token_id=payload['id'], user_id=payload['user_id'],
        project_id=payload['project_id'], issued_at=payload['iat'])
    return Caller(ctxt.request_id, x_auth_token, payload, info['roles'],
                  info['user_name'])


CALLER = Depends(caller)
