"""Network v2 with the unmodified ``openstack`` command and openstacksdk
against a real hvagent-api (its conductor, scheduler and agent on
RabbitMQ, the fake driver): a project's netadmin makes a network, its
subnet, a security group and a rule; its developer boots a server on
them (``server create --network --security-group --wait``) and finds its
port; another project's netadmin and developer reach none of it; what
only an admin may do is refused to the others."""
import ipaddress

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import openstack_cli as oscli
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

openstack, as_json, refused = oscli.openstack, oscli.as_json, oscli.refused


@pytest.fixture(scope='module')
def projects(api_cloud):
    """Two projects, a netadmin and a developer in each."""
    return oscli.role_projects(api_cloud, ('nw-blue', 'nw-red'))


@pytest.fixture(scope='module')
def clouds(api_cloud, projects, tmp_path_factory):
    return oscli.role_clouds(api_cloud, projects,
                             tmp_path_factory.mktemp('os-network-home'))


def test_network_subnet_security_group_and_a_server_on_them(
        api_cloud, projects, clouds):
    net = as_json(clouds, 'nw-blue-net', 'network', 'create', 'nw-blue-lan')
    assert (net['name'], net['subnets'], net['project_id']) == (
        'nw-blue-lan', [], projects['nw-blue']['id']), net
    # a network without its subnet takes no server yet
    image = oscli.image(clouds, 'nw-blue-dev', 'nw-img')
    proc = refused(clouds, 'nw-blue-dev', 'server', 'create', '--image',
                   image, '--flavor', 'm1.tiny', '--network', net['id'],
                   'nw-too-soon')
    assert 'no subnet' in proc.stderr, proc.stderr
    subnet = as_json(clouds, 'nw-blue-net', 'subnet', 'create', '--network',
                     'nw-blue-lan', '--subnet-range', '10.77.0.0/24',
                     '--dns-nameserver', '10.77.0.2', 'nw-blue-sub')
    assert (subnet['cidr'], subnet['gateway_ip'], subnet['network_id'],
            subnet['name']) == ('10.77.0.0/24', '10.77.0.1', net['id'],
                                'nw-blue-sub'), subnet
    assert as_json(clouds, 'nw-blue-net', 'network', 'show',
                   'nw-blue-lan')['subnets'] == [subnet['id']]
    # one subnet per network
    proc = refused(clouds, 'nw-blue-net', 'subnet', 'create', '--network',
                   'nw-blue-lan', '--subnet-range', '10.78.0.0/24', 'two')
    assert 'one subnet' in proc.stderr, proc.stderr
    group = as_json(clouds, 'nw-blue-net', 'security', 'group', 'create',
                    'nw-blue-ssh')
    rule = as_json(clouds, 'nw-blue-net', 'security', 'group', 'rule',
                   'create', '--protocol', 'tcp', '--dst-port', '22',
                   'nw-blue-ssh')
    assert (rule['security_group_id'], rule['port_range_min'],
            rule['port_range_max'], rule['protocol']) == (
        group['id'], 22, 22, 'tcp'), rule
    assert rule['id'] in {r['ID'] for r in as_json(
        clouds, 'nw-blue-net', 'security', 'group', 'rule', 'list',
        'nw-blue-ssh')}
    server = as_json(clouds, 'nw-blue-dev', 'server', 'create', '--image',
                     image, '--flavor', 'm1.tiny', '--network',
                     'nw-blue-lan', '--security-group', 'nw-blue-ssh',
                     '--wait', 'nw-vm')
    assert server['status'] == 'ACTIVE', server
    (port,) = as_json(clouds, 'nw-blue-dev', 'port', 'list', '--server',
                      server['id'], '--long')
    (fixed,) = port['Fixed IP Addresses'] if isinstance(
        port['Fixed IP Addresses'], list) else [port['Fixed IP Addresses']]
    address = fixed['ip_address'] if isinstance(fixed, dict) else \
        str(fixed).split("ip_address='")[1].split("'")[0]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(
        '10.77.0.0/24'), port
    shown = as_json(clouds, 'nw-blue-dev', 'port', 'show', port['ID'])
    assert (shown['device_id'], shown['network_id']) == (server['id'],
                                                          net['id']), shown
    assert group['id'] in shown['security_group_ids'], shown
    assert 'binding_host_id' not in shown or not shown['binding_host_id']
    # another project: nothing of it is there
    for cloud, args in (
            ('nw-red-net', ('network', 'show', net['id'])),
            ('nw-red-net', ('network', 'delete', net['id'])),
            ('nw-red-net', ('subnet', 'show', subnet['id'])),
            ('nw-red-net', ('subnet', 'delete', subnet['id'])),
            ('nw-red-net', ('subnet', 'create', '--network', net['id'],
                            '--subnet-range', '10.79.0.0/24', 'red-sub')),
            ('nw-red-net', ('security', 'group', 'show', group['id'])),
            ('nw-red-net', ('security', 'group', 'delete', group['id'])),
            ('nw-red-net', ('security', 'group', 'rule', 'create',
                            '--protocol', 'tcp', '--dst-port', '1:65535',
                            group['id'])),
            ('nw-red-net', ('security', 'group', 'rule', 'delete',
                            rule['id'])),
            ('nw-red-net', ('port', 'show', port['ID'])),
            ('nw-red-dev', ('server', 'create', '--image', image,
                            '--flavor', 'm1.tiny', '--network', net['id'],
                            'red-on-blue'))):
        refused(clouds, cloud, *args)
    for listing in (('network', 'list'), ('subnet', 'list'), ('port',
                    'list'), ('security', 'group', 'list')):
        assert 'nw-blue' not in str(as_json(clouds, 'nw-red-net',
                                            *listing)), listing
    # in use: not deleted
    refused(clouds, 'nw-blue-net', 'network', 'delete', 'nw-blue-lan')
    refused(clouds, 'nw-blue-net', 'security', 'group', 'delete',
            'nw-blue-ssh')
    openstack(clouds, 'nw-blue-dev', 'server', 'delete', '--wait',
              server['id'])
    openstack(clouds, 'nw-blue-net', 'security', 'group', 'rule', 'delete',
              rule['id'])
    openstack(clouds, 'nw-blue-net', 'security', 'group', 'delete',
              'nw-blue-ssh')
    openstack(clouds, 'nw-blue-net', 'subnet', 'delete', 'nw-blue-sub')
    openstack(clouds, 'nw-blue-net', 'network', 'delete', 'nw-blue-lan')
    assert 'nw-blue-lan' not in {n['Name'] for n in as_json(
        clouds, 'nw-blue-net', 'network', 'list')}
    openstack(clouds, 'nw-blue-dev', 'image', 'delete', image)


def test_what_only_an_admin_may_do(api_cloud, projects, clouds):
    """A developer makes no network; a netadmin no VLAN or flat network,
    no chosen segment, no external or shared network; admin may, and
    sees the segment that the others do not."""
    refused(clouds, 'nw-blue-dev', 'network', 'create', 'nw-dev-net')
    for args in (('--provider-network-type', 'vlan',
                  '--provider-physical-network', 'physnet1',
                  '--provider-segment', '100'),
                 ('--provider-network-type', 'vxlan',
                  '--provider-segment', '4242'),
                 ('--external',), ('--share',)):
        proc = refused(clouds, 'nw-blue-net', 'network', 'create', *args,
                       'nw-forbidden')
        assert '403' in proc.stderr, proc.stderr
    names = {n['Name'] for n in as_json(clouds, 'admin', 'network', 'list')}
    assert 'nw-dev-net' not in names and 'nw-forbidden' not in names
    shared = as_json(clouds, 'admin', 'network', 'create', '--share',
                     'nw-shared')
    assert shared['shared'] is True
    assert shared['provider:network_type'] == 'vxlan', shared
    seen = as_json(clouds, 'nw-red-net', 'network', 'show', 'nw-shared')
    assert 'provider:network_type' not in seen or \
        seen['provider:network_type'] is None, seen
    # shared, not theirs: another project may use it, not delete it
    refused(clouds, 'nw-red-net', 'network', 'delete', 'nw-shared')
    openstack(clouds, 'admin', 'network', 'delete', 'nw-shared')


def test_network_quotas(api_cloud, projects, clouds):
    """quota show carries neutron's part; admin sets security groups and
    floating IPs; a netadmin may not."""
    openstack(clouds, 'admin', 'quota', 'set', '--secgroups', '4',
              '--floating-ips', '3', 'nw-red')
    quota = api_cloud.admin.ok(
        'GET', '/network/v2.0/quotas/%s' % projects['nw-red']['id'])['quota']
    assert (quota['security_group'], quota['floatingip'],
            quota['network']) == (4, 3, -1), quota
    shown = str(as_json(clouds, 'nw-red-net', 'quota', 'show', 'nw-red'))
    assert 'secgroups' in shown or 'security_groups' in shown, shown
    refused(clouds, 'nw-red-net', 'quota', 'set', '--secgroups', '99',
            'nw-red')
    refused(clouds, 'nw-red-net', 'quota', 'show', 'nw-blue')


def test_openstacksdk_network_and_server(api_cloud, projects, clouds):
    """The same through openstacksdk's Python API: network, subnet,
    security group and rule, a server on them, waited for; then gone."""
    conn = oscli.sdk(api_cloud, 'nw-red-net', 'nw-red')
    dev = oscli.sdk(api_cloud, 'nw-red-dev', 'nw-red')
    try:
        net = conn.network.create_network(name='nw-sdk-net')
        subnet = conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr='10.88.0.0/24',
            name='nw-sdk-sub')
        assert subnet.gateway_ip == '10.88.0.1'
        group = conn.network.create_security_group(name='nw-sdk-sg')
        conn.network.create_security_group_rule(
            security_group_id=group.id, direction='ingress',
            protocol='icmp', ethertype='IPv4')
        assert conn.network.find_network('nw-sdk-net').subnet_ids == \
            [subnet.id]
        flavor = dev.compute.find_flavor('m1.tiny')
        server = dev.compute.create_server(
            name='nw-sdk-vm', flavor_id=flavor.id,
            image_id=oscli.image(clouds, 'nw-red-dev', 'nw-sdk-img'),
            networks=[
                {'uuid': net.id}], security_groups=[{'name': 'nw-sdk-sg'}])
        server = dev.compute.wait_for_server(server, wait=120)
        assert server.status == 'ACTIVE'
        (port,) = list(dev.network.ports(device_id=server.id))
        assert port.fixed_ips[0]['subnet_id'] == subnet.id
        dev.compute.delete_server(server)
        dev.compute.wait_for_delete(server, wait=120)
        conn.network.delete_security_group(group)
        conn.network.delete_subnet(subnet)
        conn.network.delete_network(net)
        assert conn.network.find_network('nw-sdk-net') is None
    finally:
        conn.close()
        dev.close()


@pytest.fixture(scope='module')
def wired(api_cloud, tmp_path_factory):
    """A project on the test cloud's flat 'apilan' and external
    'apipublic' (their uplinks wired here: cloudlib.wired_project), its
    netadmin and developer, another project's netadmin; the openstack
    environment for them."""
    skip_unless('nft', 'dnsmasq')
    for _ in cloudlib.wired_project(api_cloud, 'nwfip'):
        env = oscli.environment(tmp_path_factory.mktemp('os-fip-home'), {
            'net': oscli.cloud_entry(api_cloud, 'nwfipnet', 'nwfip'),
            'dev': oscli.cloud_entry(api_cloud, 'nwfipdev', 'nwfip'),
            'stranger': oscli.cloud_entry(api_cloud, 'nw-red-net',
                                          'nw-red')})
        yield env


def test_floating_ips(api_cloud, projects, wired):
    """floating ip create on the external network, server add floating
    ip (neutron's PUT port_id), show with its port and fixed IP, server
    remove floating ip, floating ip delete; a developer may not allocate
    one, another project's netadmin reaches none of it."""
    env = wired
    image = oscli.image(env, 'dev', 'nwfip-img')
    server = as_json(env, 'dev', 'server', 'create', '--image', image,
                     '--flavor', 'm1.tiny', '--network', 'apilan', '--wait',
                     'nwfip-vm')
    assert server['status'] == 'ACTIVE', server
    assert 'apipublic' in {n['Name'] for n in as_json(env, 'dev', 'network',
                                                      'list', '--external')}
    refused(env, 'dev', 'floating', 'ip', 'create', 'apipublic')
    fip = as_json(env, 'net', 'floating', 'ip', 'create', 'apipublic')
    address = fip['floating_ip_address']
    assert fip['port_id'] is None and address, fip
    openstack(env, 'net', 'server', 'add', 'floating', 'ip', server['id'],
              address)
    (port,) = as_json(env, 'dev', 'port', 'list', '--server', server['id'])
    shown = as_json(env, 'dev', 'floating', 'ip', 'show', fip['id'])
    assert (shown['port_id'], shown['status']) == (port['ID'], 'ACTIVE'), \
        shown
    assert shown['fixed_ip_address'], shown
    for args in (('floating', 'ip', 'show', fip['id']),
                 ('floating', 'ip', 'delete', fip['id']),
                 ('floating', 'ip', 'unset', '--port', fip['id'])):
        refused(env, 'stranger', *args)
    assert address not in str(as_json(env, 'stranger', 'floating', 'ip',
                                      'list'))
    openstack(env, 'net', 'server', 'remove', 'floating', 'ip',
              server['id'], address)
    assert as_json(env, 'dev', 'floating', 'ip', 'show',
                   fip['id'])['port_id'] is None
    openstack(env, 'net', 'floating', 'ip', 'delete', fip['id'])
    assert as_json(env, 'net', 'floating', 'ip', 'list') == []
    openstack(env, 'dev', 'server', 'delete', '--wait', server['id'])


def test_server_add_and_remove_network(api_cloud, projects, wired):
    """server add network (nova's os-interface with net_id): a second
    port of the server on apilan; server remove port takes it out (the
    port is deleted); another project's user reaches none of it. (server
    remove network detaches every port of the server on that network,
    one request each: the second is refused while the first is under
    way, so it is not used here on a server with two.)"""
    env = wired
    image = oscli.image(env, 'dev', 'nwnic-img')
    server = as_json(env, 'dev', 'server', 'create', '--image', image,
                     '--flavor', 'm1.tiny', '--network', 'apilan', '--wait',
                     'nwnic-vm')
    sid = server['id']
    first = [p['ID'] for p in as_json(env, 'dev', 'port', 'list', '--server',
                                      sid)]
    openstack(env, 'dev', 'server', 'add', 'network', sid, 'apilan')
    wait_until(lambda: len(as_json(env, 'dev', 'port', 'list', '--server',
                                   sid)) == 2 and as_json(
        env, 'dev', 'server', 'show', sid)['OS-EXT-STS:task_state'] is None,
        60, interval=0.5, message='the second port')
    refused(env, 'stranger', 'server', 'add', 'network', sid, 'apilan')
    refused(env, 'stranger', 'server', 'remove', 'network', sid, 'apilan')
    (added,) = {p['ID'] for p in as_json(env, 'dev', 'port', 'list',
                                         '--server', sid)} - set(first)
    openstack(env, 'dev', 'server', 'remove', 'port', sid, added)
    wait_until(lambda: [p['ID'] for p in as_json(
        env, 'dev', 'port', 'list', '--server', sid)] == first, 60,
        interval=0.5, message='the added port taken out')
    refused(env, 'dev', 'port', 'show', added)
    openstack(env, 'dev', 'server', 'delete', '--wait', sid)
