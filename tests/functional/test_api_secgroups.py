"""Security groups end to end over HTTP, played as the attacker: the test
cloud's real hvagent-api, conductor and fake-driver agent (wiring in this
host's kernel: its bridge hvagent nftables table) on RabbitMQ.

* another project's netadmin cannot add a rule to, delete, boot into or
  attach a group of ours (404 for each), nor boot on our network;
* a rule the hosts could not render is a 400 that names why;
* a rule added to a group in use reaches the host's nftables within
  seconds, with no port event (the conductor's refresh_networking cast),
  and so do a rule delete and a group removed from a running server;
* a server without groups still has anti-spoofing in the kernel.

Groups and rules are Network v2's (``/network/v2.0/security-groups``,
``/security-group-rules``), servers Compute's (``addSecurityGroup`` and
``removeSecurityGroup`` actions)."""
import subprocess
import time
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import NETWORK
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
GROUPS, RULES = NETWORK + '/security-groups', NETWORK + '/security-group-rules'


@pytest.fixture(scope='module')
def sg(api_cloud):
    skip_unless('nft', 'dnsmasq')
    for ours in cloudlib.wired_project(api_cloud, 'sgp1'):
        p2 = api_cloud.admin.ok('POST', '/v3/projects',
                                json={'project': {'name': 'sgp2'}})['project']
        ours['thief'] = api_cloud.add_user(p2['id'], 'sgthief', 'netadmin')
        ours['thiefdev'] = api_cloud.add_user(p2['id'], 'sgthiefdev',
                                              'developer')
        yield ours


def _bridge_table():
    return subprocess.run(['nft', 'list', 'table', 'bridge', 'hvagent'],
                          capture_output=True, text=True).stdout


def _chains(ip):
    """(egress, ingress) statements of the port whose address is ip."""
    chains, current = {}, None
    for line in (line.strip() for line in _bridge_table().splitlines()):
        if line.startswith('chain '):
            current = chains.setdefault(line.split()[1], [])
        elif line == '}':
            current = None
        elif current is not None and line:
            current.append(line)
    for name, lines in chains.items():
        if name.startswith('egress_') and 'ip saddr != %s drop' % ip in lines:
            return lines, chains['ingress_' + name[len('egress_'):]]
    return None, None


def _until(ip, check, timeout=10):
    t0 = time.monotonic()

    def reached():
        egress, ingress = _chains(ip)
        return bool(egress) and check(egress, ingress)
    wait_until(reached, timeout, message=lambda: (ip, *_chains(ip),
                                                  _bridge_table()))
    return time.monotonic() - t0


@pytest.fixture
def boot(sg):
    """Boot a server of sg's developer on apilan; every one is deleted
    after the test, passed or failed (its bridge and dnsmasq with it)."""
    made = []

    def make(name, **kw):
        server_id = cloudlib.boot(sg['dev'], name, networks=['apilan'], **kw)
        made.append(server_id)
        srv = cloudlib.wait_status(sg['dev'], server_id)
        assert cloudlib.vm_state(srv) == 'active', srv.get('fault')
        [address] = srv['addresses']['apilan']
        return srv, address['addr']
    yield make
    for server_id in made:
        sg['dev'].call('DELETE', '%s/servers/%s' % (COMPUTE, server_id))
    def gone():                                     # unplugged, gone
        made[:] = [i for i in made if sg['dev'].call(
            'GET', '%s/servers/%s' % (COMPUTE, i)).status_code != 404]
        return not made
    wait_until(gone, 30, message=lambda: made)


def _rule(group_id, **fields):
    """Network v2's body of an IPv4 ingress rule of ``group_id``."""
    return {'security_group_rule': dict(
        security_group_id=group_id, direction='ingress', ethertype='IPv4',
        **fields)}


def test_rules_reach_the_kernel_at_once_and_others_cannot_touch(sg, boot):
    netadmin = sg['netadmin']
    web = netadmin.ok('POST', GROUPS, json={'security_group': {
        'name': 'web'}})['security_group']
    base = '%s/%s' % (GROUPS, web['id'])
    srv, ip = boot('sg-web', security_groups=[{'name': web['id']}])
    assert srv['security_groups'] == [{'name': 'web'}], srv
    _until(ip, lambda e, i: i[-1] == 'drop' and not any(
        'dport 8080' in line for line in i))

    # a rule added to the group in use: in the kernel within seconds
    rule = netadmin.ok('POST', RULES, json=_rule(
        web['id'], protocol='tcp', port_range_min=8080))[
        'security_group_rule']
    took = _until(ip, lambda e, i: any('tcp dport 8080 accept' in line
                                       for line in i))
    assert took < 10
    # rules the hosts could not render: 400 with the reason, nothing kept
    for body, why in (({'protocol': 'tcp', 'port_range_min': 30,
                        'port_range_max': 20}, 'port_max 20'),
                      ({'remote_ip_prefix': '2001:db8::/64'}, 'not IPv4'),
                      ({'port_range_min': 22}, 'ports given for protocol'),
                      ({'remote_ip_prefix': '10.0.0.0/8',
                        'remote_group_id': web['id']}, 'not both')):
        r = netadmin.call('POST', RULES, json=_rule(web['id'], **body))
        assert r.status_code == 400, r.text
        assert why in r.json()['error']['message'], (body, r.text)
    [listed] = netadmin.ok('GET', GROUPS)['security_groups']
    assert listed['id'] == web['id']
    assert [r['id'] for r in listed['security_group_rules']] == [rule['id']]

    # the other project: every reference to our group or server is 404
    thief, thiefdev = sg['thief'], sg['thiefdev']
    for method, path, body in (
            ('POST', RULES, _rule(web['id'], protocol='tcp',
                                  port_range_min=1, port_range_max=65535)),
            ('GET', '%s/%s' % (RULES, rule['id']), None),
            ('DELETE', '%s/%s' % (RULES, rule['id']), None),
            ('GET', base, None),
            ('DELETE', base, None),
            ('POST', '%s/servers/%s/action' % (COMPUTE, srv['id']),
             {'addSecurityGroup': {'name': web['id']}}),
            ('POST', '%s/servers/%s/action' % (COMPUTE, srv['id']),
             {'removeSecurityGroup': {'name': web['id']}})):
        r = thief.call(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
    thiefs = thief.ok('POST', GROUPS, json={'security_group': {
        'name': 'web'}})['security_group']
    r = thief.call('POST', RULES, json=_rule(
        thiefs['id'], protocol='tcp', port_range_min=22,
        remote_group_id=web['id']))
    assert r.status_code == 404, r.text
    r = cloudlib.try_boot(thiefdev, 'in-their-group', networks=['apilan'],
                          security_groups=[{'name': web['id']}])
    assert r.status_code == 404, r.text
    assert thief.ok('GET', GROUPS)['security_groups'] == [thiefs]
    assert thief.ok('GET', RULES)['security_group_rules'] == \
        thiefs['security_group_rules']
    _until(ip, lambda e, i: not any('1-65535' in line for line in i))

    # delete the rule: gone from the kernel, no port event either
    netadmin.ok('DELETE', '%s/%s' % (RULES, rule['id']))
    _until(ip, lambda e, i: not any('dport 8080' in line for line in i))
    # in use: 409; out of the server: its port keeps anti-spoofing only
    assert netadmin.call('DELETE', base).status_code == 409
    r = cloudlib.action(netadmin, srv['id'],
                        {'removeSecurityGroup': {'name': web['id']}})
    assert r.status_code == 202, r.text
    _until(ip, lambda e, i: i == ['accept'])
    assert cloudlib.server(netadmin, srv['id'])['security_groups'] == []
    assert netadmin.call('DELETE', base).status_code == 204


def test_a_server_without_groups_cannot_spoof(boot):
    srv, ip = boot('sg-plain')
    _until(ip, lambda e, i: e[0].startswith('ether saddr != ') and
           'udp sport 67 drop' in e and i == ['accept'])


def test_another_projects_network_is_not_found(sg, api_cloud):
    name = 'sgpriv-%s' % uuid.uuid4().hex[:6]
    api_cloud.hvctl('network-create', name, '--type', 'vxlan', '--cidr',
                    '10.77.0.0/24')           # admin's own, not shared
    r = cloudlib.try_boot(sg['dev'], 'on-their-net', networks=[name])
    assert r.status_code == 404, r.text
    # nor hold a port of it for the project (a fixed IP reservation)
    r = sg['netadmin'].call('POST', NETWORK + '/ports', json={
        'port': {'network_id': name}})
    assert r.status_code == 404, r.text
    api_cloud.hvctl('network-delete', name)
