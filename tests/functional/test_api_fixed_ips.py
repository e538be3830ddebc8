"""Fixed IP reservations end to end over HTTP: a netadmin holds an address
of a flat network for the project, a developer boots on it through the
API, the fake-driver agent of the test cloud serves that address by DHCP
(its dnsmasq hosts file on this host), the reservation comes back to the
project when the server goes, and the fixed_ips quota counts it."""
import os

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def clouds(api_cloud):
    skip_unless('nft', 'dnsmasq')
    yield from cloudlib.wired_project(api_cloud, 'fixed')


def _dhcp_hosts(api_cloud):
    """Every MAC,IP line the agent's dnsmasq serves."""
    root = os.path.join(api_cloud.dep.state_path, 'dhcp')
    lines = set()
    for network in os.listdir(root) if os.path.isdir(root) else ():
        path = os.path.join(root, network, 'hosts')
        if os.path.exists(path):
            lines |= set(open(path).read().split())
    return lines


def test_reserve_boot_on_it_get_it_back_and_quota(api_cloud, clouds):
    netadmin, dev, admin = clouds['netadmin'], clouds['dev'], clouds['admin']
    held = netadmin.ok('POST', '/v1/fixed-ips', json={
        'network': 'apilan', 'address': '10.77.0.200'})['fixed_ip']
    assert (held['address'], held['network'], held['server_id']) == (
        '10.77.0.200', 'apilan', None)
    path = '/v1/fixed-ips/%s' % held['id']
    assert dev.call('POST', '/v1/fixed-ips', json={
        'network': 'apilan'}).status_code == 403
    assert netadmin.call('POST', '/v1/fixed-ips', json={
        'network': 'apilan', 'address': '10.77.0.200'}).status_code == 409
    r = netadmin.call('POST', '/v1/fixed-ips', json={
        'network': 'apilan', 'address': '<10.77.0.1>'})
    assert r.status_code == 400
    assert held['id'] in {f['id'] for f in dev.ok(
        'GET', '/v1/fixed-ips')['fixed_ips']}

    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'held', 'flavor': 'm1.tiny', 'fixed_ips': [held['id']]}}
    )['server']
    srv = cloudlib.wait_status(dev, srv['id'])
    assert (srv['status'], srv['networks']) == ('active',
                                                ['apilan=10.77.0.200'])
    assert dev.ok('GET', path)['fixed_ip']['server_id'] == srv['id']
    entry = '%s,10.77.0.200' % held['mac_address']
    wait_until(lambda: entry in _dhcp_hosts(api_cloud), 20, interval=0.2)
    # held by a server: no second boot on it, and not freed
    again = dev.call('POST', '/v1/servers', json={'server': {
        'name': 'twice', 'flavor': 'm1.tiny', 'fixed_ips': [held['id']]}})
    assert again.status_code == 409, again.text
    r = netadmin.call('DELETE', path)
    assert r.status_code == 409 and 'delete it first' in r.text

    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])
    wait_until(lambda: dev.ok('GET', path)['fixed_ip']['server_id'] is None,
               20, interval=0.2)
    wait_until(lambda: entry not in _dhcp_hosts(api_cloud), 20,
               interval=0.2)
    # the quota counts the reservation: one more is over a limit of 1
    admin.ok('PUT', '/v1/quotas/%s' % clouds['project']['id'],
             json={'fixed_ips': 1})
    r = netadmin.call('POST', '/v1/fixed-ips', json={'network': 'apilan'})
    assert r.status_code == 403
    assert (r.json()['error']['limit'], r.json()['error']['in_use']) == (1, 1)
    admin.ok('PUT', '/v1/quotas/%s' % clouds['project']['id'],
             json={'fixed_ips': -1})
    netadmin.ok('DELETE', path)
    assert dev.call('GET', path).status_code == 404
