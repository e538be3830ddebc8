"""Security groups as nftables text: the one ruleset for every port of the
host, rendered from plain data (pure: no I/O, nothing privileged).
net/firewall.py loads it, as a whole, in one ``nft -f -`` transaction.

Why the bridge family: guest traffic is *bridged* (tap -> bridge -> tap or
uplink), and only the bridge family sees the bridge ports, so a rule can
name the guest by its tap (``iifname``/``oifname``). The inet family only
sees the bridge itself (nft has no ``physdev`` match), so it cannot tell
two guests of one network apart.

Why br_netfilter for connection state: ``ct`` in the bridge family needs
nf_conntrack_bridge, which not every kernel has (it fails with EPROTO
without it). br_netfilter (``net.bridge.bridge-nf-call-iptables=1``) runs
the inet hooks, conntrack included, for bridged IPv4 frames *before* the
bridge forward/input hooks. A small ``inet`` chain copies "established or
related" into one bit of the packet mark (``CT_MARK``), and the bridge
chains test that bit. Routed and host-originated packets carry the same bit
from the inet prerouting/output hooks. Without br_netfilter the bit is never
set for bridged traffic and replies are dropped: it fails closed, so
``Firewall.apply`` turns the sysctl on. Side effect to know: bridged IPv4
then also traverses the host's iptables/inet FORWARD chains.

Every port gets two chains (cf. neutron's iptables/nftables drivers):
``egress_<tap>`` (from the guest: anti-spoofing, then egress rules; a pass
*returns* so the destination port's ingress chain still runs) and
``ingress_<tap>`` (to the guest: established, ARP, DHCP replies, ingress
rules, else drop). Anti-spoofing is on every port, with or without
security groups: frames only from the port's MAC, IPv4 only from its IP
(DHCP discover from 0.0.0.0 allowed), ARP only with the port's MAC and IP
as sender, no DHCP server replies (udp sport 67) from a guest. A port
without groups stops there: its egress passes and its ingress accepts
everything. Egress with no egress rules at all is allowed (like neutron's
default group). Guests are IPv4-only: IPv6 rules are validated but not
rendered, and all IPv6 from a guest is dropped. Only a port whose
``port_security`` an admin turned off gets no chains. A ``quarantined``
port (its instance isolated by itsec) gets two chains that drop
everything, ARP and DHCP included, whatever its groups say.

One port's bad data never breaks another's: a port whose rules, MAC, IP
or floating IP fail validation (the same ``net/rules.py`` validator the
conductor applies before it stores a rule) renders drop-everything chains
like a quarantined one, is logged and returned by ``Firewall.apply``, and
every other port gets its rules.

Floating IPs are NAT in the same ``inet`` table (nova-network's and
neutron's l3 agent's model, without a router namespace): ``nat_prerouting``
and ``nat_output`` DNAT the floating address to the port's fixed one, so
traffic from outside and from the host itself reaches the guest, where its
ingress chain still applies; ``nat_postrouting`` SNATs what the guest sends
out of anything but its own bridge to its floating address. A quarantined
port gets no NAT. The host must route (``ip_forward``: ``Firewall.apply``
turns it on when there is a floating IP) and answer ARP for the floating
address (floating.py puts it on the external uplink).

Each network's bridge has the same MAC and address on every host
(net/wiring.py): the uplink rules keep it to its own host. From an uplink,
ARP asking for the bridge's address, DHCP requests and frames claiming the
bridge's MAC are dropped; out of one, nothing the bridge itself sends
(nova-network's multi_host ebtables rules, in nftables).

Every value that reaches the text is parsed (ipaddress, ints, allow-lists,
name regexes) and re-printed from the parsed form, so no field can inject
nft syntax; an invalid one cuts off only the port it belongs to.
"""
import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from net import model
from net import rules as net_rules

TABLE = 'hvagent'
#: skb mark bit meaning "conntrack says established or related"
CT_MARK = 0x00200000
PROTOCOLS = net_rules.PROTOCOLS
_MAC = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z')
_IFNAME = re.compile(r'[A-Za-z0-9_]{1,15}\Z')
#: an uplink may be an operator's interface: eth1.100, bond-0
_UPLINK = re.compile(r'[A-Za-z0-9_.-]{1,15}\Z')
HEADER = ''.join('add table %s %s\ndelete table %s %s\n'
                  % (f, TABLE, f, TABLE) for f in ('bridge', 'inet'))
#: the one validator the conductor uses too (net/rules.py)
InvalidRule = net_rules.InvalidRule
_bad = net_rules.bad
_addr = net_rules.address
#: ``text``: the nft transaction; ``rejected``: {port id: reason} of the
#: ports whose data failed validation (they render drop-everything)
#: ``nat``: it NATs floating IPs (the host must forward); ``conntrack``:
#: some chain tests the established mark (needs br_netfilter)
class Ruleset(NamedTuple):
    text: str
    rejected: dict[str, str]
    nat: bool
    conntrack: bool


def _tap(port: model.Port) -> str:
    tap = port.tap if isinstance(port.id, str) else None
    if not tap or not _IFNAME.match(tap):
        _bad('port id %r (tap name %r)', port.id, tap)
    return tap


def _drop_chains(tap: str) -> list[str]:
    return [_chain('egress_' + tap, ['drop']),
            _chain('ingress_' + tap, ['drop'])]


def _port_chains(port: model.Port) -> list[str]:
    """The port's two chains: anti-spoofing on every port, then its
    groups' rules if it has groups (else all ingress passes, as before
    anti-spoofing came). Raises InvalidRule."""
    tap = _tap(port)
    if port.quarantined:
        return _drop_chains(tap)
    mac = port.mac.lower() if isinstance(port.mac, str) else port.mac
    if not isinstance(mac, str) or not _MAC.match(mac):
        _bad('mac %r of port %s', port.mac, tap)
    ip = _addr(port.ip, 4, 'port ip')
    parsed = ipaddress.ip_address(ip)
    if parsed.is_unspecified or parsed.is_multicast or int(mac[:2], 16) & 1:
        _bad('port %s: %s/%s is not a unicast address', tap, mac, ip)
    out = ['ether saddr != %s drop' % mac,
           'arp saddr ether %s arp saddr ip { %s, 0.0.0.0 } return'
           % (mac, ip),
           'ip saddr 0.0.0.0 ip daddr 255.255.255.255'
           ' udp sport 68 udp dport 67 return',
           'ether type != ip drop',
           'ip saddr != %s drop' % ip,
           'udp sport 67 drop',                  # no rogue DHCP server
           'udp sport 68 udp dport 67 return']   # DHCP renewals
    if not port.security:
        return [_chain('egress_' + tap, out + ['return']),
                _chain('ingress_' + tap, ['accept'])]
    rules = tuple(port.rules)
    egress = [net_rules.statement(r, 'return') for r in rules
              if r.direction == 'egress']
    ingress = [net_rules.statement(r, 'accept') for r in rules
               if r.direction != 'egress']
    established = 'meta mark and 0x%08x != 0' % CT_MARK
    if egress:
        out += ['%s return' % established] + _unique(egress) + ['drop']
    else:
        out.append('return')
    into = (['%s accept' % established,
             'ether type arp accept',
             'udp sport 67 udp dport 68 accept']
            + _unique(ingress) + ['drop'])
    return [_chain('egress_' + tap, out), _chain('ingress_' + tap, into)]


def _unique(lines: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(line for line in lines if line))


def _chain(name: str, lines: list[str], hook: str | None = None,
           priority: int = 0, kind: str = 'filter') -> str:
    body = ['type %s hook %s priority %d; policy accept;'
            % (kind, hook, priority)] if hook else []
    return '\tchain %s {\n%s\t}\n' % (
        name, ''.join('\t\t%s\n' % line for line in body + lines))


def _unicast(value: object, what: str) -> str:
    addr = _addr(value, 4, what)
    parsed = ipaddress.ip_address(addr)
    if (parsed.is_unspecified or parsed.is_multicast or parsed.is_loopback
            or parsed == ipaddress.ip_address('255.255.255.255')):
        _bad('%s %s is not a unicast address', what, addr)
    return addr


def _nat(port: model.Port, taken: set[str]) -> tuple[str, str, str]:
    """(floating ip, DNAT statement, SNAT statement) of a port whose
    floating IP is in force; ``taken``: floating IPs of earlier ports."""
    fip = _unicast(port.floating_ip, 'floating ip')
    fixed = _unicast(port.ip, 'port ip')
    bridge = (model.bridge_name(port.network_id)
              if isinstance(port.network_id, str) else None)
    if not bridge or not _IFNAME.match(bridge):
        _bad('network id %r of port %s', port.network_id, _tap(port))
    if fip in taken:
        _bad('floating ip %s is given to two ports', fip)
    return (fip, 'ip daddr %s dnat ip to %s' % (fip, fixed),
            'iifname "%s" ip saddr %s oifname != "%s" snat ip to %s'
            % (bridge, fixed, bridge, fip))


def _uplink(up: model.Uplink) -> tuple[str, str, str]:
    """(name, mac, address) of an uplink, checked. Raises InvalidRule."""
    name = up.name if isinstance(up.name, str) else None
    if not name or not _UPLINK.match(name):
        _bad('uplink name %r', up.name)
    mac = up.mac.lower() if isinstance(up.mac, str) else None
    if not mac or not _MAC.match(mac):
        _bad('mac %r of the bridge of uplink %s', up.mac, name)
    return name, mac, _unicast(up.address, 'bridge address')


def _uplink_rules(uplinks: Iterable[model.Uplink], rejected: dict[str, str]
                  ) -> tuple[list[str], list[str], list[str]]:
    """(input, forward, output) lines keeping each network's bridge to
    its own host: from the uplink, no ARP for the bridge's address, no
    DHCP request and nothing claiming the bridge's MAC; out of it,
    nothing the bridge itself sends. An uplink whose data fails
    validation goes into ``rejected`` (as ``uplink <name>``), the others
    get their lines."""
    into: list[str] = []
    through: list[str] = []
    out: list[str] = []
    for up in uplinks:
        try:
            name, mac, address = _uplink(up)
        except InvalidRule as e:
            rejected['uplink %s' % (up.name,)] = e.reason
            continue
        into += ['iifname "%s" arp daddr ip %s drop' % (name, address),
                 'iifname "%s" ether saddr %s drop' % (name, mac),
                 'iifname "%s" udp dport 67 drop' % name]
        through.append('iifname "%s" ether saddr %s drop' % (name, mac))
        out.append('oifname "%s" ether saddr %s drop' % (name, mac))
    return _unique(into), _unique(through), _unique(out)


def _filtered(port: model.Port) -> bool:
    return port.port_security or port.quarantined


def build(ports: Iterable[model.Port],
          uplinks: Iterable[model.Uplink] = ()) -> Ruleset:
    """The whole ruleset for ``ports`` (model.Port) and the ``uplinks``
    (model.Uplink) of their networks as a Ruleset: ``nft -f`` text
    replacing both hvagent tables in one transaction, and the ports it
    cut off (and the uplinks: a bad one gets no lines). A port whose own
    data (a rule of its groups, its MAC or IP, its floating IP) fails
    validation gets drop-everything chains and no NAT, and is listed in
    ``rejected``; every other port gets its rules. A port id that yields
    no valid tap name is only listed (no interface can carry that name).
    Nothing filtered, no uplink and no NAT: the text only deletes the
    tables."""
    rejected: dict[str, str] = {}
    by_tap: dict[str, list[model.Port]] = {}
    for port in ports:
        try:
            by_tap.setdefault(_tap(port), []).append(port)
        except InvalidRule as e:
            rejected[str(port.id)] = e.reason
    chains: dict[str, list[str]] = {}
    dnat: list[str] = []
    snat: list[str] = []
    taken: set[str] = set()
    conntrack = False
    for tap in sorted(by_tap):
        if len(by_tap[tap]) > 1:
            for port in by_tap[tap]:
                rejected[str(port.id)] = 'two ports share tap name %s' % tap
            chains[tap] = _drop_chains(tap)
            continue
        port = by_tap[tap][0]
        try:
            mine = _port_chains(port) if _filtered(port) else None
            nat = _nat(port, taken) if port.floating else None
        except InvalidRule as e:
            rejected[str(port.id)] = e.reason
            chains[tap] = _drop_chains(tap)
            continue
        if mine:
            chains[tap] = mine
            conntrack |= port.security and not port.quarantined
        if nat:
            taken.add(nat[0])
            dnat.append(nat[1])
            snat.append(nat[2])
    text = HEADER
    inet: list[str] = []
    into, through, out = _uplink_rules(uplinks, rejected)
    taps = sorted(chains)

    def vmap(key: str, prefix: str) -> list[str]:
        return ['%s vmap { %s }' % (key, ', '.join(
            '"%s" : jump %s%s' % (t, prefix, t) for t in taps))] if taps \
            else []
    if taps or into:
        bridge = [_chain('forward', through + vmap('iifname', 'egress_') +
                         vmap('oifname', 'ingress_'), 'forward'),
                  _chain('input', into + vmap('iifname', 'egress_'), 'input'),
                  _chain('output', out + vmap('oifname', 'ingress_'),
                         'output')]
        text += 'table bridge %s {\n%s}\n' % (TABLE, ''.join(
            bridge + [c for t in taps for c in chains[t]]))
    if chains:
        mark = ['meta mark set meta mark and 0x%08x' % (~CT_MARK & 0xffffffff),
                'ct state established,related meta mark set meta mark or '
                '0x%08x' % CT_MARK]
        inet = [_chain('prerouting', mark, 'prerouting', -150),
                _chain('output', mark, 'output', -150)]
    if dnat:
        inet += [_chain('nat_prerouting', dnat, 'prerouting', -100, 'nat'),
                 _chain('nat_output', dnat, 'output', -100, 'nat'),
                 _chain('nat_postrouting', snat, 'postrouting', 100, 'nat')]
    if inet:
        text += 'table inet %s {\n%s}\n' % (TABLE, ''.join(inet))
    return Ruleset(text, rejected, bool(dnat), conntrack)


def render(ports: Iterable[model.Port],
           uplinks: Iterable[model.Uplink] = ()) -> str:
    """``build(ports, uplinks).text``."""
    return build(ports, uplinks).text


def plain(port: model.Port) -> dict[str, Any]:
    """model.Port as plain data (a dict, its rules dicts): what crosses
    the privilege boundary."""
    return dataclasses.asdict(port)
