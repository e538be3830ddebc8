"""Identity v3 bodies in keystone's shapes: projects, users, roles and
role assignments, in the one domain there is (``Default``, id
``default``).

The roles are the seed's five; keystone's default role names stand for
two of them (ROLE_ALIASES), so ``openstack role add --user U --project P
member`` works. keystone's ``reader`` has no counterpart: the seed has no
read-only project role, and ``itsec`` reads every project, which must not
be granted by a name that promises less.
"""
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import model_validator

from agent.api.auth_schemas import DOMAIN_ID
from agent.api.auth_schemas import Domain
from agent.api.schemas import Name
from agent.api.schemas import Strict

#: keystone's default role names and the seed's role each stands for
ROLE_ALIASES = {'member': 'developer', 'manager': 'project_manager'}
ROLE_REF = Literal['admin', 'itsec', 'project_manager', 'netadmin',
                   'developer', 'member', 'manager']
ROLE_DESCRIPTIONS = {
    'admin': 'everything, in every project',
    'itsec': 'reads every project; pauses and isolates instances',
    'project_manager': "manages the project's users (as developer or "
                       'netadmin) and its instances',
    'netadmin': "the project's security groups, rules and floating IPs",
    'developer': 'boots and runs instances in the project',
    'member': 'keystone\'s name for developer',
    'manager': 'keystone\'s name for project_manager',
}


def seed_role(ref: str) -> str:
    """The seed's role a role id or name stands for."""
    return ROLE_ALIASES.get(ref, ref)


class Links(BaseModel):
    self: str
    previous: str | None = None
    next: str | None = None


# ------------------------------------------------------------- projects

class ProjectFields(Strict):
    name: str = Name
    description: str | None = Field(None, max_length=65535)
    domain_id: Literal['default'] | None = None
    enabled: Literal[True] = Field(True, description='projects are always '
                                   'enabled')
    is_domain: Literal[False] = False
    parent_id: Literal['default'] | None = None


class ProjectIn(Strict):
    """keystone's ``{"project": {"name", "description", "domain_id"}}``."""
    project: ProjectFields


class Project(BaseModel):
    id: str
    name: str
    description: str | None = None
    enabled: bool
    domain_id: str = DOMAIN_ID
    is_domain: bool = False
    parent_id: str = DOMAIN_ID
    tags: list[str] = []


class ProjectOut(BaseModel):
    project: Project


class Projects(BaseModel):
    projects: list[Project]
    links: Links
    next_marker: str | None = None


# ---------------------------------------------------------------- users

class UserFields(Strict):
    name: str = Name
    password: str = Field(min_length=8, max_length=1024)
    default_project_id: str | None = Field(
        None, min_length=1, max_length=255, description='the project (id '
        'or name) the user belongs to; logins that name none go there. '
        'Without one (admin only), each login names its project')
    project_id: str | None = Field(
        None, min_length=1, max_length=255, description="the same, by "
        "keystone's older name (Tempest sends it)")
    domain_id: Literal['default'] | None = None
    enabled: Literal[True] = True
    email: str | None = Field(None, max_length=255,
                              description='accepted, not kept')
    description: str | None = Field(None, max_length=255,
                                    description='accepted, not kept')

    @model_validator(mode='after')
    def _one_project(self):
        if self.default_project_id is None:
            self.default_project_id = self.project_id
        if self.project_id not in (None, self.default_project_id):
            raise ValueError('project_id and default_project_id differ')
        return self


class UserIn(Strict):
    """keystone's ``{"user": {"name", "password", "default_project_id"}}``:
    a user with no role yet (grant one: PUT
    /v3/projects/{p}/users/{u}/roles/{r})."""
    user: UserFields


class User(BaseModel):
    id: str
    name: str
    enabled: bool
    default_project_id: str | None = None
    domain_id: str = DOMAIN_ID
    password_expires_at: str | None = None
    roles: list[str] | None = Field(None, description='in the project '
                                    'the answer is about, if any')


class UserOut(BaseModel):
    user: User


class Users(BaseModel):
    users: list[User]
    links: Links
    next_marker: str | None = None


class NewPassword(Strict):
    password: str = Field(min_length=8, max_length=1024)
    original_password: str = Field(min_length=1, max_length=1024)


class PasswordChange(Strict):
    """OpenStack identity v3: POST /v3/users/{user_id}/password."""
    user: NewPassword


class UserChanges(Strict):
    enabled: bool | None = Field(None, description='false: no login, '
                                 'every token of the user refused (admin)')
    default_project_id: str | None = Field(
        None, min_length=1, max_length=255,
        description='where a login that names no project goes: a project '
                    '(id or name) the user has a role in (the user '
                    'themself or admin)')


class UserUpdate(Strict):
    user: UserChanges


# ---------------------------------------------------------------- roles

class Role(BaseModel):
    id: str
    name: str
    domain_id: str | None = None
    description: str


class RoleOut(BaseModel):
    role: Role


class Roles(BaseModel):
    roles: list[Role]
    links: Links


class IdName(BaseModel):
    id: str
    name: str | None = None
    domain: Domain | None = None


class AssignmentScope(BaseModel):
    project: IdName


class Assignment(BaseModel):
    role: IdName
    user: IdName
    scope: AssignmentScope
    links: dict[str, str]


class Assignments(BaseModel):
    role_assignments: list[Assignment]
    links: Links
