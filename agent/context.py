"""The request context that travels with every RPC message."""
import uuid


class RequestContext:
    def __init__(self, request_id=None, user_id=None, project_id=None,
                 is_admin=False):
        self.request_id = request_id or 'req-' + str(uuid.uuid4())
        self.user_id = user_id
        self.project_id = project_id
        self.is_admin = is_admin

    def to_dict(self):
        return {'request_id': self.request_id, 'user_id': self.user_id,
                'project_id': self.project_id, 'is_admin': self.is_admin}

    @classmethod
    def from_dict(cls, values):
        values = values if isinstance(values, dict) else {}

        def text(key):
            value = values.get(key)
            return value[:64] if isinstance(value, str) and value else None
        return cls(request_id=text('request_id'), user_id=text('user_id'),
                   project_id=text('project_id'),
                   is_admin=values.get('is_admin') is True)


def admin_context():
    return RequestContext(user_id='admin', project_id='admin', is_admin=True)
