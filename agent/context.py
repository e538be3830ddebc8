"""The request context that travels with every RPC message."""
import uuid
from typing import Any, Self

from agent.security import bus_auth

#: what a context carries on the wire (and what its signature covers)
WIRE_FIELDS = bus_auth.CONTEXT_FIELDS
#: the context key the receiving dispatcher puts the checked principal in
PRINCIPAL = 'checked_principal'


class RequestContext:
    """Who asked and under which request id. ``via_api``: the request came
    from a REST caller through hvagent-api (a tenant), not from an
    operator on the bus. No user's token travels: hvagent-api checks it
    and keeps it; compute agents read images with the conductor's image
    grants (agent.security.image_grants)."""

    def __init__(self, request_id: str | None = None,
                 user_id: str | None = None, project_id: str | None = None,
                 is_admin: bool = False, via_api: bool = False,
                 principal: str | None = None) -> None:
        self.request_id = request_id or 'req-' + str(uuid.uuid4())
        self.user_id = user_id
        self.project_id = project_id
        self.is_admin = is_admin
        self.via_api = via_api
        #: who signed the message this context came with (bus_auth), as
        #: the receiving server checked it; None for an in-process call
        self.principal = principal

    @property
    def host_scope(self) -> str | None:
        """The host a compute node's message is confined to, else None."""
        return bus_auth.host_of(self.principal)

    def __repr__(self) -> str:
        return '<RequestContext %s user=%s project=%s%s>' % (
            self.request_id, self.user_id, self.project_id,
            ' via api' if self.via_api else '')

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            'request_id': self.request_id, 'user_id': self.user_id,
            'project_id': self.project_id, 'is_admin': self.is_admin}
        if self.via_api:
            values['via_api'] = True
        return values

    @classmethod
    def from_dict(cls, values: object) -> Self:
        wire: dict[str, Any] = values if isinstance(values, dict) else {}

        def text(key: str) -> str | None:
            value = wire.get(key)
            return value[:64] if isinstance(value, str) and value else None
        # set only by the receiving dispatcher, after checking the signature
        principal = wire.get(PRINCIPAL)
        principal = principal if isinstance(principal, str) else None
        # a compute node speaks for its host, never as an admin
        is_admin = wire.get('is_admin') is True and \
            bus_auth.host_of(principal) is None
        return cls(request_id=text('request_id'), user_id=text('user_id'),
                   project_id=text('project_id'), is_admin=is_admin,
                   via_api=wire.get('via_api') is True,
                   principal=principal)


def admin_context() -> RequestContext:
    return RequestContext(user_id='admin', project_id='admin', is_admin=True)
