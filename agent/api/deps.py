"""Per-request authentication and policy: FastAPI dependencies.

``caller`` checks ``X-Auth-Token`` (signature and expiry here; revocation,
a password change since the token was issued, a disabled user and the
current roles at the conductor) and yields a Caller whose context
travels with every RPC call the request makes.
"""
import functools
import logging
import uuid

from fastapi import Depends
from fastapi import Header
from fastapi import Request
from oslo_config import cfg

from agent import context
from agent import exception
from agent.api import errors
from agent.api import policy
from agent.api import tokens
from agent.conductor import rpcapi as conductor_rpcapi
from agent.security import bus_auth
from agent.security import image_grants

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


@functools.lru_cache(maxsize=1)
def conductor():
    return conductor_rpcapi.ConductorAPI()


@functools.lru_cache(maxsize=1)
def signing_key():
    return tokens.load_key()


class Caller:
    def __init__(self, request_id, token, payload, roles, user_name):
        self.token, self.payload = token, payload
        self.user_id, self.project_id = payload['user_id'], \
            payload['project_id']
        self.roles, self.user_name = roles, user_name
        # the token stays here: nothing behind the API needs it (agents
        # read images with the conductor's image grants)
        self.ctxt = context.RequestContext(
            request_id=request_id, user_id=self.user_id,
            project_id=self.project_id, is_admin='admin' in roles,
            via_api=True)

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
    return context.RequestContext(request_id=request.state.request_id,
                                  via_api=True)


def check_token(request_id, token):
    """The Caller a token makes: its signature and expiry checked here,
    revocation, password changes, the user and its current roles at the
    conductor; NotAuthenticated saying why not."""
    payload = tokens.verify(signing_key(), token)
    ctxt = context.RequestContext(request_id=request_id,
                                  user_id=payload['user_id'],
                                  project_id=payload['project_id'],
                                  via_api=True)
    info = conductor().token_check(
        ctxt, token_id=payload['id'], user_id=payload['user_id'],
        project_id=payload['project_id'], issued_at=payload['iat'])
    return Caller(request_id, token, payload, info['roles'],
                  info['user_name'])


def caller(request: Request, x_auth_token: str = Header(
        None, description='A token from POST /v3/auth/tokens')):
    if not x_auth_token:
        raise exception.NotAuthenticated(reason='X-Auth-Token missing')
    return check_token(request.state.request_id, x_auth_token)


CALLER = Depends(caller)


class GrantReader:
    """A compute agent reading one instance's image with the conductor's
    image grant (agent.security.image_grants): it sees what the grant's project
    sees, and only the images the grant names."""

    def __init__(self, request_id, payload):
        self.project_id = payload['project_id']
        self.ctxt = context.RequestContext(
            request_id=request_id, user_id='image-grant',
            project_id=self.project_id, via_api=True)

    def guard(self, owner, read_rule, rule, missing):
        if rule != 'image:show' or not (
                owner['visibility'] == 'public' or
                owner['project_id'] == self.project_id):
            raise missing


def image_reader(image_id: uuid.UUID, request: Request,
                 x_auth_token: str = Header(
                     None, description='A token from POST /v3/auth/tokens'),
                 x_image_grant: str = Header(
                     None, description='Compute agents: the conductor\'s '
                     'grant to read this image for one instance')):
    """Who reads an image: a user (token) or a compute agent (grant)."""
    if x_image_grant and not x_auth_token:
        payload = image_grants.verify(bus_auth.keyring(), x_image_grant,
                                      str(image_id))
        return GrantReader(request.state.request_id, payload)
    return caller(request, x_auth_token)


IMAGE_READER = Depends(image_reader)


class GrantUploader:
    """A compute agent uploading an instance's snapshot with the
    conductor's upload grant (agent.security.image_grants): it may write
    the data of the one image the grant names, of the grant's project,
    while that image is the instance's snapshot, saving
    (agent.api.image.records.store_bytes)."""

    def __init__(self, request_id, payload):
        self.project_id = payload['project_id']
        self.snapshot_of = payload['instance']
        self.ctxt = context.RequestContext(
            request_id=request_id, user_id='image-upload-grant',
            project_id=self.project_id, via_api=True)

    def guard(self, owner, read_rule, rule, missing):
        if rule != 'image:upload' or owner['project_id'] != self.project_id:
            raise missing


def image_writer(image_id: uuid.UUID, request: Request,
                 x_auth_token: str = Header(
                     None, description='A token from POST /v3/auth/tokens'),
                 x_image_upload_grant: str = Header(
                     None, description="Compute agents: the conductor's "
                     'grant to upload this snapshot')):
    """Who uploads an image's data: a user (token) or the agent making
    a snapshot (upload grant)."""
    if x_image_upload_grant and not x_auth_token:
        payload = image_grants.verify_upload(
            bus_auth.keyring(), x_image_upload_grant, str(image_id))
        return GrantUploader(request.state.request_id, payload)
    return caller(request, x_auth_token)


IMAGE_WRITER = Depends(image_writer)
