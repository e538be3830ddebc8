"""The conductor's identity endpoint: projects, users, role assignments.

Passwords arrive in clear (on the controller-only topic) and are hashed
here (agent.conductor.passwords); no answer carries a hash. Logins and
token checks are agent.conductor.auth's.

Since 1.8 user_create and bootstrap take ``password`` (a 1.2 caller's
``password_hash`` is still taken as it is), and user_update enables or
disables a user and sets the project a login without one goes to. Since
1.17 user_list lists every user (project_id None), user_show shows one
with its role assignments and user_create may give no role (the API's
keystone shapes).
"""
import datetime
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import passwords
from agent.db import api_models as A
from agent.db import models as M
from agent.db import net_models as N
from agent.db import paging
from agent.objects import fields as f
from agent.rpc import checks

ROLES = ('admin', 'itsec', 'project_manager', 'netadmin', 'developer')
NAME = f.String(max_length=255)
ID = f.String(max_length=64)
LIMIT = f.Integer(min=1, max=10000, nullable=True)
MARKER = f.String(max_length=64, nullable=True)
HASH = f.String(max_length=255, nullable=True)
PASSWORD = f.String(max_length=1024, nullable=True)


def _project(row):
    return {'id': row.id, 'name': row.name, 'description': row.description,
            'enabled': row.enabled}


def _user(row, roles=None):
    out = {'id': row.id, 'name': row.name, 'enabled': row.enabled,
           'default_project_id': row.default_project_id}
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


def cut_off_tokens(row):
    """Refuse every token of the user issued up to this second (the stamp
    is rounded up: databases may keep whole seconds only)."""
    now = M.utcnow().replace(microsecond=0)
    row.password_changed_at = now + datetime.timedelta(seconds=1)


def set_password(row, password_hash):
    row.password_hash = password_hash
    cut_off_tokens(row)


def project_holdings(s, project_id):
    """[(what, count)] of what ``project_id`` still holds: what must go
    before the project may (its ``default`` security group may stay)."""
    counts = (
        ('server(s)', M.Instance, M.Instance.deleted == 0),
        ('volume(s)', A.Volume, sa.true()),
        ('image(s)', A.Image, sa.true()),
        ('network(s)', N.Network, sa.true()),
        ('port(s)', N.Port, sa.true()),
        ('floating IP(s)', N.FloatingIP, sa.true()),
        ('security group(s)', N.SecurityGroup,
         N.SecurityGroup.name != 'default'))
    held = []
    for what, model, extra in counts:
        n = s.scalar(sa.select(sa.func.count()).select_from(model).where(
            model.project_id == project_id, extra))
        if n:
            held.append((what, n))
    return held


def new_hash(password, password_hash):
    """The hash of ``password`` (1.8), or a 1.2 caller's ready hash."""
    if (password is None) == (password_hash is None):
        raise exception.InvalidRPCPayload(
            'give exactly one of password and password_hash')
    return password_hash or passwords.hash_password(password)


class IdentityManager(endpoint.Endpoint):
    target = messaging.Target(version='1.20')  # see conductor_rpcapi.ConductorAPI

    # --------------------------------------------------------- projects
    @checks.expects(name=NAME, description=f.String(max_length=65535,
                                                 nullable=True))
    def project_create(self, ctxt, name, description):
        with self._session() as s:
            _unique(s, M.Project, name, 'Project')
            row = M.Project(id=uuidlib.uuid4().hex, name=name,
                            description=description, enabled=True)
            s.add(row)
            s.flush()
            return _project(row)

    @checks.expects(ref=NAME)
    def project_show(self, ctxt, ref):
        with self._session() as s:
            return _project(project_get(s, ref))

    @checks.expects(limit=LIMIT, marker=MARKER)
    def project_list(self, ctxt, limit, marker):
        with self._session() as s:
            return [_project(r) for r in paging.page(
                s, sa.select(M.Project), M.Project, M.Project.id,
                M.Project.name, limit, marker)]

    # ------------------------------------------------------------ users
    @checks.expects(name=NAME, password_hash=HASH, password=PASSWORD,
                 project_id=f.String(max_length=64, nullable=True),
                 role=f.Enum(ROLES, default='developer', nullable=True))
    def user_create(self, ctxt, name, password_hash, password, project_id,
                    role):
        """A user with ``role`` in ``project_id`` (their default project),
        in one transaction; ``role`` None (1.17): no role yet (keystone's
        POST /v3/users; no log-in until one is granted); ``project_id``
        None too (1.20): a user of no project, whose logins name one."""
        hashed = new_hash(password, password_hash)
        if project_id is None and role is not None:
            raise exception.InvalidRPCPayload('a user of no project has no role')
        with self._session() as s:
            project = None if project_id is None else \
                project_get(s, project_id)
            _unique(s, M.User, name, 'User')
            row = M.User(id=uuidlib.uuid4().hex, name=name,
                         password_hash=hashed, enabled=True,
                         default_project_id=project and project.id)
            s.add(row)
            s.flush()
            if role is None:
                return _user(row, [])
            grant(s, row.id, project.id, role)
            return _user(row, [role])

    @checks.expects(project_id=f.String(max_length=64, nullable=True),
                    limit=LIMIT, marker=MARKER)
    def user_list(self, ctxt, project_id, limit, marker):
        """Users with a role in ``project_id``, with their roles there;
        None (1.17): every user, without roles."""
        with self._session() as s:
            query = sa.select(M.User)
            if project_id is not None:
                query = query.where(M.User.id.in_(sa.select(
                    M.RoleAssignment.user_id).where(
                        M.RoleAssignment.project_id == project_id)))
            rows = paging.page(s, query, M.User, M.User.id, M.User.name,
                               limit, marker)
            return [_user(r, None if project_id is None else
                          roles_of(s, r.id, project_id)) for r in rows]

    @checks.expects(ref=NAME)
    def user_show(self, ctxt, ref):
        """A user by id or name (1.17), with every role assignment it
        holds: ``assignments`` [{"project_id", "role"}]."""
        with self._session() as s:
            row = user_get(s, ref)
            out = _user(row)
            out['assignments'] = [
                {'project_id': project_id, 'role': role}
                for project_id, role in s.execute(sa.select(
                    M.RoleAssignment.project_id, M.Role.name).join(
                        M.Role, M.RoleAssignment.role_id == M.Role.id).where(
                        M.RoleAssignment.user_id == row.id).order_by(
                        M.RoleAssignment.project_id, M.Role.name))]
            return out

    @checks.expects(user=NAME, project_id=ID, role=f.Enum(ROLES),
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

    @checks.expects(user_id=ID, enabled=f.Boolean(nullable=True),
                 default_project=f.String(max_length=255, nullable=True))
    def user_update(self, ctxt, user_id, enabled, default_project):
        """Enable or disable a user (disabled: no login, every token
        issued before refused for good); set the project (id or name, one
        the user has a role in) a login without one goes to. The API
        polices who may."""
        with self._session() as s:
            row = s.get(M.User, user_id)
            if row is None:
                raise exception.UserNotFound(user=user_id)
            if default_project is not None:
                project = project_get(s, default_project)
                if not roles_of(s, row.id, project.id):
                    raise exception.InvalidRPCPayload(
                        'user %s has no role in project %s'
                        % (row.name, default_project))
                row.default_project_id = project.id
            if enabled is False and row.enabled:
                cut_off_tokens(row)     # enabled again, they stay dead
            if enabled is not None:
                row.enabled = enabled
            s.flush()
            return _user(row)

    @checks.expects(user_id=ID)
    def user_delete(self, ctxt, user_id):
        """A user with their role assignments and key pairs (1.20); the
        tokens they hold are refused from now on (no such user)."""
        with self._session() as s:
            row = s.get(M.User, user_id)
            if row is None:
                raise exception.UserNotFound(user=user_id)
            s.execute(sa.delete(M.RoleAssignment).where(
                M.RoleAssignment.user_id == row.id))
            s.execute(sa.delete(M.KeyPair).where(
                M.KeyPair.user_id == row.id))
            s.delete(row)

    @checks.expects(project_id=ID)
    def project_delete(self, ctxt, project_id):
        """An empty project (1.20): one still holding servers, volumes,
        images, networks, ports, floating IPs or security groups other
        than its ``default`` is refused (ProjectNotEmpty, naming them);
        its role assignments, quotas and default group go with it and
        its users' default project is unset."""
        with self._session() as s:
            row = s.get(M.Project, project_id)
            if row is None:
                raise exception.ProjectNotFound(project=project_id)
            held = project_holdings(s, row.id)
            if held:
                raise exception.ProjectNotEmpty(project=row.name, held=', '.join(
                    '%d %s' % (n, what) for what, n in held))
            groups = sa.select(N.SecurityGroup.id).where(
                N.SecurityGroup.project_id == row.id)
            s.execute(sa.delete(N.SecurityGroupRule).where(
                N.SecurityGroupRule.security_group_id.in_(groups)))
            s.execute(sa.delete(N.SecurityGroup).where(
                N.SecurityGroup.project_id == row.id))
            for model in (M.RoleAssignment, A.Quota):
                s.execute(sa.delete(model).where(
                    model.project_id == row.id))
            s.execute(sa.update(M.User).where(
                M.User.default_project_id == row.id).values(
                    default_project_id=None))
            s.delete(row)

    @checks.expects(user=NAME, password_hash=HASH, password=PASSWORD,
                 project=NAME)
    def bootstrap(self, ctxt, user, password_hash, password, project):
        """Make ``user`` (password set anew, older tokens refused) admin
        of ``project``, creating both as needed: the first login of a new
        cloud. Idempotent."""
        hashed = new_hash(password, password_hash)
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
            set_password(row, hashed)
            row.enabled = True
            row.default_project_id = row.default_project_id or proj.id
            s.flush()
            grant(s, row.id, proj.id, 'admin')
            return {'user_id': row.id, 'project_id': proj.id}
