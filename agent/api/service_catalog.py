"""What the OpenStack clients read to find hvagent-api's services: the
Identity v3 version document (``GET /``, ``GET /v3``) and the service
catalog that each token body carries.

Every service in the catalog is served by hvagent-api itself, under its
public URL ([api] public_url, else the URL the request came to). A
service enters the catalog only once hvagent-api serves it: a client
must not find an endpoint that answers 404 to everything.
"""
import datetime

from oslo_config import cfg

from agent.api import auth_schemas

CONF = cfg.CONF
IDENTITY_VERSION = 'v3.14'
IDENTITY_UPDATED = '2020-04-07T00:00:00Z'
INTERFACES = ('public', 'internal', 'admin')
#: (type, name, path under the public URL) of each service served
SERVICES = (('identity', 'keystone', '/v3'),
            ('compute', 'nova', '/compute/v2.1'),
            ('image', 'glance', '/image'),
            ('network', 'neutron', '/network'),
            ('volumev3', 'cinderv3', '/volume/v3/%(project_id)s'))


def base_url(request) -> str:
    """[api] public_url, else the URL ``request`` came to."""
    return (CONF.api.public_url or str(request.base_url)).rstrip('/')


def identity_version(base: str) -> dict:
    return {'id': IDENTITY_VERSION, 'status': 'stable',
            'updated': IDENTITY_UPDATED,
            'links': [{'rel': 'self', 'href': base + '/v3/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json'}]}


def catalog(base: str, project_id: str) -> list[dict]:
    """The services, their URLs for a token of ``project_id``."""
    region = CONF.api.region_name
    return [{'id': kind, 'type': kind, 'name': name, 'endpoints': [
        {'id': '%s-%s' % (kind, interface), 'interface': interface,
         'region': region, 'region_id': region,
         'url': base + path % {'project_id': project_id}}
        for interface in INTERFACES]} for kind, name, path in SERVICES]


def timestamp(epoch: float) -> str:
    """keystone's form: 2026-12-07T03:04:05.000000Z."""
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _domain():
    return {'id': auth_schemas.DOMAIN_ID, 'name': auth_schemas.DOMAIN_NAME}


def token_body(payload: dict, user_name: str, project_name: str,
               roles: list[str], base: str | None) -> dict:
    """A token's body as keystone answers it; ``base`` None: without the
    catalog (``?nocatalog``)."""
    token = {
        'methods': ['password'],
        'audit_ids': [payload['id']],
        'expires_at': timestamp(payload['exp']),
        'issued_at': timestamp(payload['iat']),
        'user': {'id': payload['user_id'], 'name': user_name,
                 'domain': _domain(), 'password_expires_at': None},
        'project': {'id': payload['project_id'], 'name': project_name,
                    'domain': _domain()},
        'is_domain': False,
        'roles': [{'id': role, 'name': role} for role in roles]}
    if base is not None:
        token['catalog'] = catalog(base, payload['project_id'])
    return {'token': token}
