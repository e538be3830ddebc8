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

An upload grant (``issue_upload``, header X-Image-Upload-Grant) is the
other direction, for a snapshot: it names one image the conductor
recorded as ``saving`` a snapshot of one instance, and lets the agent of
that instance's host upload that image's bytes, once. It is signed with a
key of its own, so a read grant never passes for an upload grant or back;
hvagent-api checks again that the image is still that instance's
snapshot, saving.
"""
import time

from agent import exception
from agent.security import bus_auth
from agent.security import sealed

#: seconds a grant is good for: long enough to fetch a boot's images
TTL = 600
HEADER = 'X-Image-Grant'
UPLOAD_HEADER = 'X-Image-Upload-Grant'
UPLOAD_LABEL = b'image upload grant'


def _key(keyring, label=b'image grant'):
    if not keyring.is_controller:
        raise exception.BusNotTrusted(
            reason='only a controller issues or checks image grants')
    return bus_auth.derive(keyring.master, label)


def issue(keyring, instance_uuid, project_id, image_ids, host, ttl=TTL,
          now=None):
    """A grant to read ``image_ids`` for ``project_id``'s instance."""
    payload = {'instance': instance_uuid, 'project_id': project_id,
               'images': sorted(set(image_ids)), 'host': host,
               'exp': int((now or time.time()) + ttl)}
    return sealed.seal(_key(keyring), payload)


def _open(keyring, label, grant, what, fields, now):
    """The payload of a well-signed, unexpired grant whose ``fields``
    have the types given; else NotAuthenticated saying why."""
    payload = sealed.unseal(_key(keyring, label), grant, what)
    try:
        exp = int(payload['exp'])
        if not all(isinstance(payload[k], t) for k, t in fields.items()):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise exception.NotAuthenticated(reason='%s is malformed' % what) \
            from None
    if exp <= (now or time.time()):
        raise exception.NotAuthenticated(reason='%s expired' % what)
    return payload


def verify(keyring, grant, image_id, now=None):
    """The payload of a well-signed, unexpired grant for ``image_id``;
    else NotAuthenticated saying why."""
    payload = _open(keyring, b'image grant', grant, 'image grant',
                    {'project_id': str, 'images': list}, now)
    if image_id not in payload['images']:
        raise exception.NotAuthenticated(
            reason='image grant does not cover image %s' % image_id)
    return payload


def issue_upload(keyring, instance_uuid, project_id, image_id, host,
                 ttl=TTL, now=None):
    """A grant to upload the bytes of ``image_id``, the snapshot of
    ``project_id``'s instance ``instance_uuid`` on ``host``."""
    payload = {'instance': instance_uuid, 'project_id': project_id,
               'image': image_id, 'host': host,
               'exp': int((now or time.time()) + ttl)}
    return sealed.seal(_key(keyring, UPLOAD_LABEL), payload)


def verify_upload(keyring, grant, image_id, now=None):
    """The payload of a well-signed, unexpired upload grant for
    ``image_id``; else NotAuthenticated saying why."""
    payload = _open(keyring, UPLOAD_LABEL, grant, 'image upload grant',
                    {'project_id': str, 'instance': str, 'image': str}, now)
    if payload['image'] != image_id:
        raise exception.NotAuthenticated(
            reason='image upload grant does not cover image %s' % image_id)
    return payload
