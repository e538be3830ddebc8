"""Every route hvagent-api serves is in a policy matrix: the role
matrix of test_api_policy.py, or named here with the module that tries
it as each caller (another project's user refused with the real
clients). A new route fails this test until its roles are tested; no
route of the retired /v1 API is served."""
import pytest

from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.api_cloud import NETWORK

pytestmark = pytest.mark.functional


def test_every_endpoint_is_in_the_matrix(api_cloud):
    """A new endpoint must be added to test_api_policy.py's matrix
    (or to the client tests named below)."""
    servers = COMPUTE + '/servers/{server_id}'
    migrations = servers + '/migrations'
    tested = {
        ('GET', servers), ('GET', COMPUTE + '/servers'),
        ('GET', COMPUTE + '/servers/detail'),
        ('POST', COMPUTE + '/servers'), ('DELETE', servers),
        ('POST', servers + '/action'), ('POST', servers + '/remote-consoles'),
        ('GET', servers + '/os-instance-actions'),
        ('GET', servers + '/os-instance-actions/{request_id}'),
        ('GET', servers + '/metadata'), ('POST', servers + '/metadata'),
        ('GET', servers + '/metadata/{key}'),
        ('PUT', servers + '/metadata/{key}'),
        ('DELETE', servers + '/metadata/{key}'),
        ('GET', migrations), ('GET', migrations + '/{migration_id}'),
        ('DELETE', migrations + '/{migration_id}'),
        ('POST', migrations + '/{migration_id}/action'),
        ('GET', COMPUTE + '/os-migrations'),
        ('GET', COMPUTE + '/os-migrations/{migration_id}'),
        ('GET', '/v3/projects'), ('POST', '/v3/projects'),
        ('GET', '/v3/projects/{project}'),
        ('DELETE', '/v3/projects/{project_id}'),
        ('DELETE', '/v3/users/{user_id}'),
        ('GET', '/v3/users/{user_id}/projects'),
        ('GET', '/v3/auth/projects'),
        ('GET', '/v3/users'), ('POST', '/v3/users'),
        ('GET', '/v3/users/{user}'),
        ('GET', '/v3/roles'), ('GET', '/v3/roles/{role_id}'),
        ('GET', '/v3/role_assignments'),
        ('GET', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('PUT', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('DELETE', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('PATCH', '/v3/users/{user_id}'),
        ('POST', '/v3/users/{user_id}/password'),
        ('GET', COMPUTE + '/os-quota-sets/{project}'),
        ('PUT', COMPUTE + '/os-quota-sets/{project}'),
        ('GET', '/v3/registered_limits'), ('GET', IMAGE + '/info/usage'),
        ('GET', '/v3/services'),
        ('GET', '/v3/services/{service_id}'),
        ('GET', '/v3/limits'), ('POST', '/v3/limits'),
        ('GET', '/v3/limits/{limit_id}'),
        ('PATCH', '/v3/limits/{limit_id}'),
        ('DELETE', '/v3/limits/{limit_id}'),
        ('GET', COMPUTE + '/flavors/detail'),
        ('GET', COMPUTE + '/os-hypervisors'),
        ('GET', COMPUTE + '/os-hypervisors/detail'),
        ('GET', COMPUTE + '/os-hypervisors/{hypervisor_id}'),
        ('GET', COMPUTE + '/os-services'),
        ('PUT', COMPUTE + '/os-services/disable'),
        ('PUT', COMPUTE + '/os-services/disable-log-reason'),
        ('PUT', COMPUTE + '/os-services/enable'),
        ('GET', NETWORK + '/security-groups'),
        ('POST', NETWORK + '/security-groups'),
        ('GET', NETWORK + '/security-groups/{group_id}'),
        ('DELETE', NETWORK + '/security-groups/{group_id}'),
        ('POST', NETWORK + '/security-group-rules'),
        ('DELETE', NETWORK + '/security-group-rules/{rule_id}'),
        ('GET', COMPUTE + '/os-keypairs'),
        ('POST', COMPUTE + '/os-keypairs'),
        ('GET', COMPUTE + '/os-keypairs/{name}'),
        ('DELETE', COMPUTE + '/os-keypairs/{name}'),
        ('GET', IMAGE + '/images'), ('POST', IMAGE + '/images'),
        ('GET', IMAGE + '/images/{image_id}'),
        ('DELETE', IMAGE + '/images/{image_id}'),
        ('PUT', IMAGE + '/images/{image_id}/file'),
        ('GET', IMAGE + '/images/{image_id}/file'),
        ('POST', '/volume/v3/{project_id}/volumes'),
        ('GET', '/volume/v3/{project_id}/volumes/detail'),
        ('GET', '/volume/v3/{project_id}/volumes/{volume_id}'),
        ('DELETE', '/volume/v3/{project_id}/volumes/{volume_id}'),
        ('POST', '/volume/v3/{project_id}/volumes/{volume_id}/action'),
        ('POST', servers + '/os-volume_attachments'),
        ('DELETE', servers + '/os-volume_attachments/{volume_id}'),
        # os-interface: tried for every caller in test_api_interfaces.py
        ('POST', servers + '/os-interface'),
        ('DELETE', servers + '/os-interface/{port_id}'),
        ('GET', servers + '/os-interface'),
        ('GET', servers + '/os-interface/{port_id}'),
        ('GET', NETWORK + '/floatingips'), ('POST', NETWORK + '/floatingips'),
        ('GET', NETWORK + '/floatingips/{fip_id}'),
        ('PUT', NETWORK + '/floatingips/{fip_id}'),
        ('DELETE', NETWORK + '/floatingips/{fip_id}'),
        ('GET', NETWORK + '/ports'), ('POST', NETWORK + '/ports'),
        ('GET', NETWORK + '/ports/{ref}'),
        ('PUT', NETWORK + '/ports/{ref}'),
        ('DELETE', NETWORK + '/ports/{ref}'),
        ('PUT', NETWORK + '/networks/{ref}'),
    }
    # tokens: anyone may log in, see and revoke their own (test_api.py),
    # another user's are admin's (test_openstack_cli.py); the catalog and
    # the one domain are every caller's, version discovery needs no token
    tokens = {(m, '/v3/auth/tokens')
              for m in ('GET', 'HEAD', 'POST', 'DELETE')} | {
        ('GET', '/v3/auth/catalog'), ('GET', '/'), ('GET', '/v3'),
        ('GET', '/v3/domains'), ('GET', '/v3/domains/{domain_id}'),
        ('GET', '/compute/'), ('GET', '/compute/v2.1/'), ('GET', '/image/'),
        ('GET', '/volume/'), ('GET', '/volume/v3/'), ('GET', '/network/'),
        ('GET', '/network/v2.0/'), ('GET', '/network/v2.0/extensions')}
    # the rest of the OpenStack APIs apply the same rules as the routes
    # above (the same helpers); another project's developer is refused
    # each with the real client (test_openstack_cli.py)
    openstack = {
        ('GET', COMPUTE + '/flavors'),
        ('GET', COMPUTE + '/flavors/{flavor_id}'),
        ('GET', COMPUTE + '/os-availability-zone'),
        ('GET', COMPUTE + '/os-availability-zone/detail'),
        ('GET', COMPUTE + '/os-quota-sets/{project}/detail'),
        ('GET', COMPUTE + '/os-quota-sets/{project}/defaults'),
        ('GET', COMPUTE + '/limits'),
        ('GET', servers + '/os-volume_attachments'),
        ('GET', servers + '/os-volume_attachments/{volume_id}'),
        ('GET', '/volume/v3/{project_id}/os-quota-sets/{target}'),
        ('PUT', '/volume/v3/{project_id}/os-quota-sets/{target}'),
        ('GET', '/volume/v3/{project_id}/limits'),
        ('GET', '/volume/v3/{project_id}/volumes')}
    # Network v2: another project's netadmin and developer are refused
    # each with the real client (test_openstack_network.py)
    openstack |= {(m, NETWORK + path) for m, path in (
        ('GET', '/networks'), ('POST', '/networks'),
        ('GET', '/networks/{ref}'), ('DELETE', '/networks/{ref}'),
        ('GET', '/subnets'), ('POST', '/subnets'),
        ('GET', '/subnets/{ref}'), ('DELETE', '/subnets/{ref}'),
        ('GET', '/security-group-rules'),
        ('GET', '/security-group-rules/{rule_id}'),
        ('GET', '/quotas/{project}'), ('PUT', '/quotas/{project}'),
        ('GET', '/quotas/{project}/details'),
        ('GET', '/quotas/{project}/default'))}
    spec = api_cloud.admin.ok('GET', '/openapi.json')
    served = {(m.upper(), path) for path, ops in spec['paths'].items()
              for m in ops}
    assert not {path for _, path in served if path.startswith('/v1/')}
    assert served == tested | tokens | openstack
