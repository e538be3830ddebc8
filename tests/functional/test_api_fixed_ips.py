"""Fixed IP reservations end to end over HTTP: a netadmin holds an address
of a flat network for the project (a Network v2 port without a server),
a developer boots on it through the API (Compute's ``"networks":
[{"port": id}]``), the fake-driver agent of the test cloud serves that
address by DHCP (its dnsmasq hosts file on this host), the port comes
back to the project, unbound, when the server goes, and the fixed_ips
quota counts it."""
import os

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import NETWORK
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
PORTS = NETWORK + '/ports'


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


def _hold(client, address=None, network='apilan'):
    """POST a port of ``network`` without a server (``address`` or the
    first free one): the response."""
    port = {'network_id': network}
    if address is not None:
        port['fixed_ips'] = [{'ip_address': address}]
    return client.call('POST', PORTS, json={'port': port})


def _addresses(srv):
    """{network name: [address, ...]} of a server's nova view."""
    return {net: [a['addr'] for a in addrs]
            for net, addrs in srv['addresses'].items()}


def test_reserve_boot_on_it_get_it_back_and_quota(api_cloud, clouds):
    netadmin, dev, admin = clouds['netadmin'], clouds['dev'], clouds['admin']
    r = _hold(netadmin, '10.77.0.200')
    assert r.status_code == 201, r.text
    held = r.json()['port']
    assert ([ip['ip_address'] for ip in held['fixed_ips']],
            held['network_id'], held['device_id']) == (
        ['10.77.0.200'], cloudlib.network_id(netadmin, 'apilan'), '')
    path = '%s/%s' % (PORTS, held['id'])
    assert _hold(dev).status_code == 403
    assert _hold(netadmin, '10.77.0.200').status_code == 409
    assert _hold(netadmin, '<10.77.0.1>').status_code == 400
    assert held['id'] in {p['id'] for p in dev.ok('GET', PORTS)['ports']}

    server_id = cloudlib.boot(dev, 'held', networks=[{'port': held['id']}])
    srv = cloudlib.wait_status(dev, server_id)
    assert (cloudlib.vm_state(srv), _addresses(srv)) == (
        'active', {'apilan': ['10.77.0.200']}), srv
    assert dev.ok('GET', path)['port']['device_id'] == server_id
    entry = '%s,10.77.0.200' % held['mac_address']
    wait_until(lambda: entry in _dhcp_hosts(api_cloud), 20, interval=0.2)
    # held by a server: no second boot on it, and not freed
    again = cloudlib.try_boot(dev, 'twice', networks=[{'port': held['id']}])
    assert again.status_code == 409, again.text
    r = netadmin.call('DELETE', path)
    assert r.status_code == 409 and 'delete it first' in r.text, r.text

    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, server_id))
    wait_until(lambda: dev.ok('GET', path)['port']['device_id'] == '',
               20, interval=0.2)
    wait_until(lambda: entry not in _dhcp_hosts(api_cloud), 20,
               interval=0.2)
    # the quota counts the reservation: one more is over a limit of 1
    quotas = '%s/os-quota-sets/%s' % (COMPUTE, clouds['project']['id'])
    admin.ok('PUT', quotas, json={'quota_set': {'fixed_ips': 1}})
    r = _hold(netadmin)
    assert r.status_code == 403, r.text
    assert (r.json()['error']['limit'], r.json()['error']['in_use']) == (1, 1)
    admin.ok('PUT', quotas, json={'quota_set': {'fixed_ips': -1}})
    netadmin.ok('DELETE', path)
    assert dev.call('GET', path).status_code == 404
