"""net/wiring.py on the real kernel, in network namespaces.

A "host" is a namespace with a veth standing in for its physical NIC
(``phys0``; this kernel may have no dummy driver); a "guest" is a namespace
holding the peer (``eth0``, with the port's MAC) of a veth pair that
``Wiring.plug_port(..., device='veth')`` makes, its host end named like the
port's tap. Two hosts for VXLAN are joined by a veth "underlay" with
addresses. Fixture plumbing and every check use plain ``ip``/``ping``, not
the code under test. Needs root, iproute2 and iputils-ping.
"""
import dataclasses
import json
import shutil
import subprocess
import threading
import uuid

import pytest

from net import model
from net import privileged
from net import reaper
from net import wiring

pytestmark = pytest.mark.functional


@pytest.fixture(autouse=True)
def _ping_installed(netns_support):
    if not shutil.which('ping'):
        pytest.skip('ping missing (CI: apt-get install -y iputils-ping)')


def ip(*args, netns=None):
    argv = ['ip'] + (['-n', netns] if netns else []) + list(args)
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


def links(netns):
    """{name: ``ip -d -j link`` record} of the namespace."""
    return {link['ifname']: link
            for link in json.loads(ip('-d', '-j', 'link', 'show',
                                      netns=netns))}


def ping(netns, address, tries=1, wait=2):
    for _ in range(tries):
        if subprocess.run(['ip', 'netns', 'exec', netns, 'ping', '-n', '-c1',
                           '-W%d' % wait, address],
                          capture_output=True).returncode == 0:
            return True
    return False


def network(type_='flat', **kw):
    kw.setdefault('physical_interface', 'phys0' if type_ != 'vxlan' else None)
    return model.Network(id=str(uuid.uuid4()), name='net-' + type_,
                         type=type_, cidr='10.20.0.0/24', dhcp=False, **kw)


def port(net, ip_address):
    pid = str(uuid.uuid4())
    mac = '02:00:' + ':'.join(pid[i:i + 2] for i in (0, 2, 4, 6))
    return model.Port(id=pid, network_id=net.id, mac=mac, ip=ip_address)


def make_host(make_netns, role='host'):
    """A host namespace with its "physical NIC" phys0 (a veth, up)."""
    ns = make_netns(role)
    ip('link', 'add', 'phys0', 'type', 'veth', 'peer', 'name', 'phys0p',
       netns=ns)
    ip('link', 'set', 'phys0', 'up', netns=ns)
    return ns


def two_hosts(make_netns, role, subnet):
    """Hosts a and b joined by a veth underlay ``ul0`` with addresses
    ``<subnet>.1`` and ``.2``: ({host: namespace}, {host: address})."""
    hosts = {h: make_netns(role + h) for h in 'ab'}
    underlay = {'a': subnet + '.1', 'b': subnet + '.2'}
    ip('link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns',
       hosts['b'], netns=hosts['a'])
    for h, ns in hosts.items():
        ip('addr', 'add', underlay[h] + '/24', 'dev', 'ul0', netns=ns)
        ip('link', 'set', 'ul0', 'up', netns=ns)
    return hosts, underlay


def add_guest(make_netns, wires, net, p, role):
    gns = make_netns(role)
    assert wires.plug_port(net, p, device='veth', peer_netns=gns) == \
        net.bridge
    ip('addr', 'add', p.ip + '/24', 'dev', 'eth0', netns=gns)
    ip('link', 'set', 'eth0', 'up', netns=gns)
    return gns


def test_flat_guests_ping_through_the_bridge(make_netns):
    host = make_host(make_netns)
    before = set(links(host))
    wires = wiring.Wiring(netns=host)
    net = network('flat', mtu=1400)
    a, b = port(net, '10.20.0.11'), port(net, '10.20.0.12')
    ga = add_guest(make_netns, wires, net, a, 'ga')
    gb = add_guest(make_netns, wires, net, b, 'gb')

    have = links(host)
    assert have[net.bridge]['linkinfo']['info_kind'] == 'bridge'
    assert 'UP' in have[net.bridge]['flags']
    assert have[net.bridge]['mtu'] == 1400
    for name in ('phys0', a.tap, b.tap):
        assert have[name]['master'] == net.bridge, name
    assert have['phys0']['mtu'] == 1500            # not ours to change
    assert links(ga)['eth0']['address'] == a.mac
    assert ping(ga, b.ip, tries=3)
    assert ping(gb, a.ip)
    in_use = wires.networks_in_use()
    assert {br: sorted(ports) for br, ports in in_use.items()} == {
        net.bridge: sorted([a.tap, b.tap])}

    # plugging again changes nothing; unplugging twice is unplugging once
    wires.plug_port(net, a, device='veth', peer_netns=ga)
    assert links(host).keys() == have.keys()
    assert ping(ga, b.ip)
    assert wires.unplug_port(net, a) is False      # b is still there
    # its device is off the bridge and down at once, deleted soon after
    old = privileged.link_info(a.tap, host)
    assert old is None or (old['master'] is None and not old['up']
                           and old['group'] == reaper.GROUP)
    assert not ping(gb, a.ip, wait=1)
    for _ in range(2):
        wires.plug_port(net, a, device='veth', peer_netns=ga)
        ip('addr', 'add', a.ip + '/24', 'dev', 'eth0', netns=ga)
        ip('link', 'set', 'eth0', 'up', netns=ga)
        assert ping(ga, b.ip, tries=3)
        assert privileged.link_info(a.tap, host)['group'] == 0
        # then plugged again while its old device still waits for the
        # reaper: that one is deleted first and the port gets a new one
        assert privileged.link_discard(a.tap, reaper.GROUP, host)
    assert wires.unplug_port(net, a) is False
    assert wires.unplug_port(net, a) is False
    assert net.bridge in links(host)
    assert wires.unplug_port(net, b) is True       # the last port: torn down
    assert wires.unplug_port(net, b) is False
    assert wires.flush()
    assert wires.reaper.passes >= 1
    after = links(host)
    assert set(after) == before                    # phys0 stays, and only it
    assert 'master' not in after['phys0']


def test_tap_ports_and_libvirt_made_taps(make_netns):
    host = make_host(make_netns)
    before = set(links(host))
    wires = wiring.Wiring(netns=host)
    net = network('flat')
    a, b = port(net, '10.20.0.11'), port(net, '10.20.0.12')
    for _ in range(2):
        assert wires.plug_port(net, a) == net.bridge
    tap = links(host)[a.tap]
    assert tap['linkinfo']['info_kind'] == 'tun'
    assert tap['linkinfo']['info_data']['type'] == 'tap'
    assert tap['master'] == net.bridge and 'UP' in tap['flags']
    # device=None: libvirt makes the tap; the network alone is ensured
    assert wires.plug_port(net, b, device=None) == net.bridge
    assert b.tap not in links(host)
    ip('tuntap', 'add', b.tap, 'mode', 'tap', netns=host)   # "libvirt"
    ip('link', 'set', b.tap, 'master', net.bridge, 'up', netns=host)
    assert wires.unplug_port(net, a) is False
    assert wires.unplug_port(net, b) is True
    assert wires.flush()
    assert set(links(host)) == before


def test_vxlan_vnis_isolate_across_two_hosts(make_netns):
    hosts, underlay = two_hosts(make_netns, 'host', '192.168.77')
    before = {h: set(links(ns)) for h, ns in hosts.items()}
    nets = {vni: network('vxlan', segmentation_id=vni, mtu=1450)
            for vni in (100, 200)}

    def on(h, net):                    # the network as host h sees it
        other = underlay['b' if h == 'a' else 'a']
        return dataclasses.replace(net, vxlan_local_ip=underlay[h],
                                   vxlan_remotes=(other,))

    wires = {h: wiring.Wiring(netns=ns) for h, ns in hosts.items()}
    # the same subnet on both VNIs: only the VNI keeps them apart
    addresses = {('a', 100): '10.20.0.1', ('b', 100): '10.20.0.2',
                 ('a', 200): '10.20.0.3', ('b', 200): '10.20.0.4'}
    ports, guests = {}, {}
    for (h, vni), address in addresses.items():
        net = on(h, nets[vni])
        ports[h, vni] = port(net, address)
        guests[h, vni] = add_guest(make_netns, wires[h], net,
                                   ports[h, vni], 'g%s%d' % (h, vni))
    for h, ns in hosts.items():
        have = links(ns)
        for vni, net in nets.items():
            vx = have[model.vxlan_name(vni)]
            assert vx['linkinfo']['info_data']['id'] == vni
            assert vx['linkinfo']['info_data']['local'] == underlay[h]
            assert vx['master'] == net.bridge
        fdb = json.loads(subprocess.run(
            ['bridge', '-n', ns, '-j', 'fdb', 'show', 'dev',
             model.vxlan_name(100)], check=True, capture_output=True,
            text=True).stdout)
        heads = {e['dst'] for e in fdb if e['mac'] == '00:00:00:00:00:00'}
        assert heads == {underlay['b' if h == 'a' else 'a']}

    assert ping(guests['a', 100], '10.20.0.2', tries=3)
    assert ping(guests['a', 200], '10.20.0.4', tries=3)
    # answers come in ms: a second is plenty to see that none comes
    assert not ping(guests['a', 100], '10.20.0.4', wait=1)   # VNI 200's
    assert not ping(guests['a', 200], '10.20.0.2', wait=1)   # VNI 100's
    assert not ping(guests['b', 100], '10.20.0.3', wait=1)

    # ensure_network again (e.g. on agent restart) changes nothing
    assert wires['a'].ensure_network(on('a', nets[100])) == nets[100].bridge
    assert ping(guests['a', 100], '10.20.0.2')

    for (h, vni), p in ports.items():
        for _ in range(2):
            wires[h].unplug_port(on(h, nets[vni]), p)
    for h, ns in hosts.items():
        assert wires[h].flush()
        assert set(links(ns)) == before[h]             # no bridge/vxlan/veth


def test_vlan_without_8021q_is_a_clear_error(make_netns):
    host = make_host(make_netns)
    before = set(links(host))
    net = network('vlan', segmentation_id=100)
    p = port(net, '10.20.0.11')
    if _kernel_has_vlans(host):
        pytest.skip('this kernel has 802.1Q VLANs: nothing to refuse '
                    '(tests/functional/net/test_vlan_in_guest.py tests them)')
    wires = wiring.Wiring(netns=host)
    for call in (lambda: wires.ensure_network(net),
                 lambda: wires.plug_port(net, p)):
        with pytest.raises(privileged.NetError) as err:
            call()
        assert '8021q' in str(err.value)
        assert 'CONFIG_VLAN_8021Q' in str(err.value)
        assert 'phys0.100' in str(err.value)
        assert set(links(host)) == before               # no bridge, no tap


def _kernel_has_vlans(ns):
    proc = subprocess.run(['ip', '-n', ns, 'link', 'add', 'link', 'phys0',
                           'name', 'hvwprobe.5', 'type', 'vlan', 'id', '5'],
                          capture_output=True)
    if proc.returncode == 0:
        ip('link', 'del', 'hvwprobe.5', netns=ns)
    return proc.returncode == 0


def test_refusals_leave_nothing_behind(make_netns):
    host = make_host(make_netns)
    before = set(links(host))
    wires = wiring.Wiring(netns=host)
    missing = network('flat', physical_interface='nosuchnic')
    with pytest.raises(privileged.NetError, match='nosuchnic does not exist'):
        wires.plug_port(missing, port(missing, '10.20.0.11'))
    other = network('flat')                    # phys0 taken by a first one
    wires.ensure_network(network('flat'))
    with pytest.raises(privileged.NetError, match='another bridge'):
        wires.ensure_network(other)
    assert other.bridge not in links(host)
    with pytest.raises(privileged.NetError, match='1 to 15'):
        privileged.link_add('x' * 16, 'bridge', host)
    assert wires.cleanup_unused() != []
    assert set(links(host)) == before


def test_cleanup_unused_keeps_known_and_busy_bridges(make_netns):
    host = make_netns('host')
    ip('addr', 'add', '192.168.78.1/24', 'dev', 'lo', netns=host)
    wires = wiring.Wiring(netns=host)
    vx = {vni: network('vxlan', segmentation_id=vni,
                       vxlan_local_ip='192.168.78.1') for vni in (10, 11, 12)}
    for net in vx.values():
        wires.ensure_network(net)
    busy = port(vx[12], '10.20.0.11')
    wires.plug_port(vx[12], busy)
    ip('link', 'add', 'brqforeign', 'type', 'bridge', netns=host)
    # a crash between two steps: a known network's vxlan without its bridge
    ip('link', 'del', vx[11].bridge, netns=host)
    assert set(wires.networks_in_use()) == {vx[12].bridge}
    removed = wires.cleanup_unused(known_networks=[vx[11], vx[12]])
    assert sorted(removed) == sorted([vx[10].bridge, 'brqforeign'])
    have = links(host)
    assert vx[12].bridge in have and busy.tap in have
    for gone in (vx[10].bridge, 'vxlan-10', 'vxlan-11', 'brqforeign'):
        assert gone not in have
    assert wires.unplug_port(vx[12], busy) is True
    assert wires.flush()
    assert set(links(host)) == {'lo'}


def test_devices_left_discarded_by_a_crash_are_deleted(make_netns):
    """A device in the reaper's link group (an agent killed before its
    reaper ran) is deleted by the next agent's cleanup_unused."""
    host = make_host(make_netns)
    before = set(links(host))
    wires = wiring.Wiring(netns=host)
    net = network('flat')
    ports = [port(net, '10.20.0.%d' % i) for i in (11, 12, 13)]
    for p in ports:
        wires.plug_port(net, p)
    for p in ports[:2]:                      # what unplug does first, alone
        assert privileged.link_discard(p.tap, reaper.GROUP, host)
    restarted = wiring.Wiring(netns=host)
    assert restarted.cleanup_unused(known_networks=[net]) == []
    assert restarted.flush()
    assert set(links(host)) == before | {net.bridge, ports[2].tap}
    assert restarted.unplug_port(net, ports[2]) is True
    assert restarted.flush()
    assert set(links(host)) == before


def test_concurrent_plugs_and_unplugs_end_clean(make_netns):
    """Threads plugging and unplugging ports of one network: the Wiring
    lock keeps "is the bridge empty, delete it" and "add a port to it"
    apart, so every plug ends on an existing bridge and nothing leaks."""
    host = make_host(make_netns)
    before = set(links(host))
    wires = wiring.Wiring(netns=host)
    net = network('flat')
    errors = []

    def churn():
        try:
            for _ in range(5):
                p = port(net, '10.20.0.11')
                wires.plug_port(net, p)
                info = privileged.link_info(p.tap, host)
                assert info['master'] == privileged.link_info(
                    net.bridge, host)['index']
                wires.unplug_port(net, p)
        except Exception as exc:            # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert wires.flush()
    assert set(links(host)) == before
    # pyroute2 0.9 opens a socket per thread: none may act outside `host`
    assert net.bridge not in links(None)


def test_privileged_follows_deleted_and_recreated_namespaces(make_netns):
    """net/ caches a netlink socket per namespace; one deleted or replaced
    behind its back must not be acted on through the stale socket."""
    ns = make_netns('re')
    assert privileged.link_add('brqstale', 'bridge', ns)
    ip('netns', 'del', ns)
    with pytest.raises(privileged.NetError, match='does not exist'):
        privileged.link_info('lo', ns)
    ip('netns', 'add', ns)                       # same name, a new one
    assert not privileged.link_exists('brqstale', ns)
    assert privileged.links(ns) == ['lo']


def test_each_host_answers_for_its_own_gateway(make_netns):
    """A vxlan network over two hosts, each bridge with the gateway
    address (as the agent puts it there for DHCP) and the firewall's
    uplink rules: both bridges have the network's one MAC, guests reach
    each other across the hosts, and only a guest's own host answers for
    the gateway: its ARP never reaches the other host (which, without
    the rules, hears it and learns the guest)."""
    from net import firewall
    hosts, underlay = two_hosts(make_netns, 'gw', '192.168.78')
    net = network('vxlan', segmentation_id=300, mtu=1450,
                  gateway='10.20.0.1')
    wires, guests, walls = {}, {}, {}
    for h, ns in hosts.items():
        mine = dataclasses.replace(
            net, vxlan_local_ip=underlay[h],
            vxlan_remotes=(underlay['b' if h == 'a' else 'a'],))
        wires[h] = wiring.Wiring(netns=ns)
        guests[h] = add_guest(make_netns, wires[h], mine,
                              port(mine, '10.20.0.1%d' % 'ab'.index(h)),
                              'gwg' + h)
        ip('addr', 'add', '10.20.0.1/24', 'dev', net.bridge, netns=ns)
        walls[h] = firewall.Firewall(ns)
        assert walls[h].apply([], [model.Uplink(
            name=model.vxlan_name(300), address='10.20.0.1',
            mac=net.bridge_mac)]) == {}
    for ns in hosts.values():
        assert links(ns)[net.bridge]['address'] == net.bridge_mac
    assert ping(guests['a'], '10.20.0.11', tries=3)       # across hosts

    def b_heard_a():
        """Host b learnt guest a's address: a's ARP for the gateway
        reached b's bridge."""
        ip('neigh', 'flush', 'all', netns=guests['a'])
        assert ping(guests['a'], '10.20.0.1', tries=3)    # a answers
        return '10.20.0.10 ' in ip('neigh', 'show', 'dev', net.bridge,
                                   netns=hosts['b'])
    assert not b_heard_a()
    walls['b'].remove()                    # the control: b hears it now
    assert b_heard_a()
    walls['a'].remove()
