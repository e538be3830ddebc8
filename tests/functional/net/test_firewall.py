"""Security groups against real traffic: guests in namespaces on a bridge
in a "host" namespace, the hvagent tables loaded into that host.

The tcp/22 test also proves connection tracking works: the SYN-ACK back to
the client hits the client's ingress chain, which allows only dport 22, so
it only gets through as "established" (the br_netfilter mark).
"""
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import uuid

import pytest

from net import dhcp
from net import model
from net import privileged
from net import ruleset as net_ruleset
from tests.fixtures import netns as nh

pytestmark = pytest.mark.functional

NET = str(uuid.uuid4())
SSH_ONLY = (model.Rule('ingress', protocol='tcp', port_min=22),)
ICMP_TOO = SSH_ONLY + (model.Rule('ingress', protocol='icmp'),)

SERVER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(8); sel.register(s, 1)
print('ready', flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); conn.sendall(b'hello'); conn.close()
"""
CLIENT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    sys.exit(0 if s.recv(5) == b'hello' else 1)
except OSError:
    sys.exit(1)
"""


def port(ip, rules=SSH_ONLY, security=True, mac=None):
    pid = str(uuid.uuid4())
    return model.Port(id=pid, network_id=NET, ip=ip, rules=rules,
                      security=security,
                      mac=mac or '02:00:%s' % ':'.join(
                          pid.replace('-', '')[i:i + 2] for i in (0, 2, 4, 6)))


@pytest.fixture
def host(firewalled):
    topo, fw = firewalled(model.bridge_name(NET))
    a, b = port('10.0.0.11'), port('10.0.0.12')
    c = port('10.0.0.13', security=False)
    for p in (a, b, c):
        topo.add_guest(p, p.ip + '/24')
    server = topo.popen(topo.guests[b.id], sys.executable, '-c', SERVER,
                        '22', '23')
    assert server.stdout.readline().strip() == 'ready'
    return topo, fw, a, b, c


def connects(topo, src, dst, tcp_port):
    return nh.nsexec(topo.guests[src.id], sys.executable, '-c', CLIENT,
                     dst.ip, str(tcp_port)).returncode == 0


def tables(topo):
    return [t for t in privileged.nft_tables(topo.host) if t[1] == 'hvagent']


def ruleset(topo):
    return nh.nsexec(topo.host, 'nft', 'list', 'ruleset', check=True).stdout


def test_only_ssh_ingress(host):
    topo, fw, a, b, c = host
    ga = topo.guests[a.id]
    assert topo.ping(ga, b.ip) and connects(topo, a, b, 23)   # unfiltered

    fw.apply([a, b, c])
    assert sorted(tables(topo)) == [('bridge', 'hvagent'), ('inet', 'hvagent')]
    assert not topo.ping(ga, b.ip)
    assert connects(topo, a, b, 22)
    assert not connects(topo, a, b, 23)
    assert topo.ping(ga, c.ip)          # no groups: ingress open
    assert topo.ping(topo.guests[c.id], a.ip) is False   # a is filtered

    fw.apply([a, b, c])                 # idempotent
    assert connects(topo, a, b, 22) and not topo.ping(ga, b.ip)

    fw.remove()
    assert tables(topo) == []
    assert topo.ping(ga, b.ip) and connects(topo, a, b, 23)
    fw.remove()                         # idempotent


def test_anti_spoofing(host):
    topo, fw, a, b, c = host
    ga = topo.guests[a.id]
    fw.apply([a, b, c])
    assert connects(topo, a, b, 22)

    nh.ip('addr', 'flush', 'dev', 'eth0', netns=ga)     # another IP
    nh.ip('addr', 'add', '10.0.0.21/24', 'dev', 'eth0', netns=ga)
    assert not connects(topo, a, b, 22)
    assert not topo.ping(ga, c.ip)
    nh.ip('addr', 'flush', 'dev', 'eth0', netns=ga)
    nh.ip('addr', 'add', a.ip + '/24', 'dev', 'eth0', netns=ga)
    assert connects(topo, a, b, 22)

    nh.ip('link', 'set', 'eth0', 'address', '02:66:66:66:66:66', netns=ga)
    assert not connects(topo, a, b, 22)
    assert not topo.ping(ga, c.ip)
    nh.ip('link', 'set', 'eth0', 'address', a.mac, netns=ga)
    assert connects(topo, a, b, 22)


def test_quarantined_port_is_cut_off_whatever_its_groups(host):
    """An isolated instance's port: nothing in or out, the unfiltered
    neighbour and the ssh rule included; released, as before."""
    topo, fw, a, b, c = host
    ga, gc = topo.guests[a.id], topo.guests[c.id]
    fw.apply([a, b, c])
    assert connects(topo, a, b, 22)
    b_cut = dataclasses.replace(b, quarantined=True)
    c_cut = dataclasses.replace(c, quarantined=True)   # security=False too
    fw.apply([a, b_cut, c_cut])
    assert not connects(topo, a, b, 22)       # ingress rule no longer counts
    assert not topo.ping(topo.guests[b.id], a.ip)
    assert not topo.ping(ga, c.ip) and not topo.ping(gc, a.ip)
    fw.apply([a, b, c])                        # released
    assert connects(topo, a, b, 22) and topo.ping(gc, b.ip) is False
    assert topo.ping(ga, c.ip)


def test_replace_is_atomic(host):
    topo, fw, a, b, c = host
    ga = topo.guests[a.id]
    fw.apply([a, b, c])
    assert not topo.ping(ga, b.ip)

    b2 = model.Port(**{**b.__dict__, 'rules': ICMP_TOO})
    fw.apply([a, b2, c])
    assert topo.ping(ga, b.ip) and connects(topo, a, b, 22)
    before = ruleset(topo)

    # nft itself refusing the text (here: garbage after a valid ruleset)
    # rolls the whole transaction back
    with pytest.raises(privileged.NetError):
        privileged.nft_apply(net_ruleset.render([a, b2, c]) + 'garbage\n',
                             topo.host)
    assert ruleset(topo) == before
    time.sleep(0.1)
    assert topo.ping(ga, b.ip)
    fw.apply([])                        # no filtered port: tables gone
    assert tables(topo) == []


@pytest.mark.parametrize('hostile', [
    model.Rule('ingress', protocol='tcp', port_min=22,
               remote_cidr='0.0.0.0/0 accept; flush ruleset'),
    model.Rule('ingress', protocol='tcp', port_min=30, port_max=20),
    model.Rule('ingress', protocol='tcp', port_min=22,
               remote_cidr='2001:db8::/64'),
    model.Rule('ingress', port_min=22),
])
def test_bad_rule_cuts_off_only_its_own_port(host, hostile):
    """A rule no validator should have let through (an old conductor, a
    hand-edited database) reaches the agent's view of port b: b fails
    closed, reported; a and c keep their rules, applied in the kernel
    (before, the whole host's ruleset was refused and every later boot
    on the host failed)."""
    topo, fw, a, b, c = host
    ga = topo.guests[a.id]
    b_bad = dataclasses.replace(b, rules=SSH_ONLY + (hostile,))
    rejected = fw.apply([a, b_bad, c])
    assert list(rejected) == [b.id]
    assert 'flush' not in ruleset(topo)
    assert not connects(topo, a, b, 22)          # b: drop everything
    assert not topo.ping(topo.guests[b.id], c.ip)
    assert topo.ping(ga, c.ip)                   # the others: as before
    assert topo.ping(topo.guests[c.id], a.ip) is False
    d = port('10.0.0.14')                        # a later boot on the host
    topo.add_guest(d, d.ip + '/24')
    fw.apply([a, b_bad, c, d])
    assert 'egress_' + d.tap in ruleset(topo)
    assert topo.ping(topo.guests[d.id], c.ip)
    fw.apply([a, b, c, d])                       # fixed: b is back
    assert connects(topo, a, b, 22)


def test_dhcp_through_the_firewall(host, tmp_path):
    """DHCP to a filtered guest works (the ingress chain lets replies from
    udp 67 through); a guest cannot pose as a DHCP server; stop() leaves
    no dnsmasq."""
    nh.skip_unless('dnsmasq', 'busybox')
    topo, fw, a, b, c = host
    net = model.Network(id=NET, name='n', type='flat', cidr='10.0.0.0/24',
                        gateway='10.0.0.1')
    d = port('10.0.0.14')
    topo.add_guest(d)                   # no address: asks by DHCP
    state = tempfile.mkdtemp(prefix='hvt-dhcp-', dir='/var/tmp')
    os.chmod(state, 0o755)
    server = dhcp.DhcpServer(state, netns=topo.host)
    try:
        topo.add_address(server.update(net, [a, b, c, d]))
        fw.apply([a, b, c, d])
        script = nh.udhcpc_script(state)
        assert nh.lease(topo, d, script) == ('10.0.0.14', '10.0.0.1', ())
        assert connects(topo, d, b, 22) and not topo.ping(
            topo.guests[d.id], b.ip)
        # a rogue DHCP server in guest a: its offers never reach b
        rogue = topo.popen(topo.guests[a.id], 'busybox', 'udhcpd', '-f',
                           _udhcpd_conf(state))
        server.stop(net.id)
        nh.ip('addr', 'flush', 'dev', 'eth0', netns=topo.guests[d.id])
        assert nh.lease(topo, d, script, tries=3) is None
        assert rogue.poll() is None     # it was really serving
    finally:
        server.stop(net.id)
        shutil.rmtree(state, ignore_errors=True)


def _udhcpd_conf(directory):
    path = os.path.join(directory, 'udhcpd.conf')
    with open(path, 'w') as f:
        f.write('start 10.0.0.100\nend 10.0.0.120\ninterface eth0\n'
                'lease_file %s/udhcpd.leases\n' % directory)
    open(os.path.join(directory, 'udhcpd.leases'), 'w').close()
    return path
