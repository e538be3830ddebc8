"""Anti-spoofing on every port, security groups or not: real frames sent
from a guest's eth0 (an AF_PACKET socket, so nothing in the guest's stack
fixes them up) through the bridge of a "host" namespace, caught in a
neighbour guest. Before, a port without groups had no chains at all and
every one of these frames arrived (the ``port_security=False`` case shows
they still would, were an admin to turn it off)."""
import dataclasses
import uuid

import pytest

from net import model
from tests.functional.net import frames as fr

pytestmark = pytest.mark.functional

NET = str(uuid.uuid4())
GATEWAY = '10.0.0.1'
EVIL_MAC = '02:66:66:66:66:66'


def port(ip, n, **kw):
    return model.Port(id=str(uuid.uuid4()), network_id=NET, ip=ip,
                      mac='02:00:00:00:00:%02x' % n, security=False, **kw)


@pytest.fixture
def host(firewalled):
    topo, fw = firewalled(model.bridge_name(NET))
    topo.add_address(GATEWAY + '/24')
    attacker, victim = port('10.0.0.11', 1), port('10.0.0.12', 2)
    for p in (attacker, victim):
        topo.add_guest(p, p.ip + '/24')
    return topo, fw, attacker, victim


def attacks(a, v):
    """{name: (frame, marker)}: legitimate traffic and four attacks."""
    m = {name: fr.marker() for name in (
        'udp', 'arp', 'spoofed_ip', 'spoofed_mac', 'garp_gateway',
        'arp_foreign_mac', 'rogue_dhcp')}
    return {
        'udp': (fr.udp(a.mac, v.mac, a.ip, v.ip, 4000, 9999, m['udp']),
                m['udp']),
        'arp': (fr.arp_reply(a.mac, a.mac, a.ip, v.mac, v.ip, m['arp']),
                m['arp']),
        'spoofed_ip': (fr.udp(a.mac, v.mac, '10.0.0.99', v.ip, 4000, 9999,
                              m['spoofed_ip']), m['spoofed_ip']),
        'spoofed_mac': (fr.udp(EVIL_MAC, v.mac, a.ip, v.ip, 4000, 9999,
                               m['spoofed_mac']), m['spoofed_mac']),
        'garp_gateway': (fr.arp_reply(a.mac, a.mac, GATEWAY, fr.BROADCAST,
                                      GATEWAY, m['garp_gateway']),
                         m['garp_gateway']),
        'arp_foreign_mac': (fr.arp_reply(a.mac, EVIL_MAC, a.ip, v.mac, v.ip,
                                         m['arp_foreign_mac']),
                            m['arp_foreign_mac']),
        'rogue_dhcp': (fr.dhcp_offer(a.mac, a.ip, '10.0.0.50',
                                     m['rogue_dhcp']), m['rogue_dhcp']),
    }


def test_port_without_groups_cannot_spoof(host):
    topo, fw, attacker, victim = host
    assert fw.apply([attacker, victim]) == {}
    got = fr.delivered(topo, attacker, victim, attacks(attacker, victim))
    assert got == {'udp', 'arp'}        # the legitimate ones only
    # and the other way round too: the victim's legit frames pass
    assert fr.delivered(topo, victim, attacker, attacks(
        victim, attacker)) == {'udp', 'arp'}


def test_port_security_off_filters_nothing(host):
    """The admin's per-port switch (and what every port without groups
    was before): every frame arrives."""
    topo, fw, attacker, victim = host
    off = dataclasses.replace(attacker, port_security=False)
    assert fw.apply([off, victim]) == {}
    got = fr.delivered(topo, attacker, victim, attacks(attacker, victim))
    assert got == set(attacks(attacker, victim))


def test_port_with_groups_cannot_spoof_either(host):
    topo, fw, attacker, victim = host
    grouped = dataclasses.replace(attacker, security=True, rules=(
        model.Rule('egress', protocol='udp', port_min=67, port_max=68),
        model.Rule('egress', protocol='udp', port_min=9999)))
    fw.apply([grouped, victim])
    got = fr.delivered(topo, attacker, victim, attacks(attacker, victim))
    assert got == {'udp', 'arp'}
