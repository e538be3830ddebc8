"""Image grants: what a compute agent shows hvagent-api to read the images
of one instance, instead of a user's token.

The conductor issues a grant to the agent of the instance's host (over the
agents' topic, so only for an instance on that host): it names the
instance's project, the API image ids the instance boots from, the host,
and an expiry a few minutes away, signed with a key derived from the bus
master secret, which only controllers hold. hvagent-api checks the
signature and the expiry, that the image asked for is one of the grant's,
and that the image is still there and visible to the grant's project. A
grant thus reads nothing else, for no one else, and not for long; and no
user's token has to travel on the bus to a compute node.
"""
import time

from agent import exception
from agent.security import bus_auth
from agent.security import sealed

#: seconds a grant is good for: long enough to fetch a boot's images
TTL = 600
HEADER = 'X-Image-Grant'


def _key(keyring):
    if not keyring.is_controller:
        raise exception.BusNotTrusted(
            reason='only a controller issues or checks image grants')
    return bus_auth.derive(keyring.master, b'image grant')


def issue(keyring, instance_uuid, project_id, image_ids, host, ttl=TTL,
          now=None):
    """A grant to read ``image_ids`` for ``project_id``'s instance."""
    payload = {'instance': instance_uuid, 'project_id': project_id,
               'images': sorted(set(image_ids)), 'host': host,
               'exp': int((now or time.time()) + ttl)}
    return sealed.seal(_key(keyring), payload)


def verify(keyring, grant, image_id, now=None):
    """The payload of a well-signed, unexpired grant for ``image_id``;
    else NotAuthenticated saying why."""
    payload = sealed.unseal(_key(keyring), grant, 'image grant')
    try:
        exp = int(payload['exp'])
        images = payload['images']
        if not isinstance(payload['project_id'], str) or \
                not isinstance(images, list):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise exception.NotAuthenticated(reason='image grant is malformed') \
            from None
    if exp <= (now or time.time()):
        raise exception.NotAuthenticated(reason='image grant expired')
    if image_id not in images:
        raise exception.NotAuthenticated(
            reason='image grant does not cover image %s' % image_id)
    return payload
