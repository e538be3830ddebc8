"""Identity v3 request bodies in keystone's shapes: what
``POST /v3/auth/tokens`` takes from the OpenStack clients
(keystoneauth1, hence python-openstackclient and openstacksdk).

hvagent has one domain, ``Default`` (id ``default``): a name or id of
another is refused like a wrong password. Tokens are always project
scoped; without a ``scope`` the user's default project is taken.
"""
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import model_validator

from agent.api.schemas import Strict

DOMAIN_ID = 'default'
DOMAIN_NAME = 'Default'
Ident = Field(None, min_length=1, max_length=255)


class DomainRef(Strict):
    id: str | None = Ident
    name: str | None = Ident

    def is_default(self) -> bool:
        return (self.id in (None, DOMAIN_ID)
                and self.name in (None, DOMAIN_NAME, DOMAIN_ID)
                and (self.id or self.name) is not None)


class PasswordUser(Strict):
    name: str | None = Ident
    id: str | None = Ident
    domain: DomainRef | None = None
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode='after')
    def _named(self):
        if self.name is None and self.id is None:
            raise ValueError('the user is named by "id", or by "name" '
                             'with its domain')
        return self


class PasswordMethod(Strict):
    user: PasswordUser


class AuthIdentity(Strict):
    methods: list[Literal['password']] = Field(
        min_length=1, max_length=1, description='only "password"')
    password: PasswordMethod


class ProjectScope(Strict):
    id: str | None = Ident
    name: str | None = Ident
    domain: DomainRef | None = None

    @model_validator(mode='after')
    def _named(self):
        if self.id is None and self.name is None:
            raise ValueError('a project scope needs an id or a name')
        return self


class Scope(Strict):
    project: ProjectScope = Field(description='hvagent issues project '
                                  'scoped tokens only')


class Auth(Strict):
    identity: AuthIdentity
    scope: Scope | None = None


class AuthRequest(Strict):
    """keystone's password authentication, e.g. ``{"auth": {"identity":
    {"methods": ["password"], "password": {"user": {"name": "alice",
    "domain": {"id": "default"}, "password": "..."}}}, "scope":
    {"project": {"name": "demo", "domain": {"id": "default"}}}}}``."""
    auth: Auth

    def in_default_domain(self) -> bool:
        """Whether every domain the body names is the one there is."""
        refs = [self.auth.identity.password.user.domain]
        if self.auth.scope is not None:
            refs.append(self.auth.scope.project.domain)
        return all(ref is None or ref.is_default() for ref in refs)


# ------------------------------------------------------------- answers

class Domain(BaseModel):
    id: str
    name: str


class TokenUser(BaseModel):
    id: str
    name: str
    domain: Domain
    password_expires_at: str | None = None


class TokenProject(BaseModel):
    id: str
    name: str
    domain: Domain


class Role(BaseModel):
    id: str
    name: str


class Endpoint(BaseModel):
    id: str
    interface: Literal['public', 'internal', 'admin']
    region: str
    region_id: str
    url: str


class Service(BaseModel):
    id: str
    type: str
    name: str
    endpoints: list[Endpoint]


class Token(BaseModel):
    methods: list[str]
    audit_ids: list[str]
    expires_at: str
    issued_at: str
    user: TokenUser
    project: TokenProject
    is_domain: bool
    roles: list[Role]
    catalog: list[Service] | None = None


class TokenOut(BaseModel):
    token: Token


class Catalog(BaseModel):
    catalog: list[Service]
    links: dict[str, str | None]


class Link(BaseModel):
    rel: str
    href: str


class MediaType(BaseModel):
    base: str
    type: str


class Version(BaseModel):
    id: str
    status: str
    updated: str
    links: list[Link]
    media_types: list[MediaType] = Field(alias='media-types')


class VersionOut(BaseModel):
    version: Version


class VersionValues(BaseModel):
    values: list[Version]


class Versions(BaseModel):
    versions: VersionValues
