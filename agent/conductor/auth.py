"""The conductor's authentication endpoint: logins, password changes and
the per-request token check of hvagent-api.

The password is checked here (agent.conductor.passwords) and no answer
carries a password hash. Tokens are signed by the API with an issued-at
second this endpoint gives at login; a token issued before its user's
last password change is refused, as is a disabled user's.
"""
import calendar
import time

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import identity
from agent.conductor import passwords
from agent.db import api_models
from agent.db import models as M
from agent.objects import fields as f
from agent.rpc import checks

NAME = f.String(max_length=255)
ID = f.String(max_length=64)
PASSWORD = f.String(max_length=1024)
INVALID = 'invalid credentials'


def epoch(when):
    """Whole seconds since the epoch of a naive UTC datetime (None: 0)."""
    return calendar.timegm(when.timetuple()) if when else 0


class AuthManager(endpoint.Endpoint):
    target = messaging.Target(version='1.20')  # see conductor_rpcapi.ConductorAPI

    def _account(self, **where):
        """(id, name, hash or None, default project, changed epoch) of an
        enabled user; hash None when there is none such. The session is
        closed before the (slow, bounded) password check."""
        with self._session() as s:
            row = s.scalar(sa.select(M.User).filter_by(**where))
            if row is None or not row.enabled:
                return None, None, None, None, 0
            return (row.id, row.name, row.password_hash or None,
                    row.default_project_id, epoch(row.password_changed_at))

    @checks.expects(user=f.String(max_length=255, nullable=True),
                    user_id=f.String(max_length=64, nullable=True),
                    password=PASSWORD,
                    project=f.String(max_length=255, nullable=True))
    def authenticate(self, ctxt, user, password, project, user_id=None):
        """Check the password of ``user`` (a name) or ``user_id`` (1.20);
        return the user, the project (the named one, else the user's
        default project) and the user's roles there, and the token's
        issued-at. Unknown, disabled and wrong password alike:
        NotAuthenticated after the same work."""
        if (user is None) == (user_id is None):
            raise exception.InvalidRPCPayload('authenticate: a user name '
                                              'or a user id, not both')
        user = user or user_id
        user_id, name, hashed, default, changed = self._account(
            **({'name': user} if user_id is None else {'id': user_id}))
        if not passwords.check(hashed, password):
            raise exception.NotAuthenticated(reason=INVALID)
        with self._session() as s:
            if project:
                proj = s.scalar(sa.select(M.Project).where(sa.or_(
                    M.Project.name == project, M.Project.id == project)))
            else:
                proj = default and s.get(M.Project, default)
            roles = identity.roles_of(s, user_id, proj.id) if proj else []
            if not roles:
                raise exception.NotAuthenticated(
                    reason='user %s has no role in project %s' % (
                        user, project or '%s (its default project; name '
                        'one)' % (default or 'none')))
            return {'user_id': user_id, 'user_name': name,
                    'project_id': proj.id, 'project_name': proj.name,
                    'roles': roles,
                    'issued_at': max(int(time.time()), changed)}

    @checks.expects(user_id=ID, original_password=PASSWORD, password=PASSWORD)
    def password_change(self, ctxt, user_id, original_password, password):
        """Set a user's password once the original one checks; every
        token issued before is refused from now on."""
        _, _, hashed, _, _ = self._account(id=user_id)
        if not passwords.check(hashed, original_password):
            raise exception.NotAuthenticated(
                reason='the original password is wrong')
        new_hash = passwords.hash_password(password)
        with self._session() as s:
            identity.set_password(s.get(M.User, user_id), new_hash)

    @checks.expects(token_id=ID, user_id=ID, project_id=ID,
                 issued_at=f.Integer(min=0, nullable=True))
    def token_check(self, ctxt, token_id, user_id, project_id, issued_at):
        """The roles the token's user holds now in its project; revoked,
        issued before the user's last password change (``issued_at``,
        given since 1.8), disabled or roleless: NotAuthenticated."""
        with self._session() as s:
            if s.get(api_models.RevokedToken, token_id) is not None:
                raise exception.NotAuthenticated(reason='token revoked')
            row = s.get(M.User, user_id)
            if issued_at is not None and row is not None and \
                    issued_at < epoch(row.password_changed_at):
                raise exception.NotAuthenticated(
                    reason='the password changed after the token was '
                           'issued')
            roles = identity.roles_of(s, user_id, project_id) if row else []
            if row is None or not row.enabled or not roles:
                raise exception.NotAuthenticated(
                    reason='user has no role in the project any more')
            return {'roles': roles, 'user_name': row.name}

    @checks.expects(token_id=ID, expires_at=f.DateTime())
    def token_revoke(self, ctxt, token_id, expires_at):
        """Record the revocation (idempotent); purge expired ones."""
        R = api_models.RevokedToken
        with self._session() as s:
            s.execute(sa.delete(R).where(R.expires_at < M.utcnow()))
            if s.get(R, token_id) is None:
                s.add(R(id=token_id,
                        expires_at=expires_at.replace(tzinfo=None)))
