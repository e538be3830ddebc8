"""The request context that travels with every RPC message."""
import uuid

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

    def __init__(self, request_id=None, user_id=None, project_id=None,
                 is_admin=False, via_api=False, principal=None):
        self.request_id = request_id or 'req-' + str(uuid.uuid4())
        self.user_id = user_id
        self.project_id = project_id
        self.is_admin = is_admin
        self.via_api = via_api
        #: who signed the message this context came with (bus_auth), as
        #: the receiving server checked it; None for an in-process call
        self.principal = principal

    @property
    def host_scope(self):
        """The host a compute node's message is confined to, else None."""
        return bus_auth.host_of(self.principal)

    def __repr__(self):
        return '<RequestContext %s user=%s project=%s%s>' % (
            self.request_id, self.user_id, self.project_id,
            ' via api' if self.via_api else '')

    def to_dict(self):
        values = {'request_id': self.request_id, 'user_id': self.user_id,
                  'project_id': self.project_id, 'is_admin': self.is_admin}
        if self.via_api:
            values['via_api'] = True
        return values

    @classmethod
    def from_dict(cls, values):
        values = values if isinstance(values, dict) else {}

        def text(key):
            value = values.get(key)
            return value[:64] if isinstance(value, str) and value else None
        # set only by the receiving dispatcher, after checking the signature
        principal = values.get(PRINCIPAL)
        principal = principal if isinstance(principal, str) else None
        # a compute node speaks for its host, never as an admin
        is_admin = values.get('is_admin') is True and \
            bus_auth.host_of(principal) is None
        return cls(request_id=text('request_id'), user_id=text('user_id'),
                   project_id=text('project_id'), is_admin=is_admin,
                   via_api=values.get('via_api') is True,
                   principal=principal)


def admin_context():
    return RequestContext(user_id='admin', project_id='admin', is_admin=True)
