"""What only hvagent's retired /v1 API did, now with the unmodified
``openstack`` command against a real hvagent-api (conductor, scheduler
and agent on RabbitMQ, the fake driver): a server's metadata (``server
set|unset --property``), its security groups (``server add|remove
security group``), a port with no server holding a chosen address and a
server booted on it (``port create --fixed-ip``, ``server create
--port``), and glance's quotas as keystone's unified limits (``limit
create|list|show|set|delete``, ``registered limit list``). Each also
tried from another project, and by a role the policy refuses."""
import json

import pytest

from tests.fixtures import openstack_cli as oscli

pytestmark = pytest.mark.functional

openstack, as_json, refused = oscli.openstack, oscli.as_json, oscli.refused


@pytest.fixture(scope='module')
def projects(api_cloud):
    """Two projects, a netadmin and a developer in each."""
    return oscli.role_projects(api_cloud, ('op-blue', 'op-red'))


@pytest.fixture(scope='module')
def clouds(api_cloud, projects, tmp_path_factory):
    return oscli.role_clouds(api_cloud, projects,
                             tmp_path_factory.mktemp('os-ops-home'))


@pytest.fixture(scope='module')
def lan(clouds):
    """op-blue's network 'op-lan' (VXLAN) and its subnet."""
    as_json(clouds, 'op-blue-net', 'network', 'create', 'op-lan')
    as_json(clouds, 'op-blue-net', 'subnet', 'create', '--network', 'op-lan',
            '--subnet-range', '10.79.0.0/24', 'op-lan-v4')
    return 'op-lan'


@pytest.fixture(scope='module')
def image(clouds):
    return oscli.image(clouds, 'op-blue-dev', 'op-img')


def server(clouds, cloud, name, image, *args):
    """``server create --wait``; a failed one's fault in the assertion."""
    proc = openstack(clouds, cloud, 'server', 'create', '--image', image,
                     '--flavor', 'm1.tiny', *args, '--wait', name, '-f',
                     'json', check=False)
    if proc.returncode:
        shown = openstack(clouds, cloud, 'server', 'show', name, '-c',
                          'fault', check=False)
        raise AssertionError(proc.stderr + shown.stdout + shown.stderr)
    return json.loads(proc.stdout)


def test_server_metadata(clouds, image):
    srv = server(clouds, 'op-blue-dev', 'op-meta', image, '--property',
                 'role=web')
    openstack(clouds, 'op-blue-dev', 'server', 'set', '--property',
              'tier=front', '--property', 'role=db', 'op-meta')
    shown = as_json(clouds, 'op-blue-dev', 'server', 'show', 'op-meta')
    assert shown['properties'] == {'role': 'db', 'tier': 'front'}, shown
    openstack(clouds, 'op-blue-dev', 'server', 'unset', '--property',
              'role', 'op-meta')
    assert as_json(clouds, 'op-blue-dev', 'server', 'show',
                   'op-meta')['properties'] == {'tier': 'front'}
    # another project cannot see it, let alone change it
    refused(clouds, 'op-red-dev', 'server', 'set', '--property', 'x=1',
            srv['id'])
    assert as_json(clouds, 'op-blue-dev', 'server', 'show',
                   'op-meta')['properties'] == {'tier': 'front'}
    openstack(clouds, 'op-blue-dev', 'server', 'delete', '--wait',
              'op-meta')
    # an oversized key is the API's clear 400, before any boot
    proc = refused(clouds, 'op-blue-dev', 'server', 'create', '--image',
                   image, '--flavor', 'm1.tiny', '--property',
                   'k' * 256 + '=v', 'op-meta-big')
    assert 'keys are 1 to 255 characters' in proc.stderr, proc.stderr
    assert 'op-meta-big' not in {s['Name'] for s in as_json(
        clouds, 'op-blue-dev', 'server', 'list')}


def test_server_security_groups(clouds, image, lan):
    as_json(clouds, 'op-blue-net', 'security', 'group', 'create', 'op-web')
    as_json(clouds, 'op-red-net', 'security', 'group', 'create', 'op-red')
    srv = server(clouds, 'op-blue-dev', 'op-sg', image, '--network', lan)

    def groups():
        return {g['name'] for g in as_json(
            clouds, 'op-blue-dev', 'server', 'show', 'op-sg')[
            'security_groups']}
    before = groups()
    assert 'op-web' not in before
    # the project's netadmin puts its servers in groups, not a developer
    refused(clouds, 'op-blue-dev', 'server', 'add', 'security', 'group',
            srv['id'], 'op-web')
    openstack(clouds, 'op-blue-net', 'server', 'add', 'security', 'group',
              srv['id'], 'op-web')
    assert groups() == before | {'op-web'}
    # another project's group is not found by name or by id
    red = as_json(clouds, 'op-red-net', 'security', 'group', 'show',
                  'op-red')['id']
    proc = refused(clouds, 'op-blue-net', 'server', 'add', 'security',
                   'group', srv['id'], red)
    assert 'Traceback' not in proc.stderr
    openstack(clouds, 'op-blue-net', 'server', 'remove', 'security',
              'group', srv['id'], 'op-web')
    assert groups() == before
    # another project's netadmin cannot touch the server
    refused(clouds, 'op-red-net', 'server', 'add', 'security', 'group',
            srv['id'], 'op-red')
    openstack(clouds, 'op-blue-dev', 'server', 'delete', '--wait', 'op-sg')


def test_a_port_with_a_chosen_address_and_a_server_on_it(
        clouds, projects, image, lan):
    address = '10.79.0.77'
    # a developer may not hold addresses; the netadmin may
    refused(clouds, 'op-blue-dev', 'port', 'create', '--network', lan,
            'op-port')
    port = as_json(clouds, 'op-blue-net', 'port', 'create', '--network',
                   lan, '--fixed-ip', 'ip-address=' + address, 'op-port')
    assert [f['ip_address'] for f in port['fixed_ips']] == [address]
    assert port['device_id'] == '' and \
        port['project_id'] == projects['op-blue']['id'], port
    # port security (anti-spoofing and filtering) is the admin's to turn off
    refused(clouds, 'op-blue-net', 'port', 'set', '--disable-port-security',
            port['id'])
    openstack(clouds, 'admin', 'port', 'set', '--disable-port-security',
              port['id'])
    assert as_json(clouds, 'op-blue-net', 'port', 'show', port['id'])[
        'port_security_enabled'] is False
    openstack(clouds, 'admin', 'port', 'set', '--enable-port-security',
              port['id'])
    # another project cannot take the address, see the port or boot on it
    net = as_json(clouds, 'op-blue-net', 'network', 'show', lan)['id']
    refused(clouds, 'op-red-net', 'port', 'create', '--network', net,
            '--fixed-ip', 'ip-address=' + address, 'op-steal')
    refused(clouds, 'op-red-net', 'port', 'show', port['id'])
    refused(clouds, 'op-red-net', 'port', 'delete', port['id'])
    refused(clouds, 'op-red-dev', 'server', 'create', '--image', image,
            '--flavor', 'm1.tiny', '--port', port['id'], 'op-red-on-it')
    srv = server(clouds, 'op-blue-dev', 'op-on-port', image, '--port',
                 port['id'])
    assert address in str(srv['addresses']), srv
    bound = as_json(clouds, 'op-blue-net', 'port', 'show', port['id'])
    assert bound['device_id'] == srv['id'], bound
    # held by a server: not deleted
    proc = refused(clouds, 'op-blue-net', 'port', 'delete', port['id'])
    assert 'in use' in proc.stderr.lower() or '409' in proc.stderr, \
        proc.stderr
    openstack(clouds, 'op-blue-dev', 'server', 'delete', '--wait',
              'op-on-port')
    # the server gone, the port is the project's again, unbound
    assert as_json(clouds, 'op-blue-net', 'port', 'show',
                   port['id'])['device_id'] == ''
    openstack(clouds, 'op-blue-net', 'port', 'delete', port['id'])
    refused(clouds, 'op-blue-net', 'port', 'show', port['id'])


def test_only_an_admin_shares_a_network(clouds, lan):
    refused(clouds, 'op-blue-net', 'network', 'set', '--share', lan)
    net = as_json(clouds, 'op-blue-net', 'network', 'show', lan)['id']
    openstack(clouds, 'admin', 'network', 'set', '--share', net)
    # shared: another project sees it and may boot on it, not change it
    assert as_json(clouds, 'op-red-dev', 'network', 'show', net)['shared']
    refused(clouds, 'op-red-net', 'network', 'set', '--no-share', net)
    openstack(clouds, 'admin', 'network', 'set', '--no-share', net)
    refused(clouds, 'op-red-dev', 'network', 'show', net)


def test_image_quotas_are_keystones_unified_limits(clouds, projects):
    blue = projects['op-blue']['id']
    registered = {r['Resource Name']: r['Default Limit'] for r in as_json(
        clouds, 'admin', 'registered', 'limit', 'list')}
    assert set(registered) == {'image_count_total', 'image_size_total'}
    # the project's own images (the list also shows public ones)
    owned = len([i for i in as_json(clouds, 'op-blue-dev', 'image', 'list',
                                    '--long') if i['Project'] == blue])
    made = as_json(clouds, 'admin', 'limit', 'create', '--service', 'image',
                   '--project', 'op-blue', '--resource-limit',
                   str(owned + 1), 'image_count_total')
    assert (made['project_id'], made['resource_limit']) == (
        blue, owned + 1), made
    listed = {lim['Resource Name']: lim['Resource Limit'] for lim in as_json(
        clouds, 'op-blue-dev', 'limit', 'list')}
    assert listed['image_count_total'] == owned + 1, listed
    # the limit holds: one image more, not two
    oscli.image(clouds, 'op-blue-dev', 'op-quota-1')
    proc = refused(clouds, 'op-blue-dev', 'image', 'create', '--file',
                   '/dev/null', '--disk-format', 'raw',
                   '--container-format', 'bare', 'op-quota-2')
    assert 'quota' in proc.stderr.lower(), proc.stderr
    # only an admin sets limits; a project reads only its own
    refused(clouds, 'op-blue-dev', 'limit', 'set', '--resource-limit', '50',
            made['id'])
    refused(clouds, 'op-red-dev', 'limit', 'show', made['id'])
    as_json(clouds, 'admin', 'limit', 'set', '--resource-limit', '5',
            made['id'])
    assert as_json(clouds, 'op-blue-dev', 'limit', 'show', made['id'])[
        'resource_limit'] == 5
    openstack(clouds, 'admin', 'limit', 'delete', made['id'])
    assert as_json(clouds, 'op-blue-dev', 'limit', 'show', made['id'])[
        'resource_limit'] == registered['image_count_total']
    # another service's quotas keep their own API
    proc = refused(clouds, 'admin', 'limit', 'create', '--service', 'image',
                   '--project', 'op-blue', '--resource-limit', '1', 'cores')
    assert 'image_count_total' in proc.stderr, proc.stderr
