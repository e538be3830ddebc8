"""Projects, their users and roles, users' own accounts, and quotas."""
from fastapi import APIRouter
from fastapi import Depends
from fastapi import HTTPException
from fastapi import Request
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas
from agent.api import throttle

router = APIRouter(tags=['identity'])


def _project_id(caller, ref):
    """The id of project ``ref`` (id or name), once the caller may read
    it (else 404: another project's existence is not told)."""
    project = deps.conductor().project_show(caller.ctxt, ref=ref)
    if not caller.can('project:show', project['id']):
        raise exception.ProjectNotFound(project=ref)
    return project


@router.post('/v3/projects', status_code=201,
             response_model=schemas.ProjectOut)
def project_create(body: schemas.ProjectIn,
                   caller: deps.Caller = deps.CALLER):
    caller.check('project:create')
    return {'project': deps.conductor().project_create(
        caller.ctxt, name=body.name, description=body.description)}


@router.get('/v3/projects', response_model=schemas.Projects)
def project_list(caller: deps.Caller = deps.CALLER,
                 limit: int = Depends(paging.limit_param),
                 marker: str | None = Depends(paging.marker_param)):
    """Every project for admin and itsec, else the caller's own."""
    if not caller.can('project:list:all'):
        own = [deps.conductor().project_show(caller.ctxt,
                                             ref=caller.project_id)]
        items, nxt = paging.page(own, limit, marker, lambda p: p['id'])
        return {'projects': items, 'next_marker': nxt}
    items = deps.conductor().project_list(caller.ctxt, limit=limit,
                                          marker=marker)
    return {'projects': items,
            'next_marker': paging.next_marker(items, limit,
                                              lambda p: p['id'])}


@router.get('/v3/projects/{project}', response_model=schemas.ProjectOut)
def project_show(project: str, caller: deps.Caller = deps.CALLER):
    return {'project': _project_id(caller, project)}


@router.post('/v3/projects/{project}/users', status_code=201,
             response_model=schemas.UserOut)
def user_create(project: str, body: schemas.UserIn,
                caller: deps.Caller = deps.CALLER):
    """A new user with a role in the project (project managers may give
    developer or netadmin in their own project)."""
    pid = _project_id(caller, project)['id']
    caller.check('user:create', pid, role=body.role)
    return {'user': deps.conductor().user_create(
        caller.ctxt, name=body.name, project_id=pid, role=body.role,
        password=body.password)}


@router.get('/v3/projects/{project}/users', response_model=schemas.Users)
def user_list(project: str, caller: deps.Caller = deps.CALLER,
              limit: int = Depends(paging.limit_param),
              marker: str | None = Depends(paging.marker_param)):
    pid = _project_id(caller, project)['id']
    caller.check('user:list', pid)
    items = deps.conductor().user_list(caller.ctxt, project_id=pid,
                                       limit=limit, marker=marker)
    return {'users': items, 'next_marker': paging.next_marker(
        items, limit, lambda u: u['id'])}


def _assign(project, user, role, caller, revoke):
    pid = _project_id(caller, project)['id']
    caller.check('role:assign', pid, role=role)
    return {'user': deps.conductor().role_assign(
        caller.ctxt, user=user, project_id=pid, role=role, revoke=revoke)}


@router.put('/v3/projects/{project}/users/{user}/roles/{role}',
            response_model=schemas.UserOut)
def role_grant(project: str, user: str, role: schemas.ROLE,
               caller: deps.Caller = deps.CALLER):
    """Add an existing user to the project with ``role``."""
    return _assign(project, user, role, caller, revoke=False)


@router.delete('/v3/projects/{project}/users/{user}/roles/{role}',
               response_model=schemas.UserOut)
def role_revoke(project: str, user: str, role: schemas.ROLE,
                caller: deps.Caller = deps.CALLER):
    return _assign(project, user, role, caller, revoke=True)


@router.post('/v3/users/{user_id}/password', status_code=204,
             responses={401: {'description': 'original password wrong'}})
def password_change(user_id: str, body: schemas.PasswordChange,
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


@router.patch('/v3/users/{user_id}', response_model=schemas.UserOut)
def user_update(user_id: str, body: schemas.UserUpdate,
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


@router.get('/v1/quotas/{project}', response_model=schemas.Quotas)
def quota_show(project: str, caller: deps.Caller = deps.CALLER):
    """Limits and usage; over a limit a request fails with 403."""
    pid = _project_id(caller, project)['id']
    caller.check('quota:show', pid)
    return {'quotas': deps.conductor().quota_show(caller.ctxt,
                                                  project_id=pid)}


@router.put('/v1/quotas/{project}', response_model=schemas.Quotas)
def quota_update(project: str, body: schemas.QuotaUpdate,
                 caller: deps.Caller = deps.CALLER):
    pid = _project_id(caller, project)['id']
    caller.check('quota:update', pid)
    return {'quotas': deps.conductor().quota_set(
        caller.ctxt, project_id=pid, limits=body.model_dump())}


