"""Roles, their grants and role assignments in keystone's shapes: the
seed's five roles (and keystone's names for two of them,
identity_schemas.ROLE_ALIASES), granted per project."""
from fastapi import APIRouter
from fastapi import Query
from fastapi import Request
from fastapi import Response

from agent import exception
from agent.api import auth_schemas
from agent.api import deps
from agent.api import identity_schemas as ks
from agent.api import paging
from agent.api import service_catalog
from agent.api.identity.projects import project_of
from agent.api.identity.projects import user_of

router = APIRouter(tags=['identity'])


def _role(role_id):
    return {'id': role_id, 'name': role_id, 'domain_id': None,
            'description': ks.ROLE_DESCRIPTIONS[role_id]}


@router.get('/v3/roles', response_model=ks.Roles)
def role_list(request: Request, caller: deps.Caller = deps.CALLER,
              name: str | None = Query(None, min_length=1, max_length=255)):
    """The roles there are; ``name``: the one of that name."""
    roles = [_role(r) for r in ks.ROLE_DESCRIPTIONS
             if name is None or r == name]
    return {'roles': roles, 'links': paging.links(request, None)}


@router.get('/v3/roles/{role_id}', response_model=ks.RoleOut)
def role_show(role_id: str, caller: deps.Caller = deps.CALLER):
    if role_id not in ks.ROLE_DESCRIPTIONS:
        raise exception.NotFound('Role %s could not be found' % role_id)
    return {'role': _role(role_id)}


def _grant(project, user, role, caller, revoke):
    pid = project_of(caller, project)['id']
    role = ks.seed_role(role)
    caller.check('role:assign', pid, role=role)
    deps.conductor().role_assign(caller.ctxt, user=user, project_id=pid,
                                 role=role, revoke=revoke)
    return Response(status_code=204)


@router.put('/v3/projects/{project}/users/{user}/roles/{role}',
            status_code=204)
def role_grant(project: str, user: str, role: ks.ROLE_REF,
               caller: deps.Caller = deps.CALLER):
    """Give an existing user ``role`` in the project."""
    return _grant(project, user, role, caller, revoke=False)


@router.delete('/v3/projects/{project}/users/{user}/roles/{role}',
               status_code=204)
def role_revoke(project: str, user: str, role: ks.ROLE_REF,
                caller: deps.Caller = deps.CALLER):
    return _grant(project, user, role, caller, revoke=True)


@router.get('/v3/projects/{project}/users/{user}/roles/{role}',
            status_code=204)
@router.head('/v3/projects/{project}/users/{user}/roles/{role}',
             status_code=204, include_in_schema=False)
def role_check(project: str, user: str, role: ks.ROLE_REF,
               caller: deps.Caller = deps.CALLER):
    """204 if the user holds ``role`` in the project, else 404."""
    pid = project_of(caller, project)['id']
    found = user_of(caller, user)
    if {'project_id': pid, 'role': ks.seed_role(role)} not in \
            found['assignments']:
        raise exception.NotFound('User %s has no role %s in project %s'
                                 % (user, role, project))
    return Response(status_code=204)


def _visible_assignments(caller, user_ref, project_ref):
    """(user id, user name, project id, role) the caller may see."""
    if user_ref is not None:
        user = user_of(caller, user_ref)
        pid = project_ref and project_of(caller, project_ref)['id']
        mine = user['id'] == caller.user_id or caller.can('user:list:all')
        return [(user['id'], user['name'], a['project_id'], a['role'])
                for a in user['assignments']
                if (pid is None or a['project_id'] == pid) and
                (mine or a['project_id'] == caller.project_id)]
    if project_ref is not None:
        pids = [project_of(caller, project_ref)['id']]
    elif caller.can('user:list:all'):
        pids = [p['id'] for p in deps.conductor().project_list(caller.ctxt)]
    else:
        pids = [caller.project_id]
    out = []
    for pid in pids:
        caller.check('user:list', pid)
        for user in deps.conductor().user_list(caller.ctxt, project_id=pid):
            out += [(user['id'], user['name'], pid, role)
                    for role in user['roles']]
    return out


@router.get('/v3/role_assignments', response_model=ks.Assignments,
            response_model_exclude_none=True)
def assignment_list(
        request: Request, caller: deps.Caller = deps.CALLER,
        user_id: str | None = Query(None, alias='user.id', min_length=1,
                                    max_length=255),
        project_id: str | None = Query(None, alias='scope.project.id',
                                       min_length=1, max_length=255),
        role_id: str | None = Query(None, alias='role.id', min_length=1,
                                    max_length=255),
        include_names: bool = False, effective: bool = False):
    """Who holds which role where: filtered by user, project (scope) and
    role; admin and itsec see every project's, others their own
    project's and their own. Every assignment is direct (``effective``
    changes nothing: there are no groups or inherited roles)."""
    role = role_id and ks.seed_role(role_id)
    names = {}
    if include_names:
        names = {p['id']: p['name'] for p in (
            deps.conductor().project_list(caller.ctxt)
            if caller.can('project:list:all') else
            [project_of(caller, caller.project_id)])}
    base = service_catalog.base_url(request)
    domain = {'id': auth_schemas.DOMAIN_ID,
              'name': auth_schemas.DOMAIN_NAME} if include_names else None
    items = []
    for uid, uname, pid, held in _visible_assignments(caller, user_id,
                                                      project_id):
        if role and held != role:
            continue
        items.append({
            'role': {'id': held, 'name': held if include_names else None},
            'user': {'id': uid, 'name': uname if include_names else None,
                     'domain': domain},
            'scope': {'project': {'id': pid, 'name': names.get(pid),
                                  'domain': domain}},
            'links': {'assignment': '%s/v3/projects/%s/users/%s/roles/%s'
                      % (base, pid, uid, held)}})
    return {'role_assignments': items, 'links': paging.links(request, None)}
