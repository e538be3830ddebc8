"""The request context that travels with every RPC message."""
import uuid

from agent import bus_auth

#: what a context carries on the wire (and what its signature covers)
WIRE_FIELDS = ('request_id', 'user_id', 'project_id', 'is_admin',
               'auth_token')
#: the context key the receiving dispatcher puts the checked principal in
PRINCIPAL = 'checked_principal'
#: longest token accepted from a message (ours are ~200 characters)
MAX_TOKEN = 4096


class RequestContext:
    """Who asked and under which request id. ``auth_token`` is the REST
    caller's token, carried so a compute agent can present it where the
    caller's rights must be checked again (image downloads from
    hvagent-api); it is never logged and never stored."""

    def __init__(self, request_id=None, user_id=None, project_id=None,
                 is_admin=False, auth_token=None, principal=None):
        self.request_id = request_id or 'req-' + str(uuid.uuid4())
        self.user_id = user_id
        self.project_id = project_id
        self.is_admin = is_admin
        self.auth_token = auth_token
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
            ' token=***' if self.auth_token else '')

    def to_dict(self):
        values = {'request_id': self.request_id, 'user_id': self.user_id,
                  'project_id': self.project_id, 'is_admin': self.is_admin}
        if self.auth_token:
            values['auth_token'] = self.auth_token
        return values

    @classmethod
    def from_dict(cls, values):
        values = values if isinstance(values, dict) else {}

        def text(key):
            value = values.get(key)
            return value[:64] if isinstance(value, str) and value else None
        token = values.get('auth_token')
        # set only by the receiving dispatcher, after checking the signature
        principal = values.get(PRINCIPAL)
        principal = principal if isinstance(principal, str) else None
        # a compute node speaks for its host, never as an admin
        is_admin = values.get('is_admin') is True and \
            bus_auth.host_of(principal) is None
        return cls(request_id=text('request_id'), user_id=text('user_id'),
                   project_id=text('project_id'), is_admin=is_admin,
                   auth_token=token if isinstance(token, str) and
                   0 < len(token) <= MAX_TOKEN else None,
                   principal=principal)


def admin_context():
    return RequestContext(user_id='admin', project_id='admin', is_admin=True)
