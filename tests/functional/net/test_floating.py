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
