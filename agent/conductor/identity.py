"""The conductor's identity endpoint: projects, users, role assignments,
and what hvagent-api needs to issue and check tokens.

Passwords arrive already hashed (argon2id, by hvagent-api) and the hash
only leaves here for the API's check at login (``auth_info``). Tokens are
signed by the API; the conductor records revocations and answers, per
request, whether a token's user still has roles in its project.
"""
import uuid as uuidlib

import sqlalchemy as sa

from agent import exception
from agent import rpc
from agent.conductor import endpoint
from agent.db import api_models
from agent.db import models as M
from agent.db import paging
from agent.objects import fields as f

ROLES = ('admin', 'itsec', 'project_manager', 'netadmin', 'developer')
NAME = f.String(max_length=255)
ID = f.String(max_length=64)
LIMIT = f.Integer(min=1, max=10000, nullable=True)
MARKER = f.String(max_length=64, nullable=True)
HASH = f.String(max_length=255)


def _project(row):
    return {'id': row.id, 'name': row.name, 'description': row.description,
            'enabled': row.enabled}


def _user(row, roles=None):
    out = {'id': row.id, 'name': row.name, 'enabled': row.enabled}
    if roles is not None:
        out['roles'] = roles
    return out


def _by_id_or_name(s, model, ref, error):
    row = s.get(model, ref) or s.scalar(sa.select(model).where(
        model.name == ref))
    if row is None:
        raise error
    return row


def project_get(s, ref):
    return _by_id_or_name(s, M.Project, ref,
                          exception.ProjectNotFound(project=ref))


def user_get(s, ref):
    return _by_id_or_name(s, M.User, ref, exception.UserNotFound(user=ref))


def roles_of(s, user_id, project_id):
    return sorted(s.scalars(sa.select(M.Role.name).join(
        M.RoleAssignment, M.RoleAssignment.role_id == M.Role.id).where(
            M.RoleAssignment.user_id == user_id,
            M.RoleAssignment.project_id == project_id)).all())


def _unique(s, model, name, what):
    if s.scalar(sa.select(model.id).where(model.name == name)) is not None:
        raise exception.Conflict(what='%s %s' % (what, name))


def grant(s, user_id, project_id, role):
    role_id = s.scalar(sa.select(M.Role.id).where(M.Role.name == role))
    if role not in ROLES or role_id is None:
        raise exception.InvalidRPCPayload('unknown role %s' % role)
    if role not in roles_of(s, user_id, project_id):
        s.add(M.RoleAssignment(user_id=user_id, project_id=project_id,
                               role_id=role_id))
        s.flush()


class IdentityManager(endpoint.Endpoint):
    # --------------------------------------------------------- projects
    @rpc.expects(name=NAME, description=f.String(max_length=65535,
                                                 nullable=True))
    def project_create(self, ctxt, name, description):
        with self._session() as s:
            _unique(s, M.Project, name, 'Project')
            row = M.Project(id=uuidlib.uuid4().hex, name=name,
                            description=description, enabled=True)
            s.add(row)
            s.flush()
            return _project(row)

    @rpc.expects(ref=NAME)
    def project_show(self, ctxt, ref):
        with self._session() as s:
            return _project(project_get(s, ref))

    @rpc.expects(limit=LIMIT, marker=MARKER)
    def project_list(self, ctxt, limit, marker):
        with self._session() as s:
            return [_project(r) for r in paging.page(
                s, sa.select(M.Project), M.Project, M.Project.id,
                M.Project.name, limit, marker)]

    # ------------------------------------------------------------ users
    @rpc.expects(name=NAME, password_hash=HASH, project_id=ID,
                 role=f.Enum(ROLES, default='developer'))
    def user_create(self, ctxt, name, password_hash, project_id, role):
        """A user with ``role`` in ``project_id``, in one transaction."""
        with self._session() as s:
            project = project_get(s, project_id)
            _unique(s, M.User, name, 'User')
            row = M.User(id=uuidlib.uuid4().hex, name=name,
                         password_hash=password_hash, enabled=True)
            s.add(row)
            s.flush()
            grant(s, row.id, project.id, role)
            return _user(row, [role])

    @rpc.expects(project_id=ID, limit=LIMIT, marker=MARKER)
    def user_list(self, ctxt, project_id, limit, marker):
        """Users with a role in ``project_id``, with their roles there."""
        with self._session() as s:
            members = sa.select(M.RoleAssignment.user_id).where(
                M.RoleAssignment.project_id == project_id)
            rows = paging.page(s, sa.select(M.User).where(
                M.User.id.in_(members)), M.User, M.User.id, M.User.name,
                limit, marker)
            return [_user(r, roles_of(s, r.id, project_id)) for r in rows]

    @rpc.expects(user=NAME, project_id=ID, role=f.Enum(ROLES),
                 revoke=f.Boolean(default=False))
    def role_assign(self, ctxt, user, project_id, role, revoke):
        with self._session() as s:
            row = user_get(s, user)
            project = project_get(s, project_id)
            if revoke:
                s.execute(sa.delete(M.RoleAssignment).where(
                    M.RoleAssignment.user_id == row.id,
                    M.RoleAssignment.project_id == project.id,
                    M.RoleAssignment.role_id.in_(sa.select(M.Role.id).where(
                        M.Role.name == role))))
            else:
                grant(s, row.id, project.id, role)
            return _user(row, roles_of(s, row.id, project.id))

    # ----------------------------------------------------------- tokens
    @rpc.expects(user=NAME, project=f.String(max_length=255, nullable=True))
    def auth_info(self, ctxt, user, project):
        """What a login is checked against: the user's hash, and the
        project (the named one, else the first the user has a role in)
        with the user's roles there. Unknown user: NotAuthenticated."""
        fail = exception.NotAuthenticated(reason='invalid credentials')
        with self._session() as s:
            row = s.scalar(sa.select(M.User).where(M.User.name == user))
            if row is None or not row.enabled:
                raise fail
            if project:
                proj = s.scalar(sa.select(M.Project).where(sa.or_(
                    M.Project.name == project, M.Project.id == project)))
            else:
                proj = s.scalar(sa.select(M.Project).where(M.Project.id.in_(
                    sa.select(M.RoleAssignment.project_id).where(
                        M.RoleAssignment.user_id == row.id))).order_by(
                            M.Project.name).limit(1))
            roles = roles_of(s, row.id, proj.id) if proj else []
            return {'user_id': row.id, 'user_name': row.name,
                    'password_hash': row.password_hash or '',
                    'project_id': proj and proj.id,
                    'project_name': proj and proj.name, 'roles': roles}

    @rpc.expects(token_id=ID, user_id=ID, project_id=ID)
    def token_check(self, ctxt, token_id, user_id, project_id):
        """The roles the token's user holds now in its project; revoked,
        disabled or roleless: NotAuthenticated."""
        with self._session() as s:
            if s.get(api_models.RevokedToken, token_id) is not None:
                raise exception.NotAuthenticated(reason='token revoked')
            row = s.get(M.User, user_id)
            roles = roles_of(s, user_id, project_id) if row else []
            if row is None or not row.enabled or not roles:
                raise exception.NotAuthenticated(
                    reason='user has no role in the project any more')
            return {'roles': roles, 'user_name': row.name}

    @rpc.expects(token_id=ID, expires_at=f.DateTime())
    def token_revoke(self, ctxt, token_id, expires_at):
        """Record the revocation (idempotent); purge expired ones."""
        R = api_models.RevokedToken
        with self._session() as s:
            s.execute(sa.delete(R).where(R.expires_at < M.utcnow()))
            if s.get(R, token_id) is None:
                s.add(R(id=token_id,
                        expires_at=expires_at.replace(tzinfo=None)))

    @rpc.expects(user=NAME, password_hash=HASH, project=NAME)
    def bootstrap(self, ctxt, user, password_hash, project):
        """Make ``user`` (password set anew) admin of ``project``, creating
        both as needed: the first login of a new cloud. Idempotent."""
        with self._session() as s:
            proj = s.scalar(sa.select(M.Project).where(
                M.Project.name == project))
            if proj is None:
                proj = M.Project(id=uuidlib.uuid4().hex, name=project,
                                 description='bootstrap', enabled=True)
                s.add(proj)
            row = s.scalar(sa.select(M.User).where(M.User.name == user))
            if row is None:
                row = M.User(id=uuidlib.uuid4().hex, name=user, enabled=True)
                s.add(row)
            row.password_hash, row.enabled = password_hash, True
            s.flush()
            grant(s, row.id, proj.id, 'admin')
            return {'user_id': row.id, 'project_id': proj.id}
