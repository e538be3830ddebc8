"""Projects and users in keystone's shapes and users' own accounts.
Roles and their grants: roles.py."""
from fastapi import APIRouter
from fastapi import Depends
from fastapi import HTTPException
from fastapi import Query
from fastapi import Request
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import identity_schemas as ks
from agent.api import paging
from agent.api import throttle

router = APIRouter(tags=['identity'])


def project_of(caller, ref):
    """Project ``ref`` (id or name), once the caller may read it (else
    404: another project's existence is not told)."""
    project = deps.conductor().project_show(caller.ctxt, ref=ref)
    if not caller.can('project:show', project['id']):
        raise exception.ProjectNotFound(project=ref)
    return project


def user_of(caller, ref):
    """User ``ref`` (id or name) with its assignments, once the caller
    may see it: themself, a user with a role in the caller's project, or
    anyone for admin and itsec (else 404)."""
    user = deps.conductor().user_show(caller.ctxt, ref=ref)
    if user['id'] != caller.user_id and not caller.can('user:list:all') \
            and not any(a['project_id'] == caller.project_id
                        for a in user['assignments']):
        raise exception.UserNotFound(user=ref)
    return user


def _user(user):
    return {k: v for k, v in user.items() if k != 'assignments'}


@router.post('/v3/projects', status_code=201, response_model=ks.ProjectOut)
def project_create(body: ks.ProjectIn, caller: deps.Caller = deps.CALLER):
    caller.check('project:create')
    return {'project': deps.conductor().project_create(
        caller.ctxt, name=body.project.name,
        description=body.project.description)}


@router.get('/v3/projects', response_model=ks.Projects)
def project_list(request: Request, caller: deps.Caller = deps.CALLER,
                 name: str | None = Query(None, min_length=1,
                                          max_length=255),
                 limit: int = Depends(paging.limit_param),
                 marker: str | None = Depends(paging.marker_param)):
    """Every project for admin and itsec, else the caller's own;
    ``name``: only the one of that name."""
    if name is not None or not caller.can('project:list:all'):
        try:
            own = [project_of(caller, name or caller.project_id)]
        except exception.ProjectNotFound:
            own = []
        if name is not None:
            own = [p for p in own if p['name'] == name]
        items, nxt = paging.page(own, limit, marker, lambda p: p['id'])
    else:
        items = deps.conductor().project_list(caller.ctxt, limit=limit,
                                              marker=marker)
        nxt = paging.next_marker(items, limit, lambda p: p['id'])
    return {'projects': items, 'next_marker': nxt,
            'links': paging.links(request, nxt)}


@router.get('/v3/projects/{project}', response_model=ks.ProjectOut)
def project_show(project: str, caller: deps.Caller = deps.CALLER):
    return {'project': project_of(caller, project)}


@router.delete('/v3/projects/{project_id}', status_code=204)
def project_delete(project_id: str, caller: deps.Caller = deps.CALLER):
    """An empty project (admin): 409 naming what it still holds
    (servers, volumes, images, networks, ports, floating IPs, security
    groups but its default one); its role assignments go with it, and
    every token scoped to it is refused from then on."""
    caller.check('project:delete')
    deps.conductor().project_delete(caller.ctxt, project_id=project_id)
    return Response(status_code=204)


@router.post('/v3/users', status_code=201, response_model=ks.UserOut)
def user_create(body: ks.UserIn, caller: deps.Caller = deps.CALLER):
    """A user in its default project, with no role yet: grant one (PUT
    /v3/projects/{p}/users/{u}/roles/{r}). Admin, or the project's
    manager (who may grant developer and netadmin there); a user of no
    project (keystone v3's, as Tempest makes them): admin."""
    pid = body.user.default_project_id
    if pid is None:
        caller.check('user:create:no_project')
    else:
        pid = project_of(caller, pid)['id']
        caller.check('user:create', pid, role='developer')
    return {'user': deps.conductor().user_create(
        caller.ctxt, name=body.user.name, project_id=pid, role=None,
        password=body.user.password)}


@router.get('/v3/users', response_model=ks.Users)
def user_list(request: Request, caller: deps.Caller = deps.CALLER,
              name: str | None = Query(None, min_length=1, max_length=255),
              limit: int = Depends(paging.limit_param),
              marker: str | None = Depends(paging.marker_param)):
    """Every user for admin and itsec, else the users with a role in the
    caller's project; ``name``: only the one of that name."""
    if name is not None:
        try:
            found = [_user(user_of(caller, name))]
        except exception.UserNotFound:
            found = []
        items, nxt = paging.page([u for u in found if u['name'] == name],
                                 limit, marker, lambda u: u['id'])
    else:
        every = caller.can('user:list:all')
        if not every:
            caller.check('user:list', caller.project_id)
        items = deps.conductor().user_list(
            caller.ctxt, project_id=None if every else caller.project_id,
            limit=limit, marker=marker)
        nxt = paging.next_marker(items, limit, lambda u: u['id'])
    return {'users': items, 'next_marker': nxt,
            'links': paging.links(request, nxt)}


def _projects_of(caller, user_id, request):
    user = deps.conductor().user_show(caller.ctxt, ref=user_id)
    ids = sorted({a['project_id'] for a in user['assignments']})
    items = [deps.conductor().project_show(caller.ctxt, ref=pid)
             for pid in ids]
    return {'projects': items, 'links': paging.links(request, None)}


@router.get('/v3/auth/projects', response_model=ks.Projects)
def auth_projects(request: Request, caller: deps.Caller = deps.CALLER):
    """The projects the caller has a role in (a token may be scoped
    to each)."""
    return _projects_of(caller, caller.user_id, request)


@router.get('/v3/users/{user_id}/projects', response_model=ks.Projects)
def user_projects(user_id: str, request: Request,
                  caller: deps.Caller = deps.CALLER):
    """The projects a user has a role in: the user themself, admin and
    itsec (another's: 404, as if there were no such user)."""
    if not caller.can('user:projects', user_id=user_id):
        raise exception.UserNotFound(user=user_id)
    return _projects_of(caller, user_id, request)


@router.get('/v3/users/{user}', response_model=ks.UserOut)
def user_show(user: str, caller: deps.Caller = deps.CALLER):
    return {'user': _user(user_of(caller, user))}


@router.delete('/v3/users/{user_id}', status_code=204)
def user_delete(user_id: str, caller: deps.Caller = deps.CALLER):
    """A user, with their role assignments and key pairs (admin); their
    tokens are refused from then on."""
    caller.check('user:delete')
    deps.conductor().user_delete(caller.ctxt, user_id=user_id)
    return Response(status_code=204)


@router.post('/v3/users/{user_id}/password', status_code=204,
             responses={401: {'description': 'original password wrong'}})
def password_change(user_id: str, body: ks.PasswordChange,
                    request: Request, caller: deps.Caller = deps.CALLER):
    """Change one's own password (OpenStack identity v3). Every token of
    the user issued before, this request's too, is refused after; wrong
    original passwords are throttled like failed logins."""
    caller.check('user:password', user_id=user_id)
    with throttle.COUNTER.attempt('password changes', user=caller.user_name,
                                  address=throttle.client_address(request)):
        deps.conductor().password_change(
            caller.ctxt, user_id=user_id, password=body.user.password,
            original_password=body.user.original_password)
    return Response(status_code=204)


@router.patch('/v3/users/{user_id}', response_model=ks.UserOut)
def user_update(user_id: str, body: ks.UserUpdate,
                caller: deps.Caller = deps.CALLER):
    """Enable or disable a user (admin), or set the project a login that
    names none goes to (the user themself, or admin)."""
    changes = body.user
    if changes.enabled is None and changes.default_project_id is None:
        raise HTTPException(400, 'Nothing to change: give enabled or '
                            'default_project_id')
    if changes.enabled is not None:
        caller.check('user:enable', user_id=user_id)
    if changes.default_project_id is not None:
        caller.check('user:default_project', user_id=user_id)
    return {'user': deps.conductor().user_update(
        caller.ctxt, user_id=user_id, enabled=changes.enabled,
        default_project=changes.default_project_id)}
