"""net/ wires 802.1Q VLAN networks that really isolate, proven on a kernel
that has 8021q: inside the net test guest (tools/build-net-test-image, a
QEMU/TCG machine), because the CI host's kernel may have no VLAN support.

Topology built in the guest (every box a network namespace)::

     hosta                                   hostb
     brq<net100> - phys0.100 -\\     /- phys0.100 - brq<net100>
        |  tap -> ga100       phys0 == phys0      |  tap -> gb100
     brq<net200> - phys0.200 -/ (veth)  \\- phys0.200 - brq<net200>
        |  tap -> ga200                            |  tap -> gb200

Two "hypervisors" (hosta, hostb) joined by one veth pair standing in for
the physical NIC (phys0 in both), each wired by ``net.wiring.Wiring(netns=
<host>)`` for a VLAN 100 and a VLAN 200 network on phys0, and one "guest"
namespace per port, plugged by ``Wiring.plug_port``. Both networks use the
same subnet and the same addresses (x.1 in hosta, x.2 in hostb), so a frame
that leaked from one VLAN into the other would be answered: the checks are

  * ``wiring-<host>``: the kernel objects are what net/ promised (phys0.<vid>
    is a VLAN of phys0 with that id, enslaved to the network's bridge, the
    taps are ports of the right bridge); read back with ``ip -d -j``
  * ``vlan100-same`` / ``vlan200-same``: the guest of hosta reaches 10.0.0.2
    on its own VLAN, and the answer comes from the hostb guest of *that*
    VLAN (its MAC in the neighbour table)
  * ``vlan200-isolated`` / ``vlan100-isolated``: with the same-VLAN peer
    down, 10.0.0.2 is unreachable although the other VLAN's guest has it
  * ``unplug``: ``unplug_port`` of each network's only port in a host
    removes the network there too: nothing is left in either host but lo
    and phys0 (the remaining links are printed)

The payload ships the repo's ``net/`` (all of it), ``agent/exception.py``
under a stub ``agent/__init__.py`` (the real one imports oslo, which the
guest lacks; net/ only needs the exception module), a stub ``oslo_privsep``
(the real one needs oslo.config, msgpack and cffi; the guest runs net/
in-process as root, privsep's client mode off, so the entrypoints are plain
functions and no capability is handed around) and the venv's pyroute2,
so the guest runs the agent's code with the agent's pyroute2 version.

Timeouts are generous (TCG on a loaded 2-core CI box); nothing here asserts
on how fast things happen.
"""
import ast
import pathlib
import re
import sys

import pytest

from tests.functional.net import vlan_guest

pytestmark = pytest.mark.functional

REPO = vlan_guest.REPO
GUEST_TIMEOUT = 900

AGENT_STUB = b'''"""Stub for the net test guest: the real agent/__init__.py
sets up oslo.service, which the guest does not have; net/ only needs
agent.exception."""
'''

#: what net/privsep.py uses of oslo.privsep, for an in-process run as root
PRIVSEP_STUB = {
    'oslo_privsep/__init__.py': b'',
    'oslo_privsep/comm.py': b'',
    'oslo_privsep/daemon.py': b'',
    'oslo_privsep/capabilities.py': b'''"""Stub: root holds everything."""
CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN = 10, 12, 13, 21


def get_caps():
    return [], [], []


def drop_all_caps_except(effective, permitted, inheritable):
    pass
''',
    'oslo_privsep/priv_context.py': b'''"""Stub: client mode off."""


class PrivContext:
    def __init__(self, prefix, **kwargs):
        self.client_mode, self.channel = False, None

    def set_client_mode(self, enabled):
        self.client_mode = enabled

    def entrypoint(self, func):
        return func
'''}


def _pyroute2_files():
    """The venv's pyroute2 (the one the agent runs with), if importable."""
    try:
        import pyroute2
    except ImportError:
        return {}                          # the guest's Debian one, then
    return vlan_guest.python_files(pathlib.Path(pyroute2.__file__).parent)


# What the payload provides besides the stdlib (the guest's python3 has
# nothing else worth counting on).
SHIPPED = {'net', 'agent.exception', 'pyroute2', 'oslo_privsep'}


def _unshipped_imports():
    """Imports of net/ the payload does not provide: ['net/x.py: foo']."""
    bad = []
    for path in sorted((REPO / 'net').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module + '.' + alias.name
                         for alias in node.names]
            else:
                continue
            for name in names:
                if name.split('.')[0] in sys.stdlib_module_names:
                    continue
                if not any(name == s or name.startswith(s + '.')
                           for s in SHIPPED):
                    bad.append('%s: %s' % (path.relative_to(REPO), name))
    return bad


def _payload_files():
    """net/, agent.exception (under the stub), oslo_privsep (a stub) and
    pyroute2; fails the test
    at once if net/ has started importing something else."""
    bad = _unshipped_imports()
    if bad:
        pytest.fail('net/ imports what the guest payload does not ship '
                    '(add it to _payload_files and SHIPPED): %s'
                    % ', '.join(bad))
    files = {}
    files.update(vlan_guest.python_files(REPO / 'net'))
    files.update(vlan_guest.python_files(REPO / 'agent' / 'exception.py',
                                         'agent/exception.py'))
    files['agent/__init__.py'] = AGENT_STUB
    files.update(PRIVSEP_STUB)
    files.update(_pyroute2_files())
    return files


def _results(console):
    """{check name: 'OK' | 'FAIL ...'} from the ``HVTEST <name> ...``
    lines of the payload."""
    out = {}
    for line in vlan_guest.payload_lines(console):
        m = re.match(r'HVTEST (\S+) (.*)$', line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _check(console, expected):
    lines = vlan_guest.payload_lines(console)
    results = _results(console)
    report = '\n'.join(lines) or console[-5000:]
    bad = {name: results.get(name, 'missing') for name in expected
           if results.get(name) != 'OK'}
    assert not bad, 'failed checks %s; guest output:\n%s' % (bad, report)
    assert vlan_guest.exit_status(console) == 0, report


# ---------------------------------------------------------------- harness
# The harness alone, without net/: the guest kernel makes 802.1Q VLANs and
# bridges with the venv's pyroute2. If this fails, the net/ test below
# cannot say anything about net/.
HARNESS_SCRIPT = r'''#!/usr/bin/python3
import pyroute2
from pyroute2 import IPRoute

print('HVTEST pyroute2-version', pyroute2.__version__)
with IPRoute() as ipr:
    ipr.link('add', ifname='phys0', kind='dummy')
    phys = ipr.link_lookup(ifname='phys0')[0]
    ipr.link('add', ifname='phys0.100', kind='vlan', link=phys, vlan_id=100)
    ipr.link('add', ifname='br0', kind='bridge')
    vlan = ipr.link_lookup(ifname='phys0.100')[0]
    ipr.link('set', index=vlan, master=ipr.link_lookup(ifname='br0')[0])
    link = ipr.get_links(vlan)[0]
    info = link.get_attr('IFLA_LINKINFO')
    ok = (info.get_attr('IFLA_INFO_KIND') == 'vlan'
          and info.get_attr('IFLA_INFO_DATA').get_attr('IFLA_VLAN_ID') == 100)
    print('HVTEST vlan-create', 'OK' if ok else 'FAIL %s' % link)
'''


def test_guest_kernel_makes_vlans_with_pyroute2():
    console = vlan_guest.run_in_vlan_guest(_pyroute2_files(), HARNESS_SCRIPT,
                                           timeout=GUEST_TIMEOUT)
    _check(console, ['vlan-create'])


# ------------------------------------------------------------------ net/
# Runs as /hvtest/run in the guest, as root, with net/ on PYTHONPATH.
# Fixture plumbing (namespaces, the phys0 veth, addresses in the guests,
# the checks) uses plain `ip`, independent of the code under test. An
# exception (a NetError from net/) ends it with a traceback on the console,
# which the test shows.
NET_SCRIPT = r'''#!/usr/bin/python3
import json
import subprocess
import sys

from net import model
from net import wiring

SUBNET = '10.0.0.0/24'
ADDR = {'a': '10.0.0.1', 'b': '10.0.0.2'}      # the same on both VLANs
FAILED = []


def ip(*args, netns=None, check=True):
    argv = ['ip'] + (['-n', netns] if netns else []) + list(args)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode:
        raise RuntimeError('%s: %s' % (' '.join(argv), proc.stderr.strip()))
    return proc.stdout


def ip_json(*args, netns=None):
    return json.loads(ip('-j', *args, netns=netns) or '[]')


def result(name, ok, detail=''):
    if not ok:
        FAILED.append(name)
    print('HVTEST %s %s' % (name, 'OK' if ok else 'FAIL %s' % detail))


def ping(netns, address, count=3):
    """True if ``address`` answers at least once (iputils ping)."""
    return subprocess.run(
        ['ip', 'netns', 'exec', netns, 'ping', '-n', '-q', '-c', str(count),
         '-i', '0.2', '-W', '2', address],
        capture_output=True).returncode == 0


def neighbour_mac(netns, address):
    for n in ip_json('neigh', 'show', address, 'dev', 'eth0', netns=netns):
        if n.get('lladdr') and 'FAILED' not in n.get('state', []):
            return n['lladdr']
    return None


def links(netns):
    return {link['ifname']: link for link in
            ip_json('-d', 'link', 'show', netns=netns)}


# --- two hosts and their "physical" NIC --------------------------------
HOSTS = {'a': 'hosta', 'b': 'hostb'}
for ns in HOSTS.values():
    ip('netns', 'add', ns)
    ip('link', 'set', 'lo', 'up', netns=ns)
ip('link', 'add', 'phys-a', 'type', 'veth', 'peer', 'name', 'phys-b')
for h, ns in HOSTS.items():
    ip('link', 'set', 'phys-' + h, 'netns', ns)
    ip('link', 'set', 'phys-' + h, 'name', 'phys0', 'up', netns=ns)

NETS = {vid: model.Network(
            id='%08d-0000-4000-8000-00000000%04d' % (vid, vid),
            name='vlan%d' % vid, type='vlan', cidr=SUBNET,
            segmentation_id=vid, physical_interface='phys0', dhcp=False)
        for vid in (100, 200)}
PORTS = {}                                      # (host, vid) -> Port
for h in HOSTS:
    for vid, net in NETS.items():
        n = len(PORTS) + 1
        PORTS[h, vid] = model.Port(
            id='%08d-0000-4000-8000-%012d' % (n, n), network_id=net.id,
            mac='fa:16:3e:00:%02x:%02x' % (vid // 100, n),
            ip=ADDR[h], security=False)


def guest_ns(h, vid):
    return 'g%s%d' % (h, vid)


WIRINGS = {h: wiring.Wiring(netns=ns) for h, ns in HOSTS.items()}

# --- wire both networks on both hosts, plug one guest per port ---------
# (ensure_network first on its own: plug_port would also do it)
for h, ns in HOSTS.items():
    for vid, net in NETS.items():
        bridge = WIRINGS[h].ensure_network(net)
        assert bridge == net.bridge, (bridge, net.bridge)
        port = PORTS[h, vid]
        gns = guest_ns(h, vid)
        ip('netns', 'add', gns)
        ip('link', 'set', 'lo', 'up', netns=gns)
        # a veth pair: port.tap on the bridge, eth0 (port.mac) in the guest
        WIRINGS[h].plug_port(net, port, device='veth', peer_netns=gns)
        ip('addr', 'add', port.ip + '/24', 'dev', 'eth0', netns=gns)
        ip('link', 'set', 'eth0', 'up', netns=gns)

# --- what the kernel now has -------------------------------------------
for h, ns in HOSTS.items():
    have = links(ns)
    problems = []
    for vid, net in NETS.items():
        name = model.vlan_name('phys0', vid)
        link = have.get(name)
        info = (link or {}).get('linkinfo', {})
        if not link:
            problems.append('%s missing' % name)
            continue
        if info.get('info_kind') != 'vlan' or \
                info.get('info_data', {}).get('id') != vid:
            problems.append('%s is %s' % (name, info))
        if link.get('link') != 'phys0':
            problems.append('%s is on %s' % (name, link.get('link')))
        if link.get('master') != net.bridge:
            problems.append('%s in %s, not %s' % (
                name, link.get('master'), net.bridge))
        if (have.get(net.bridge, {}).get('linkinfo', {})
                .get('info_kind')) != 'bridge':
            problems.append('%s is not a bridge' % net.bridge)
        tap = PORTS[h, vid].tap
        if have.get(tap, {}).get('master') != net.bridge:
            problems.append('%s in %s, not %s' % (
                tap, have.get(tap, {}).get('master'), net.bridge))
    result('wiring-' + ns, not problems, '; '.join(problems))

# --- traffic --------------------------------------------------------------
for vid in (100, 200):
    src, peer = guest_ns('a', vid), PORTS['b', vid]
    ok = any(ping(src, ADDR['b']) for _ in range(3))
    mac = neighbour_mac(src, ADDR['b'])
    result('vlan%d-same' % vid, ok and mac == peer.mac,
           'ping %s, %s answered as %s (the VLAN %d guest is %s)'
           % ('ok' if ok else 'failed', ADDR['b'], mac, vid, peer.mac))

# Isolation: with the same-VLAN peer down, the other VLAN's guest holding
# the very same address must stay out of reach.
for vid, other in ((200, 100), (100, 200)):
    src = guest_ns('a', vid)
    ip('link', 'set', 'eth0', 'down', netns=guest_ns('b', vid))
    ip('neigh', 'flush', 'dev', 'eth0', netns=src)
    reached = ping(src, ADDR['b'])
    mac = neighbour_mac(src, ADDR['b'])
    result('vlan%d-isolated' % vid, not reached and mac is None,
           '%s answered on VLAN %d as %s (the VLAN %d guest is %s)'
           % (ADDR['b'], vid, mac, other, PORTS['b', other].mac))
    ip('link', 'set', 'eth0', 'up', netns=guest_ns('b', vid))

# --- unplug everything --------------------------------------------------
# The last port of a network takes its bridge and VLAN device with it: only
# what the test made itself (lo, phys0) may be left in the hosts.
gone = {}
for (h, vid), port in PORTS.items():
    gone[h, vid] = WIRINGS[h].unplug_port(NETS[vid], port)
left = []
for h, ns in HOSTS.items():
    WIRINGS[h].flush()
    names = sorted(links(ns))
    print('HVTEST links-%s %s' % (ns, ' '.join(names)))
    left += ['%s:%s' % (ns, n) for n in names if n not in ('lo', 'phys0')]
not_gone = ['%s/vlan%d' % key for key, went in gone.items() if not went]
result('unplug', not left and not not_gone,
       'left behind: %s; unplug_port did not remove the network: %s'
       % (' '.join(left) or '-', ' '.join(not_gone) or '-'))

print('HVTEST done', 'OK' if not FAILED else 'FAIL %s' % ' '.join(FAILED))
sys.exit(1 if FAILED else 0)
'''


def test_vlan_networks_isolate_across_two_hosts():
    console = vlan_guest.run_in_vlan_guest(_payload_files(), NET_SCRIPT,
                                           timeout=GUEST_TIMEOUT)
    _check(console, ['wiring-hosta', 'wiring-hostb', 'vlan100-same',
                     'vlan200-same', 'vlan200-isolated', 'vlan100-isolated',
                     'unplug', 'done'])
