"""The compute unit's capabilities are the ones net/ needs: no fewer, no more.

hvagent-compute runs as an unprivileged user with the unit's
AmbientCapabilities=. Here the same operations net/ performs run in a
network namespace as an unprivileged uid holding exactly that set
(setpriv --ambient-caps, read from systemd/hvagent-compute.service), each
with the argv or input net/ itself builds where it builds one: a bridge with
the gateway address and a veth/tap device (netlink, TUNSETIFF), the
security-group and floating IP NAT ruleset (net_ruleset.render) loaded with
``nft -f -``, the br_netfilter and ip_forward sysctls, a floating /32 with
its label (floating.label) on an uplink, and dnsmasq with DhcpServer's own
argv and files,
answering a real DHCP client (busybox udhcpc) in a second namespace. Then
each capability is dropped in turn and something must fail: none is
superfluous. (The agent's own Python cannot run as another uid here: the
interpreter lives under /root; the kernel checks are the same for ``ip``.)

The privsep boundary (docs/privileges.md) is checked with the agent's own
code run by /usr/bin's python of the same version (privsep_probe.py): the
compute entry point's start-up leaves the main process no capability and
the daemon exactly the set, net/ still wires, filters and serves DHCP
through the daemon while the main process is refused by the kernel,
hostile requests are refused by the boundary, and a unit granting only
part of the set makes hvagent-compute exit 78 in one line.
"""
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid

import pytest
from oslo_privsep import capabilities

from net import dhcp
from net import floating
from net import model
from net import privsep
from net import ruleset as net_ruleset
from tests.fixtures.waiting import WaitTimeout
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

UNIT = os.path.join(os.path.dirname(__file__), '..', '..', 'systemd',
                    'hvagent-compute.service')
MAC, IP = '52:54:00:12:34:56', '10.77.0.9'


def _unit_caps():
    values = {}
    with open(UNIT) as f:
        for line in f:
            key, sep, value = line.strip().partition('=')
            if sep and key in ('AmbientCapabilities',
                               'CapabilityBoundingSet'):
                values.setdefault(key, set()).update(value.split())
    assert values['AmbientCapabilities'] == \
        values['CapabilityBoundingSet'], values
    return sorted(values['AmbientCapabilities'])


def _free_uid():
    for uid in range(64100, 64200):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    pytest.skip('no free uid in 64100-64199')


@pytest.fixture(scope='module')
def host():
    if os.geteuid():
        pytest.skip('needs root (network namespaces, setpriv)')
    for tool in ('setpriv', 'ip', 'nft', 'sysctl', 'dnsmasq', 'busybox'):
        if not shutil.which(tool):
            pytest.skip('%s not installed' % tool)
    return _free_uid()


class Namespaces:
    """A 'host' namespace where the unprivileged uid works and a 'guest'
    one with a veth into the host's bridge."""

    def __init__(self, uid):
        self.uid = uid
        tag = uuid.uuid4().hex[:8]
        self.host, self.guest = 'hvcap-h-' + tag, 'hvcap-g-' + tag
        for ns in (self.host, self.guest):
            subprocess.run(['ip', 'netns', 'add', ns], check=True)
        self.state = tempfile.mkdtemp(prefix='hvcap-')
        os.chmod(self.state, 0o755)     # dnsmasq reads it as the uid
        os.chown(self.state, uid, uid)

    def as_uid(self, caps, argv, **kw):
        """Run argv in the host namespace as the uid with only ``caps``."""
        spec = ','.join(['-all'] + ['+' + c.lower()[len('cap_'):]
                                    for c in caps])
        return subprocess.run(
            ['ip', 'netns', 'exec', self.host, 'setpriv',
             '--reuid=%d' % self.uid, '--regid=%d' % self.uid,
             '--clear-groups', '--inh-caps=' + spec,
             '--ambient-caps=' + spec, '--bounding-set=' + spec] + argv,
            capture_output=True, text=True, timeout=30, **kw)

    def root(self, ns, *argv):
        return subprocess.run(['ip', 'netns', 'exec', ns, *argv],
                              capture_output=True, text=True, timeout=30)

    def close(self):
        pidfile = os.path.join(self.state, 'net1', 'pid')
        if os.path.exists(pidfile):
            subprocess.run(['kill', open(pidfile).read().strip()])
        for ns in (self.host, self.guest):
            subprocess.run(['ip', 'netns', 'del', ns])
        shutil.rmtree(self.state, ignore_errors=True)


def _operations(ns, caps):
    """Do what net/ does, as the uid with ``caps``; {step: error or None}."""
    network = model.Network(id='net1', name='capnet', type='flat',
                            cidr='10.77.0.0/24', gateway='10.77.0.1')
    port = model.Port(id='port1', network_id='net1', mac=MAC, ip=IP,
                      rules=(model.Rule(direction='ingress', protocol='tcp',
                                        port_min=22, port_max=22),),
                      floating_ip='203.0.113.10', floating_interface='upcap')
    bridge, tap = network.bridge, model.tap_name(port.id)
    results = {}

    def step(name, argv, **kw):
        proc = ns.as_uid(caps, argv, **kw)
        results[name] = None if proc.returncode == 0 else \
            (proc.stderr or proc.stdout).strip() or 'exit %d' % \
            proc.returncode
        return results[name] is None

    step('bridge', ['ip', 'link', 'add', bridge, 'type', 'bridge'])
    step('gateway address', ['ip', 'addr', 'add', '10.77.0.1/24', 'dev',
                             bridge])
    step('bridge up', ['ip', 'link', 'set', bridge, 'up'])
    step('tap', ['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap'])
    step('tap on bridge', ['ip', 'link', 'set', tap, 'master', bridge])
    step('nft ruleset', ['nft', '-f', '-'], input=net_ruleset.render([port]))
    if ns.root(ns.host, 'test', '-e',
               '/proc/sys/net/bridge/bridge-nf-call-iptables').returncode:
        results['br_netfilter sysctl'] = 'skipped: br_netfilter not loaded'
    else:
        step('br_netfilter sysctl', ['sysctl', '-q', '-w',
                                     'net.bridge.bridge-nf-call-iptables=1'])
    step('ip_forward sysctl', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
    ns.root(ns.host, 'ip', 'link', 'add', 'upcap', 'type', 'veth', 'peer',
            'name', 'upcapp')
    step('floating /32', ['ip', 'addr', 'add', '203.0.113.10/32', 'dev',
                          'upcap', 'label', floating.label('upcap')])
    # DHCP: the guest's NIC is a veth on the bridge (made by root: wiring
    # the guest side is libvirt's job, not the agent's)
    veth = 'vcap' + uuid.uuid4().hex[:6]
    ns.root(ns.host, 'ip', 'link', 'add', veth, 'type', 'veth', 'peer',
            'name', 'eth0', 'netns', ns.guest)
    ns.root(ns.host, 'ip', 'link', 'set', veth, 'master', bridge, 'up')
    ns.root(ns.guest, 'ip', 'link', 'set', 'eth0', 'address', MAC, 'up')
    path = os.path.join(ns.state, network.id)
    os.makedirs(path, mode=0o755)
    os.chown(path, ns.uid, ns.uid)
    for name, text in (('hosts', dhcp.DhcpServer._hosts(network, [port],
                                                        '10.77.0.1')),
                       ('opts', dhcp.DhcpServer._opts(network))):
        with open(os.path.join(path, name), 'w') as f:
            f.write(text)
        os.chmod(os.path.join(path, name), 0o644)
    if step('dnsmasq', dhcp.DhcpServer._argv(network, path)):
        lease = ns.root(ns.guest, 'busybox', 'udhcpc', '-i', 'eth0', '-n',
                        '-q', '-t', '5', '-T', '1', '-s', '/bin/true')
        results['DHCP lease'] = None if 'lease of %s obtained' % IP in \
            lease.stdout + lease.stderr else (lease.stdout + lease.stderr)
    return results


def test_the_units_capabilities_are_enough(host):
    caps = _unit_caps()
    assert 'CAP_NET_ADMIN' in caps
    ns = Namespaces(host)
    try:
        results = _operations(ns, caps)
    finally:
        ns.close()
    failed = {k: v for k, v in results.items()
              if v and not v.startswith('skipped')}
    assert not failed, failed
    assert results['DHCP lease'] is None
    print('with %s: %s' % (' '.join(caps), ', '.join(
        '%s %s' % (k, v or 'ok') for k, v in results.items())))


@pytest.mark.parametrize('dropped', _unit_caps())
def test_every_capability_is_needed(host, dropped):
    ns = Namespaces(host)
    try:
        results = _operations(ns, [c for c in _unit_caps() if c != dropped])
    finally:
        ns.close()
    failed = {k: v for k, v in results.items()
              if v and not v.startswith('skipped')}
    assert failed, 'nothing needs %s: %s' % (dropped, results)
    print('without %s: %s' % (dropped, failed))


# ------------------------------------------------- the privsep boundary
PROBE = 'tests.functional.privsep_probe'
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
REFUSED = 'NetError: refused by the privilege boundary'


def _system_python():
    """This Python's version from /usr/bin, run with -S (no site: Debian's
    dist-packages would shadow the venv's) on the repo and the venv's
    packages: the uid cannot reach the venv's own interpreter under
    /root, but can read its packages."""
    path = '/usr/bin/python%d.%d' % sys.version_info[:2]
    if not os.path.exists(path):
        pytest.skip('%s not installed (the uid cannot run %s)'
                    % (path, sys.executable))
    return ['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
            'PYTHONPATH=%s:%s' % (ROOT, sysconfig.get_paths()['purelib']),
            path, '-S']


@pytest.fixture(scope='module')
def probed(host):
    """The probe's findings: the compute entry point's privsep start-up
    run as the unit runs it, then net/ through the daemon, in a host
    namespace with a foreign link (an operator's NIC)."""
    ns = Namespaces(host)
    try:
        ns.root(ns.host, 'ip', 'link', 'add', 'eth9', 'type', 'veth',
                'peer', 'name', 'eth9p')
        ns.root(ns.host, 'ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'eth9')
        ns.root(ns.host, 'nft', 'add', 'table', 'inet', 'operator')
        proc = ns.as_uid(_unit_caps(), _system_python()
                         + ['-m', PROBE, ns.state, 'eth9'], cwd='/')
        assert proc.returncode == 0, proc.stderr
        found = json.loads(proc.stdout.splitlines()[-1])
        # the daemon ends with the agent (its socket closed)
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: not os.path.exists(
                '/proc/%d' % found['daemon_pid']), 10, interval=0.05)
        found['daemon_left'] = os.path.exists('/proc/%d'
                                              % found['daemon_pid'])
        found['tables'] = ns.root(ns.host, 'nft', 'list', 'tables').stdout
        found['eth9'] = ns.root(ns.host, 'ip', '-o', 'addr', 'show',
                                'eth9').stdout
        # a guest on the bridge gets its lease from the daemon's dnsmasq
        veth = 'vcap' + uuid.uuid4().hex[:6]
        ns.root(ns.host, 'ip', 'link', 'add', veth, 'type', 'veth', 'peer',
                'name', 'eth0', 'netns', ns.guest)
        ns.root(ns.host, 'ip', 'link', 'set', veth, 'master',
                model.bridge_name('net1'), 'up')
        ns.root(ns.guest, 'ip', 'link', 'set', 'eth0', 'address', MAC, 'up')
        lease = ns.root(ns.guest, 'busybox', 'udhcpc', '-i', 'eth0', '-n',
                        '-q', '-t', '5', '-T', '1', '-s', '/bin/true')
        found['lease'] = lease.stdout + lease.stderr
        yield found
    finally:
        ns.close()


def test_the_agent_keeps_no_capability_the_daemon_exactly_the_units(probed):
    unit = privsep.mask(getattr(capabilities, c) for c in _unit_caps())
    assert privsep.mask() == unit
    assert probed['client_mode'] is True
    main = probed['main']
    assert (main['CapEff'], main['CapPrm'], main['CapInh'],
            main['CapAmb']) == (0, 0, 0, 0), main
    daemon = probed['daemon']
    assert daemon['CapEff'] == daemon['CapPrm'] == unit, daemon
    assert daemon['CapAmb'] == daemon['CapInh'] == 0, daemon
    assert probed['daemon_left'] is False
    # the same netlink request, made by the main process itself
    assert 'Operation not permitted' in probed['direct netlink']
    assert 'nft rejected' in probed['direct nft']
    # ... works through the daemon: bridge, tap on it, uplink, ruleset
    assert {'brqnet1', 'tapport1', 'eth9'} <= set(probed['links'])
    assert probed['rejected'] == {}
    assert 'table bridge hvagent' in probed['tables']
    # dnsmasq, not root, kept the three capabilities (ambient) and serves
    dnsmasq = probed['dnsmasq']
    assert dnsmasq['CapEff'] == dnsmasq['CapAmb'] == unit, dnsmasq
    assert 'lease of %s obtained' % IP in probed['lease'], probed['lease']
    print('main %s, daemon %s, dnsmasq %s' % (main, daemon, dnsmasq))


def test_hostile_requests_are_refused(probed):
    hostile = dict(probed['hostile'])
    assert hostile.pop('nft injection: cut off') == ['p2']
    assert 'not exported' in hostile.pop('call a non-entrypoint')
    let_through = {k: v for k, v in hostile.items()
                   if not (v or '').startswith(REFUSED)}
    assert not let_through, let_through
    # the operator's table, NIC and address are untouched
    assert 'table inet operator' in probed['tables']
    assert '192.0.2.1/24' in probed['eth9']
    print('\n'.join('%s: %s' % kv for kv in sorted(hostile.items())))


def test_a_unit_granting_part_of_the_set_is_refused(host):
    """hvagent-compute itself, holding two of the three: exit 78
    (EX_CONFIG, systemd does not restart it) with one line naming the
    missing capability, before it forks anything."""
    ns = Namespaces(host)
    try:
        proc = ns.as_uid(
            [c for c in _unit_caps() if c != 'CAP_NET_RAW'],
            _system_python() + ['-c', 'import sys; from agent.compute '
                                'import main; sys.exit(main.main([]))'],
            cwd='/')
    finally:
        ns.close()
    assert proc.returncode == 78, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'missing CAP_NET_RAW' in lines[0], lines
