"""Version discovery as the OpenStack clients do it: ``GET /`` lists the
Identity API versions (300 Multiple Choices, as keystone answers) and
``GET /v3`` describes v3; ``GET /compute/`` and ``/compute/v2.1`` the
Compute API's. No token needed."""
from fastapi import APIRouter
from fastapi import Request
from fastapi.responses import JSONResponse

from agent.api import auth_schemas
from agent.api import service_catalog
from agent.api.compute import microversions

router = APIRouter(tags=['versions'])


def _version(request):
    return service_catalog.identity_version(service_catalog.base_url(request))


@router.get('/', status_code=300, response_model=auth_schemas.Versions,
            response_model_by_alias=True)
def versions(request: Request):
    return JSONResponse({'versions': {'values': [_version(request)]}},
                        status_code=300)


@router.get('/v3', response_model=auth_schemas.VersionOut,
            response_model_by_alias=True)
@router.get('/v3/', include_in_schema=False)
def identity_v3(request: Request):
    return {'version': _version(request)}


@router.get('/compute', include_in_schema=False)
@router.get('/compute/')
def compute_versions(request: Request):
    return {'versions': [microversions.version_document(request)]}


@router.get('/compute/v2.1', include_in_schema=False)
@router.get('/compute/v2.1/')
def compute_v21(request: Request):
    return {'version': microversions.version_document(request)}


def _image_versions(request):
    base = service_catalog.base_url(request)
    return {'versions': [{'id': 'v2.9', 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': base + '/image/v2/'}]}]}


@router.get('/image', include_in_schema=False)
@router.get('/image/')
def image_versions(request: Request):
    return _image_versions(request)


@router.get('/image/versions', include_in_schema=False)
def image_versions_list(request: Request):
    return _image_versions(request)


def _volume_versions(request):
    base = service_catalog.base_url(request)
    return {'versions': [{
        'id': 'v3.0', 'status': 'CURRENT', 'version': '3.0',
        'min_version': '3.0', 'updated': '2016-02-08T12:20:21Z',
        'links': [{'rel': 'self', 'href': base + '/volume/v3/'}],
        'media-types': [{'base': 'application/json', 'type':
                         'application/vnd.openstack.volume+json;version=3'}]
    }]}


@router.get('/volume', include_in_schema=False)
@router.get('/volume/')
def volume_versions(request: Request):
    return _volume_versions(request)


@router.get('/volume/v3', include_in_schema=False)
@router.get('/volume/v3/')
def volume_v3(request: Request):
    return _volume_versions(request)


#: neutron extensions whose API hvagent serves (clients ask before using
#: some of them)
NETWORK_EXTENSIONS = (
    ('security-group', 'security-group', 'The security groups extension.'),
    ('quotas', 'Quota management support', 'Expose functions for quotas'),
    ('external-net', 'Neutron external network',
     'Adds external network attribute to network resource.'),
    ('provider', 'Provider Network', 'Expose mapping of virtual networks to '
     'physical networks'),
    ('port-security', 'Port Security', 'Provides port security'),
    ('router', 'Neutron L3 Router', 'Floating IPs (hvagent has no '
     'routers: the agent of the port\'s host NATs them)'),
    ('quota_details', 'Quota details management support',
     'Expose functions for quotas usage statistics per project'))


@router.get('/network', include_in_schema=False)
@router.get('/network/')
def network_versions(request: Request):
    base = service_catalog.base_url(request)
    return {'versions': [{'id': 'v2.0', 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': base + '/network/v2.0/'}]}]}


@router.get('/network/v2.0', include_in_schema=False)
@router.get('/network/v2.0/')
def network_v2(request: Request):
    base = service_catalog.base_url(request) + '/network/v2.0/'
    return {'resources': [
        {'name': name, 'collection': collection,
         'links': [{'rel': 'self', 'href': base + collection}]}
        for name, collection in (
            ('network', 'networks'), ('subnet', 'subnets'), ('port', 'ports'),
            ('security_group', 'security-groups'),
            ('security_group_rule', 'security-group-rules'),
            ('quota', 'quotas'), ('floatingip', 'floatingips'))]}


@router.get('/network/v2.0/extensions')
def network_extensions():
    return {'extensions': [
        {'alias': alias, 'name': name, 'description': text, 'links': [],
         'updated': '2013-01-01T10:00:00-00:00'}
        for alias, name, text in NETWORK_EXTENSIONS]}
