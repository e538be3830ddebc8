"""Floating IPs end to end over HTTP: a netadmin allocates an address of
an external network and points it at a server the project booted through
the API onto a flat network; the fake-driver agent of the test cloud NATs
it in this host's kernel (the /32 on the public uplink, DNAT and SNAT in
the hvagent nftables table) and takes both away again on disassociate and
on the server's delete. The floating_ips quota answers 403 with the limit.

The agent wires in this host's own namespace (the test cloud's agent is a
process here): its uplinks are veth pairs made for the test (UPLINKS).

Floating IPs are Network v2's (``/network/v2.0/floatingips``, pointed at
a server's port), servers Compute's, quotas Compute's os-quota-sets."""
import subprocess

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import NETWORK
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
FIPS = NETWORK + '/floatingips'


def _run(*argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout


@pytest.fixture(scope='module')
def clouds(api_cloud):
    skip_unless('nft', 'dnsmasq')
    yield from cloudlib.wired_project(api_cloud, 'fip')


def _kernel(address):
    """(the /32 is on the public uplink, the NAT rules name it)"""
    addrs = _run('ip', '-4', '-o', 'addr', 'show', 'dev',
                 cloudlib.UPLINKS['apipublic'])
    table = _run('nft', 'list', 'table', 'inet', 'hvagent')
    return ('%s/32' % address in addrs, 'dnat ip to' in table and
            address in table)


def _until(address, wanted, timeout=20):
    wait_until(lambda: _kernel(address) == wanted, timeout, message=lambda: (
        _kernel(address), _run('nft', 'list', 'table', 'inet', 'hvagent')))


def _allocate(client, network='apipublic'):
    """POST a floating IP of ``network`` (by id, as neutron takes it):
    the response."""
    return client.call('POST', FIPS, json={'floatingip': {
        'floating_network_id': cloudlib.network_id(client, network)}})


def _point(client, path, port_id):
    return client.call('PUT', path, json={'floatingip': {
        'port_id': port_id}})


def test_associate_nats_in_the_kernel_until_disassociated(clouds):
    dev, netadmin = clouds['dev'], clouds['netadmin']
    server_id = cloudlib.boot(dev, 'fip-vm', networks=['apilan'])
    srv = cloudlib.wait_status(dev, server_id)
    assert cloudlib.vm_state(srv) == 'active', srv.get('fault')
    port = cloudlib.server_port(dev, server_id)
    assert _allocate(dev).status_code == 403
    r = _allocate(netadmin)
    assert r.status_code == 201, r.text
    fip = r.json()['floatingip']
    assert fip['floating_network_id'] == cloudlib.network_id(
        netadmin, 'apipublic') and fip['port_id'] is None, fip
    path = '%s/%s' % (FIPS, fip['id'])
    address = fip['floating_ip_address']
    # a developer of the project may read it, not point it
    assert dev.ok('GET', path)['floatingip'][
        'floating_ip_address'] == address
    assert _point(dev, path, port['id']).status_code == 403
    r = _point(netadmin, path, port['id'])
    assert r.status_code == 200, r.text
    shown = r.json()['floatingip']
    assert shown['port_id'] == port['id'] and port['device_id'] == \
        server_id, (shown, port)
    fixed = shown['fixed_ip_address']
    assert fixed == port['fixed_ips'][0]['ip_address'] and \
        fixed.startswith('10.77.0.'), shown
    _until(address, (True, True))
    table = _run('nft', 'list', 'table', 'inet', 'hvagent')
    assert 'dnat ip to %s' % fixed in table
    assert 'snat ip to %s' % address in table
    netadmin.ok('PUT', path, json={'floatingip': {'port_id': None}})
    _until(address, (False, False))
    # associated again, then the server goes: the address stays the
    # project's, unassociated, and the kernel forgets it
    assert _point(netadmin, path, port['id']).status_code == 200
    _until(address, (True, True))
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, server_id))
    _until(address, (False, False))
    assert netadmin.ok('GET', path)['floatingip']['port_id'] is None
    netadmin.ok('DELETE', path)
    assert netadmin.call('GET', path).status_code == 404


def test_floating_ip_quota_answers_403_with_limit_and_usage(clouds):
    admin, netadmin = clouds['admin'], clouds['netadmin']
    quotas = '%s/os-quota-sets/%s' % (COMPUTE, clouds['project']['id'])
    admin.ok('PUT', quotas, json={'quota_set': {'floating_ips': 1}})
    r = _allocate(netadmin)
    assert r.status_code == 201, r.text
    first = r.json()['floatingip']
    r = _allocate(netadmin)
    assert r.status_code == 403, r.text
    message = r.json()['error']['message']
    assert 'floating_ips' in message and 'limit 1' in message and \
        'in use 1' in message
    shown = netadmin.ok('GET', quotas + '/detail')['quota_set']
    assert {k: shown['floating_ips'][k] for k in ('limit', 'in_use')} == {
        'limit': 1, 'in_use': 1}, shown
    netadmin.ok('DELETE', '%s/%s' % (FIPS, first['id']))
