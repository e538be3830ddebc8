"""Floating IPs end to end over HTTP: a netadmin allocates an address of
an external network and points it at a server the project booted through
the API onto a flat network; the fake-driver agent of the test cloud NATs
it in this host's kernel (the /32 on the public uplink, DNAT and SNAT in
the hvagent nftables table) and takes both away again on disassociate and
on the server's delete. The floating_ips quota answers 403 with the limit.

The agent wires in this host's own namespace (the test cloud's agent is a
process here): its uplinks are veth pairs made for the test (UPLINKS)."""
import subprocess

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


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


def test_associate_nats_in_the_kernel_until_disassociated(clouds):
    dev, netadmin = clouds['dev'], clouds['netadmin']
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'fip-vm', 'flavor': 'm1.tiny', 'networks': ['apilan']}})
    srv = cloudlib.wait_status(dev, srv['server']['id'])
    assert srv['status'] == 'active', srv['fault']
    assert dev.call('POST', '/v1/floating-ips', json={}).status_code == 403
    fip = netadmin.ok('POST', '/v1/floating-ips', json={})['floating_ip']
    assert fip['network'] == 'apipublic' and fip['server_id'] is None
    path = '/v1/floating-ips/%s' % fip['id']
    # a developer of the project may read it, not point it
    assert dev.ok('GET', path)['floating_ip']['address'] == fip['address']
    assert dev.call('PUT', path, json={'server_id': srv['id']}
                    ).status_code == 403
    shown = netadmin.ok('PUT', path, json={'server_id': srv['id']})[
        'floating_ip']
    assert shown['server_id'] == srv['id']
    assert shown['fixed_ip'].startswith('10.77.0.'), shown
    _until(fip['address'], (True, True))
    table = _run('nft', 'list', 'table', 'inet', 'hvagent')
    assert 'dnat ip to %s' % shown['fixed_ip'] in table
    assert 'snat ip to %s' % fip['address'] in table
    netadmin.ok('PUT', path, json={'server_id': None})
    _until(fip['address'], (False, False))
    # associated again, then the server goes: the address stays the
    # project's, unassociated, and the kernel forgets it
    netadmin.ok('PUT', path, json={'server_id': srv['id']})
    _until(fip['address'], (True, True))
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])
    _until(fip['address'], (False, False))
    assert netadmin.ok('GET', path)['floating_ip']['server_id'] is None
    netadmin.ok('DELETE', path)
    assert netadmin.call('GET', path).status_code == 404


def test_floating_ip_quota_answers_403_with_limit_and_usage(clouds):
    admin, netadmin = clouds['admin'], clouds['netadmin']
    admin.ok('PUT', '/v1/quotas/%s' % clouds['project']['id'],
             json={'floating_ips': 1})
    first = netadmin.ok('POST', '/v1/floating-ips', json={})['floating_ip']
    r = netadmin.call('POST', '/v1/floating-ips', json={})
    assert r.status_code == 403, r.text
    message = r.json()['error']['message']
    assert 'floating_ips' in message and 'limit 1' in message and \
        'in use 1' in message
    quotas = netadmin.ok('GET', '/v1/quotas/%s' % clouds['project']['id'])
    assert quotas['quotas']['floating_ips'] == {'limit': 1, 'in_use': 1}
    netadmin.ok('DELETE', '/v1/floating-ips/%s' % first['id'])
