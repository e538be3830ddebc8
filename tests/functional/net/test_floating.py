"""Floating IPs against real traffic: a guest (namespace) on a bridge in a
"host" namespace that routes for it, and an "outside" namespace on the
host's uplink ``pub0`` that knows only 203.0.113.0/24 -- no route to the
guests' 10.0.0.0/24. So the outside reaching the guest proves the DNAT and
the /32 answering ARP on the uplink, and the guest reaching the outside
proves the SNAT (the outside could not answer 10.0.0.11)."""
import dataclasses
import uuid

import pytest

from net import floating
from net import model
from net import privileged
from tests.fixtures import netns as nh

pytestmark = pytest.mark.functional

NET = str(uuid.uuid4())
FIP, OUTSIDE = '203.0.113.10', '203.0.113.2'
PING = (model.Rule('ingress', protocol='icmp'),)


@pytest.fixture
def host(firewalled):
    topo, fw = firewalled(model.bridge_name(NET))
    topo.add_address('10.0.0.1/24')                  # the guests' gateway
    pid = str(uuid.uuid4())
    guest = model.Port(id=pid, network_id=NET, ip='10.0.0.11', rules=PING,
                       mac='02:00:00:00:0a:0b', floating_ip=FIP,
                       floating_interface='pub0')
    ns = topo.add_guest(guest, '10.0.0.11/24')
    nh.ip('route', 'add', 'default', 'via', '10.0.0.1', netns=ns)
    outside = topo.add_outside('pub0', '203.0.113.1/24', OUTSIDE + '/24')
    return topo, fw, guest, ns, outside


def apply(topo, fw, ports):
    fw.apply(ports)
    floating.sync(floating.by_interface(ports), ['pub0'], topo.host)


def test_floating_ip_both_ways_and_gone_when_removed(host):
    topo, fw, guest, ns, outside = host
    # the outside asks for the address before it exists: its ARP entry
    # fails, and only the gratuitous ARP of sync() makes it usable at once
    assert not topo.ping(outside, FIP) and not topo.ping(ns, OUTSIDE)

    apply(topo, fw, [guest])
    assert topo.ping(outside, FIP)           # DNAT, ARP for the /32
    assert topo.ping(ns, OUTSIDE)            # SNAT: outside sees FIP
    assert topo.ping(topo.host, FIP)         # the host's own output too
    assert sorted(privileged.addr_list('pub0', topo.host)) == [
        ('203.0.113.1/24', 'pub0'), (FIP + '/32', 'pub0:fip')]
    apply(topo, fw, [guest])                 # idempotent
    assert topo.ping(outside, FIP)

    unassociated = dataclasses.replace(guest, floating_ip=None)
    apply(topo, fw, [unassociated])
    assert not topo.ping(outside, FIP) and not topo.ping(ns, OUTSIDE)
    assert privileged.addr_list('pub0', topo.host) == [
        ('203.0.113.1/24', 'pub0')]          # the operator's stays


def test_security_groups_still_apply_through_the_floating_ip(host):
    topo, fw, guest, ns, outside = host
    apply(topo, fw, [dataclasses.replace(guest, rules=())])
    assert not topo.ping(outside, FIP)       # no ingress icmp rule
    assert topo.ping(ns, OUTSIDE)            # replies are "established"


def test_quarantined_port_loses_its_floating_ip(host):
    topo, fw, guest, ns, outside = host
    apply(topo, fw, [guest])
    assert topo.ping(outside, FIP)
    apply(topo, fw, [dataclasses.replace(guest, quarantined=True)])
    assert not topo.ping(outside, FIP) and not topo.ping(ns, OUTSIDE)
    assert (FIP + '/32', 'pub0:fip') not in privileged.addr_list(
        'pub0', topo.host)


def test_sync_refuses_an_uplink_that_is_not_there(host):
    topo = host[0]
    with pytest.raises(privileged.NetError, match='nope0 does not exist'):
        floating.sync({'nope0': {FIP}}, [], topo.host)
    with pytest.raises(privileged.NetError, match='not an IPv4'):
        floating.sync({'pub0': {'203.0.113.10/24'}}, [], topo.host)
    floating.sync({}, ['nope0', 'pub0'], topo.host)   # absent: skipped


def gateway_entry(ns):
    return nh.nsexec(ns, 'ip', 'neigh', 'show', '10.0.0.1',
                     check=True).stdout


def test_the_floating_ip_follows_a_moved_guest(firewalled):
    """Two hosts on one outside segment, each bridge of the network with
    its one MAC and the gateway address (as wiring and the agent make
    them). The guest's NIC moves from A to B (its veth's host end changes
    namespace: the guest keeps its address and ARP cache, as a migrated
    VM does); A lets go of the floating IP and B takes it. At once, with
    nothing re-learnt in the guest, the outside reaches it at its
    floating IP and it reaches the outside through B."""
    mac = model.bridge_mac(NET)
    (a, fw_a), (b, fw_b) = (firewalled(model.bridge_name(NET))
                            for _ in 'ab')
    out = 'hvto-%s-seg' % uuid.uuid4().hex[:6]
    nh.ip('netns', 'add', out)
    a.guests[out] = out                     # cleaned up with a's
    nh.ip('link', 'add', 'seg', 'type', 'bridge', netns=out)
    nh.ip('link', 'set', 'seg', 'up', netns=out)
    nh.ip('addr', 'add', OUTSIDE + '/24', 'dev', 'seg', netns=out)
    for topo, own in ((a, '203.0.113.1/24'), (b, '203.0.113.3/24')):
        nh.ip('link', 'set', topo.bridge, 'address', mac, netns=topo.host)
        topo.add_address('10.0.0.1/24')
        peer = 'to-' + topo.host[-6:]
        nh.ip('link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', peer,
              'netns', out, netns=topo.host)
        nh.ip('addr', 'add', own, 'dev', 'pub0', netns=topo.host)
        nh.ip('link', 'set', 'pub0', 'up', netns=topo.host)
        nh.ip('link', 'set', peer, 'master', 'seg', 'up', netns=out)
    guest = model.Port(id=str(uuid.uuid4()), network_id=NET, ip='10.0.0.11',
                       rules=PING, mac='02:00:00:00:0a:0c', floating_ip=FIP,
                       floating_interface='pub0')
    ns = a.add_guest(guest, '10.0.0.11/24')
    nh.ip('route', 'add', 'default', 'via', '10.0.0.1', netns=ns)
    apply(a, fw_a, [guest])
    # (the new segment's first frames may be lost: a few tries)
    assert a.ping(out, FIP, count=3) and a.ping(ns, OUTSIDE, count=3)
    assert mac in gateway_entry(ns)

    # the move: the NIC's host end to B, A unplugs, B plugs
    nh.ip('link', 'set', guest.tap, 'netns', b.host, netns=a.host)
    nh.ip('link', 'set', guest.tap, 'master', b.bridge, 'up', netns=b.host)
    apply(a, fw_a, [])
    apply(b, fw_b, [guest])
    assert b.ping(ns, OUTSIDE)               # through B, SNAT there
    assert b.ping(out, FIP)                  # DNAT on B, its /32 announced
    assert mac in gateway_entry(ns)          # never re-learnt
    # the control: were B's bridge MAC another, the cached entry would
    # lead nowhere until the guest found out (seconds)
    nh.ip('link', 'set', b.bridge, 'address', '02:00:00:00:00:99',
          netns=b.host)
    assert not b.ping(ns, OUTSIDE)
    assert (FIP + '/32', 'pub0:fip') not in privileged.addr_list(
        'pub0', a.host)
