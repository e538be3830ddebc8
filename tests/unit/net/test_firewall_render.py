"""The nft text ``net_ruleset.render`` builds, without a kernel: its shape,
and that no hostile rule or port value gets into it."""
import re

import pytest

from net import firewall
from net import model
from net import privileged
from net import rules as net_rules
from net import ruleset as net_ruleset

R = model.Rule
PORT_ID = '11111111-2222-3333-4444-555555555555'
TAP = 'tap111111112222'


def port(rules=(), **kw):
    kw.setdefault('id', PORT_ID)
    kw.setdefault('mac', '02:00:00:00:00:01')
    kw.setdefault('ip', '10.0.0.3')
    return model.Port(network_id='net', rules=tuple(rules), **kw)


def chain(text, name):
    """The statements of chain ``name``."""
    m = re.search(r'\tchain %s \{\n(.*?)\n\t\}' % name, text, re.S)
    assert m, name
    return [line.strip() for line in m.group(1).splitlines()]


def test_replaces_both_tables_in_one_transaction():
    text = net_ruleset.render([port()])
    assert text.splitlines()[:4] == [
        'add table bridge hvagent', 'delete table bridge hvagent',
        'add table inet hvagent', 'delete table inet hvagent']
    assert 'table bridge hvagent {\n' in text
    assert 'table inet hvagent {\n' in text
    assert chain(text, 'forward') == [
        'type filter hook forward priority 0; policy accept;',
        'iifname vmap { "%s" : jump egress_%s }' % (TAP, TAP),
        'oifname vmap { "%s" : jump ingress_%s }' % (TAP, TAP)]
    assert chain(text, 'input')[1] == \
        'iifname vmap { "%s" : jump egress_%s }' % (TAP, TAP)
    assert chain(text, 'prerouting') == [
        'type filter hook prerouting priority -150; policy accept;',
        'meta mark set meta mark and 0xffdfffff',
        'ct state established,related meta mark set meta mark or 0x00200000']


def test_anti_spoofing_and_default_egress():
    out = chain(net_ruleset.render([port()]), 'egress_' + TAP)
    assert out[:6] == [
        'ether saddr != 02:00:00:00:00:01 drop',
        'arp saddr ether 02:00:00:00:00:01 arp saddr ip '
        '{ 10.0.0.3, 0.0.0.0 } return',
        'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 '
        'udp dport 67 return',
        'ether type != ip drop',
        'ip saddr != 10.0.0.3 drop',
        'udp sport 67 drop']
    assert out[-1] == 'return'          # no egress rules: all egress allowed
    assert chain(net_ruleset.render([port()]), 'ingress_' + TAP) == [
        'meta mark and 0x00200000 != 0 accept',
        'ether type arp accept',
        'udp sport 67 udp dport 68 accept',
        'drop']


def test_rules():
    rules = [
        R('ingress', protocol='tcp', port_min=22),
        R('ingress', protocol='TCP', port_min=22),              # duplicate
        R('ingress', protocol='udp', port_min=5000, port_max=5100,
          remote_cidr='192.168.7.9/16'),
        R('ingress', protocol='icmp', port_min=8, port_max=0,
          remote_ips=('10.0.0.9', '10.0.0.4', '10.0.0.9')),
        R('ingress', remote_cidr='10.9.9.9/32'),
        R('ingress', ethertype='IPv6', protocol='tcp', port_min=22,
          remote_cidr='2001:db8::/64'),                         # not rendered
        R('egress', protocol='tcp', port_min=443, remote_cidr='0.0.0.0/0'),
    ]
    text = net_ruleset.render([port(rules)])
    assert chain(text, 'ingress_' + TAP)[3:] == [
        'ether type ip ip protocol tcp tcp dport 22 accept',
        'ether type ip ip saddr 192.168.0.0/16 ip protocol udp '
        'udp dport 5000-5100 accept',
        'ether type ip ip saddr { 10.0.0.4, 10.0.0.9 } ip protocol icmp '
        'icmp type 8 icmp code 0 accept',
        'ether type ip ip saddr 10.9.9.9 accept',
        'drop']
    assert chain(text, 'egress_' + TAP)[-3:] == [
        'meta mark and 0x00200000 != 0 return',
        'ether type ip ip daddr 0.0.0.0/0 ip protocol tcp tcp dport 443 '
        'return',
        'drop']
    assert '2001:db8' not in text


def test_port_without_groups_gets_anti_spoofing_only_and_order():
    a = port(id='aaaa')
    b = port(id='bbbb', mac='02:00:00:00:00:02', ip='10.0.0.4')
    nogroup = port(id='cccc', mac='02:00:00:00:00:03', ip='10.0.0.5',
                   security=False)
    off = port(id='dddd', mac='02:00:00:00:00:04', ip='10.0.0.6',
               security=False, port_security=False)
    text = net_ruleset.render([b, off, nogroup, a])
    assert text == net_ruleset.render([a, b, nogroup, off])
    assert 'tapdddd' not in text and 'tapaaaa' in text
    anti = chain(net_ruleset.render([a]), 'egress_tapaaaa')[:7]
    assert chain(text, 'egress_tapcccc') == [
        line.replace('02:00:00:00:00:01', '02:00:00:00:00:03').replace(
            '10.0.0.3', '10.0.0.5') for line in anti] + ['return']
    assert chain(text, 'ingress_tapcccc') == ['accept']
    # port security off and nothing else: the text only deletes the tables
    assert net_ruleset.render([off]) == net_ruleset.render([]) == '\n'.join(
        text.splitlines()[:4]) + '\n'


HOSTILE_RULES = [
    dict(remote_cidr='0.0.0.0/0 accept; flush ruleset'),
    dict(remote_cidr='10.0.0.0/24\n}\ntable ip x {'),
    dict(remote_cidr='10.0.0.0/33'),
    dict(remote_cidr=167772160),                    # an int parses as IP
    dict(remote_cidr='2001:db8::/64'),              # IPv6 in an IPv4 rule
    dict(remote_cidr='10.0.0.0/8', remote_ips=('10.0.0.1',)),
    dict(remote_ips=('10.0.0.1 } accept',)),
    dict(remote_ips='10.0.0.1'),                    # a str, not a tuple
    dict(protocol='tcp accept'),
    dict(protocol='sctp'),
    dict(protocol=6),
    dict(protocol='tcp', port_min='22'),
    dict(protocol='tcp', port_min='22 accept'),
    dict(protocol='tcp', port_min=0),
    dict(protocol='tcp', port_min=65536),
    dict(protocol='tcp', port_min=True),
    dict(protocol='tcp', port_min=30, port_max=20),
    dict(protocol='tcp', port_max=20),
    dict(protocol=None, port_min=22),
    dict(protocol='icmp', port_min=256),
    dict(ethertype='IPv5'),
    dict(direction='both'),
]


NEIGHBOUR = '99999999-2222-3333-4444-555555555555'
NEIGHBOUR_TAP = 'tap999999992222'


def neighbour():
    return port([R('ingress', protocol='tcp', port_min=22)], id=NEIGHBOUR,
                mac='02:00:00:00:00:09', ip='10.0.0.9')


def assert_cut_off(ruleset, port_id, tap):
    assert chain(ruleset.text, 'egress_' + tap) == ['drop']
    assert chain(ruleset.text, 'ingress_' + tap) == ['drop']
    assert 'Invalid security group input' not in ruleset.rejected[port_id]
    assert ruleset.rejected[port_id]
    # the neighbour keeps its rules
    assert 'ether type ip ip protocol tcp tcp dport 22 accept' in chain(
        ruleset.text, 'ingress_' + NEIGHBOUR_TAP)
    assert NEIGHBOUR not in ruleset.rejected


@pytest.mark.parametrize('kw', HOSTILE_RULES)
def test_hostile_rules_cut_off_their_port_only(kw):
    rule = R(**dict(dict(direction='ingress'), **kw))
    with pytest.raises(net_ruleset.InvalidRule) as err:
        net_rules.normalize(rule)
    assert isinstance(err.value, ValueError)
    assert 'Invalid security group input' in str(err.value)
    ruleset = net_ruleset.build([port([rule]), neighbour()])
    assert_cut_off(ruleset, PORT_ID, TAP)
    assert 'flush' not in ruleset.text and '}\ntable ip' not in ruleset.text


@pytest.mark.parametrize('kw', [
    dict(mac='02:00:00:00:00:01" accept'),
    dict(mac='02:00:00:00:00'),
    dict(mac='03:00:00:00:00:01'),                  # multicast
    dict(mac=None),
    dict(ip='10.0.0.3 '),
    dict(ip='10.0.0.3, 0.0.0.0/0'),
    dict(ip='0.0.0.0'),
    dict(ip='2001:db8::1'),
    dict(ip=None),
])
def test_hostile_ports_cut_off(kw):
    for security in (True, False):
        assert_cut_off(net_ruleset.build([port(security=security, **kw),
                                       neighbour()]), PORT_ID, TAP)


@pytest.mark.parametrize('bad_id', ['x" accept', 7])
def test_port_id_without_a_tap_name_is_only_reported(bad_id):
    ruleset = net_ruleset.build([port(id=bad_id), neighbour()])
    assert str(bad_id) in ruleset.rejected
    assert 'accept"' not in ruleset.text
    assert 'ether type ip ip protocol tcp tcp dport 22 accept' in chain(
        ruleset.text, 'ingress_' + NEIGHBOUR_TAP)


def test_duplicate_tap_cuts_off_both():
    other = '11111111-2222-3333-4444-555555555556'   # same 12 first digits
    ruleset = net_ruleset.build([port(), port(id=other, ip='10.0.0.4'),
                              neighbour()])
    assert set(ruleset.rejected) == {PORT_ID, other}
    assert 'share tap name' in ruleset.rejected[PORT_ID]
    assert chain(ruleset.text, 'ingress_' + TAP) == ['drop']
    assert ruleset.text.count('chain ingress_' + TAP) == 1


def test_invalid_port_still_reaches_nft_cut_off(monkeypatch):
    calls = []
    monkeypatch.setattr(privileged, 'nft_apply', lambda *a, **k:
                        calls.append(a))
    monkeypatch.setattr(privileged, 'enable_br_netfilter', lambda netns:
                        calls.append(netns))
    rejected = firewall.Firewall('ns').apply(
        [port([R('ingress', protocol='x')]), neighbour()])
    assert list(rejected) == [PORT_ID]
    assert calls[0] == 'ns'
    assert chain(calls[1][0], 'ingress_' + TAP) == ['drop']
    assert firewall.Firewall('ns').apply([port()]) == {}


def test_quarantined_port_drops_everything_whatever_its_rules():
    ssh = R(direction='ingress', protocol='tcp', port_min=22, port_max=22)
    text = net_ruleset.render([port([ssh], quarantined=True),
                            port(id='99999999-2222-3333-4444-555555555555',
                                 ip='10.0.0.4', security=False,
                                 quarantined=True)])
    for tap in (TAP, 'tap999999992222'):
        assert chain(text, 'egress_' + tap) == ['drop']
        assert chain(text, 'ingress_' + tap) == ['drop']
    assert 'dport 22' not in text


NET_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'
BRIDGE = model.bridge_name(NET_ID)


def floating(fip='203.0.113.10', **kw):
    kw.setdefault('network_id', NET_ID)
    kw.setdefault('id', PORT_ID)
    kw.setdefault('mac', '02:00:00:00:00:01')
    kw.setdefault('ip', '10.0.0.3')
    return model.Port(floating_ip=fip, floating_interface='pub0', **kw)


def test_floating_ip_is_dnat_and_snat():
    text = net_ruleset.render([floating()])
    dnat = ['ip daddr 203.0.113.10 dnat ip to 10.0.0.3']
    assert chain(text, 'nat_prerouting') == [
        'type nat hook prerouting priority -100; policy accept;'] + dnat
    assert chain(text, 'nat_output') == [
        'type nat hook output priority -100; policy accept;'] + dnat
    assert chain(text, 'nat_postrouting') == [
        'type nat hook postrouting priority 100; policy accept;',
        'iifname "%s" ip saddr 10.0.0.3 oifname != "%s" '
        'snat ip to 203.0.113.10' % (BRIDGE, BRIDGE)]
    assert 'egress_' + TAP in text        # still filtered as before


def test_floating_ip_without_port_security_is_nat_only():
    text = net_ruleset.render([floating(security=False, port_security=False)])
    assert 'table bridge hvagent {' not in text
    assert 'table inet hvagent {' in text
    assert 'mark' not in text and 'dnat ip to 10.0.0.3' in text


def test_quarantined_port_loses_its_nat():
    text = net_ruleset.render([floating(quarantined=True)])
    assert 'nat' not in text.replace('hvagent', '')
    assert chain(text, 'ingress_' + TAP) == ['drop']
    assert net_ruleset.render([floating(quarantined=True, security=False,
                                     port_security=False)]
                           ).count('drop') == 2


@pytest.mark.parametrize('fip', [
    '203.0.113.10; flush ruleset', '224.0.0.1', '0.0.0.0', '127.0.0.1',
    '255.255.255.255', '2001:db8::1', 7, ' 203.0.113.10'])
def test_hostile_floating_ips_cut_off_their_port(fip):
    ruleset = net_ruleset.build([floating(fip), neighbour()])
    assert 'floating ip' in ruleset.rejected[PORT_ID]
    assert_cut_off(ruleset, PORT_ID, TAP)
    assert 'nat' not in ruleset.text.replace('hvagent', '')


def test_one_floating_ip_on_two_ports_cuts_off_the_second():
    ruleset = net_ruleset.build([floating(), floating(
        id=NEIGHBOUR, ip='10.0.0.4', mac='02:00:00:00:00:09')])
    assert 'two ports' in ruleset.rejected[NEIGHBOUR]
    assert PORT_ID not in ruleset.rejected
    assert chain(ruleset.text, 'ingress_' + NEIGHBOUR_TAP) == ['drop']
    assert 'dnat ip to 10.0.0.3' in ruleset.text
    assert 'dnat ip to 10.0.0.4' not in ruleset.text


def test_hostile_network_id_of_a_floating_port_cuts_it_off():
    ruleset = net_ruleset.build([floating(network_id='x" accept')])
    assert 'network id' in ruleset.rejected[PORT_ID]
    assert 'x" accept' not in ruleset.text


def test_ip_forward_only_with_floating_ips(monkeypatch):
    calls = []
    for name in ('nft_apply', 'enable_br_netfilter', 'enable_ip_forward'):
        monkeypatch.setattr(privileged, name, lambda *a, n=name: calls.append(
            n))
    firewall.Firewall().apply([port()])
    assert 'enable_ip_forward' not in calls
    firewall.Firewall().apply([floating(security=False,
                                        port_security=False)])
    assert calls[-2:] == ['enable_ip_forward', 'nft_apply']
    calls.clear()
    firewall.Firewall().apply([floating(quarantined=True)])
    assert 'enable_ip_forward' not in calls


UP = model.Uplink(name='vxlan-100', address='10.0.0.1',
                  mac='02:AA:bb:cc:dd:ee')


def test_uplink_keeps_the_bridge_to_its_host():
    text = net_ruleset.render([port()], [UP])
    assert chain(text, 'input')[1:] == [
        'iifname "vxlan-100" arp daddr ip 10.0.0.1 drop',
        'iifname "vxlan-100" ether saddr 02:aa:bb:cc:dd:ee drop',
        'iifname "vxlan-100" udp dport 67 drop',
        'iifname vmap { "%s" : jump egress_%s }' % (TAP, TAP)]
    assert chain(text, 'output')[1:] == [
        'oifname "vxlan-100" ether saddr 02:aa:bb:cc:dd:ee drop',
        'oifname vmap { "%s" : jump ingress_%s }' % (TAP, TAP)]
    assert chain(text, 'forward')[1] == \
        'iifname "vxlan-100" ether saddr 02:aa:bb:cc:dd:ee drop'


def test_uplinks_without_filtered_ports_still_load():
    ruleset = net_ruleset.build([], [UP])
    assert 'table bridge hvagent {\n' in ruleset.text
    assert 'vmap' not in ruleset.text and 'table inet' not in \
        ruleset.text.split('delete table inet hvagent\n')[1]
    assert not ruleset.conntrack


@pytest.mark.parametrize('bad', [
    dict(name='eth0" drop; #'), dict(name='x' * 16), dict(name=None),
    dict(mac='ff:ff:ff:ff:ff:ff" accept'), dict(address='10.0.0.0/8'),
    dict(address='224.0.0.1'), dict(address='0.0.0.0')])
def test_hostile_uplinks_get_no_lines_and_are_reported(bad):
    up = model.Uplink(**dict(dict(name='vxlan-7', address='10.0.0.1',
                                  mac='02:00:00:00:00:09'), **bad))
    ruleset = net_ruleset.build([port()], [up, UP])
    assert list(ruleset.rejected) == ['uplink %s' % (up.name,)]
    assert 'vxlan-100' in ruleset.text and 'vxlan-7' not in ruleset.text
    assert '" drop; #' not in ruleset.text and 'accept"' not in ruleset.text


def test_the_bridge_mac_is_the_networks_on_every_host():
    net_id = '6f1c1b7e-2a4b-4b8e-9d7c-0e5a3c2b1a09'
    mac = model.bridge_mac(net_id)
    assert mac == model.bridge_mac(net_id) != model.bridge_mac(PORT_ID)
    first = int(mac[:2], 16)
    assert first & 2 and not first & 1     # locally administered unicast
