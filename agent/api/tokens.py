"""Tokens: ``<payload>.<signature>``, both base64url; the payload is JSON
``{"id", "user_id", "project_id", "exp", "iat"}`` and the signature its
HMAC-SHA256 under the key in ``[api] token_key_file``. A token is valid
until ``exp`` unless the conductor recorded its revocation, or its user's
password changed after ``iat`` (the second the conductor gave at login;
tokens from before 1.8 have none and count as issued at 0). Passwords are
the conductor's alone (agent.conductor.passwords)."""
import os
import secrets
import time

from oslo_config import cfg

from agent import exception
from agent.security import sealed

CONF = cfg.CONF
KEY_BYTES = 32


def load_key(path=None):
    """The signing key, created (mode 0600) on first use."""
    path = path or CONF.api.token_key_file
    try:
        with open(path, 'rb') as f:
            key = f.read()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:     # another API process won the race
            return load_key(path)
        with os.fdopen(fd, 'wb') as f:
            f.write(key)
    if len(key) < KEY_BYTES:
        raise exception.HVAgentError('token key %s is shorter than %d bytes'
                                     % (path, KEY_BYTES))
    return key


def issue(key, user_id, project_id, ttl, now=None, issued_at=None):
    """A new token and its payload; ``issued_at``: the conductor's second
    of the login (default: ``now``)."""
    now = now or time.time()
    payload = {'id': secrets.token_hex(16), 'user_id': user_id,
               'project_id': project_id, 'exp': int(now + ttl),
               'iat': int(now if issued_at is None else issued_at)}
    return sealed.seal(key, payload), payload


def verify(key, token, now=None):
    """The payload of a well-signed, unexpired token; else
    NotAuthenticated saying why."""
    payload = sealed.unseal(key, token, 'token')
    try:
        exp = int(payload['exp'])
        if not isinstance(payload.setdefault('iat', 0), int) or \
                isinstance(payload['iat'], bool) or payload['iat'] < 0:
            raise ValueError
        if not all(isinstance(payload[k], str)
                   for k in ('id', 'user_id', 'project_id')):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise exception.NotAuthenticated(reason='token is malformed') \
            from None
    if exp <= (now or time.time()):
        raise exception.NotAuthenticated(reason='token expired')
    return payload
