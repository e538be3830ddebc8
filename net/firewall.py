"""Security groups as nftables: one ruleset for every port of the host,
replaced as a whole in one ``nft -f -`` transaction.

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

Per filtered port two chains (cf. neutron's iptables/nftables drivers):
``egress_<tap>`` (from the guest: anti-spoofing, then egress rules; a pass
*returns* so the destination port's ingress chain still runs) and
``ingress_<tap>`` (to the guest: established, ARP, DHCP replies, ingress
rules, else drop). Egress with no egress rules at all is allowed (like
neutron's default group). Guests are IPv4-only: IPv6 rules are validated
but not rendered, and all IPv6 from a filtered guest is dropped. Ports with
``security=False`` get no chains at all. A ``quarantined`` port (its
instance isolated by itsec) gets two chains that drop everything, ARP and
DHCP included, whatever its groups say.

Floating IPs are NAT in the same ``inet`` table (nova-network's and
neutron's l3 agent's model, without a router namespace): ``nat_prerouting``
and ``nat_output`` DNAT the floating address to the port's fixed one, so
traffic from outside and from the host itself reaches the guest, where its
ingress chain still applies; ``nat_postrouting`` SNATs what the guest sends
out of anything but its own bridge to its floating address. A quarantined
port gets no NAT. The host must route (``ip_forward``: ``Firewall.apply``
turns it on when there is a floating IP) and answer ARP for the floating
address (floating.py puts it on the external uplink).

Every value that reaches the text is parsed (ipaddress, ints, allow-lists,
name regexes) and re-printed from the parsed form, so no field can inject
nft syntax; an invalid one raises ``InvalidRule`` before the kernel is
touched, leaving the loaded ruleset as it was.
"""
import ipaddress
import re

from net import model
from net import privileged

TABLE = 'hvagent'
#: skb mark bit meaning "conntrack says established or related"
CT_MARK = 0x00200000
PROTOCOLS = ('tcp', 'udp', 'icmp')
_MAC = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z')
_IFNAME = re.compile(r'[A-Za-z0-9_]{1,15}\Z')
_HEADER = ''.join('add table %s %s\ndelete table %s %s\n' % (f, TABLE, f, TABLE)
                  for f in ('bridge', 'inet'))


class InvalidRule(privileged.NetError, ValueError):
    msg = 'Invalid security group input: %(reason)s'


def _bad(reason, *args):
    raise InvalidRule(reason=reason % args)


def _addr(value, version=4, what='address'):
    if not isinstance(value, str):
        _bad('%s %r is not a string', what, value)
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        _bad('%s %r is not an IP address', what, value)
    if addr.version != version:
        _bad('%s %r is not IPv%d', what, value, version)
    return str(addr)


def _cidr(value, version):
    if not isinstance(value, str):
        _bad('remote_cidr %r is not a string', value)
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        _bad('remote_cidr %r is not a CIDR', value)
    if net.version != version:
        _bad('remote_cidr %r is not IPv%d', value, version)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen \
        else str(net)


def _int(value, what, low, high):
    if type(value) is not int or not low <= value <= high:
        _bad('%s %r is not an integer in %d-%d', what, value, low, high)
    return value


def _rule(rule, verdict):
    """One rule as an nft statement, or None for an IPv6 rule."""
    if rule.direction not in ('ingress', 'egress'):
        _bad('direction %r is not ingress or egress', rule.direction)
    if rule.ethertype not in ('IPv4', 'IPv6'):
        _bad('ethertype %r is not IPv4 or IPv6', rule.ethertype)
    version = 4 if rule.ethertype == 'IPv4' else 6
    proto = rule.protocol
    if proto is not None and (not isinstance(proto, str)
                              or proto.lower() not in PROTOCOLS):
        _bad('protocol %r is not one of %s', proto, ', '.join(PROTOCOLS))
    proto = proto and proto.lower()
    pmin, pmax = rule.port_min, rule.port_max
    if pmin is None and pmax is not None:
        _bad('port_max %r without port_min', pmax)
    if rule.remote_cidr is not None and rule.remote_ips:
        _bad('a rule has remote_cidr or remote_ips, not both')
    if not isinstance(rule.remote_ips, (tuple, list, frozenset, set)):
        _bad('remote_ips %r is not a collection', rule.remote_ips)
    remote_ips = sorted({_addr(ip, version, 'remote ip')
                         for ip in rule.remote_ips}, key=ipaddress.ip_address)
    cidr = (_cidr(rule.remote_cidr, version)
            if rule.remote_cidr is not None else None)
    match = ['ether type ip']
    if proto in ('tcp', 'udp') and pmin is not None:
        pmin = _int(pmin, 'port_min', 1, 65535)
        pmax = pmin if pmax is None else _int(pmax, 'port_max', pmin, 65535)
        ports = str(pmin) if pmin == pmax else '%d-%d' % (pmin, pmax)
        match.append('ip protocol %s %s dport %s' % (proto, proto, ports))
    elif proto == 'icmp' and pmin is not None:   # neutron: type and code
        match.append('ip protocol icmp icmp type %d'
                     % _int(pmin, 'icmp type', 0, 255))
        if pmax is not None:
            match.append('icmp code %d' % _int(pmax, 'icmp code', 0, 255))
    elif pmin is not None:
        _bad('ports given for protocol %r', proto)
    elif proto:
        match.append('ip protocol %s' % proto)
    if version == 6:
        return None
    remote = 'ip saddr' if rule.direction == 'ingress' else 'ip daddr'
    if cidr:
        match.insert(1, '%s %s' % (remote, cidr))
    elif remote_ips:
        match.insert(1, '%s { %s }' % (remote, ', '.join(remote_ips)))
    return ' '.join(match + [verdict])


def _tap(port):
    tap = port.tap if isinstance(port.id, str) else None
    if not tap or not _IFNAME.match(tap):
        _bad('port id %r (tap name %r)', port.id, tap)
    return tap


def _port_chains(port):
    tap = _tap(port)
    if port.quarantined:
        return [_chain('egress_' + tap, ['drop']),
                _chain('ingress_' + tap, ['drop'])]
    mac = port.mac.lower() if isinstance(port.mac, str) else port.mac
    if not isinstance(mac, str) or not _MAC.match(mac):
        _bad('mac %r of port %s', port.mac, tap)
    ip = _addr(port.ip, 4, 'port ip')
    parsed = ipaddress.ip_address(ip)
    if parsed.is_unspecified or parsed.is_multicast or int(mac[:2], 16) & 1:
        _bad('port %s: %s/%s is not a unicast address', tap, mac, ip)
    rules = tuple(port.rules)
    egress = [_rule(r, 'return') for r in rules if r.direction == 'egress']
    ingress = [_rule(r, 'accept') for r in rules if r.direction != 'egress']
    established = 'meta mark and 0x%08x != 0' % CT_MARK
    out = ['ether saddr != %s drop' % mac,
           'arp saddr ether %s arp saddr ip { %s, 0.0.0.0 } return' % (mac, ip),
           'ip saddr 0.0.0.0 ip daddr 255.255.255.255'
           ' udp sport 68 udp dport 67 return',
           'ether type != ip drop',
           'ip saddr != %s drop' % ip,
           'udp sport 67 drop',                  # no rogue DHCP server
           'udp sport 68 udp dport 67 return']   # DHCP renewals
    if egress:
        out += ['%s return' % established] + _unique(egress) + ['drop']
    else:
        out.append('return')
    into = (['%s accept' % established,
             'ether type arp accept',
             'udp sport 67 udp dport 68 accept']
            + _unique(ingress) + ['drop'])
    return [_chain('egress_' + tap, out), _chain('ingress_' + tap, into)]


def _unique(lines):
    return list(dict.fromkeys(line for line in lines if line))


def _chain(name, lines, hook=None, priority=0, kind='filter'):
    body = ['type %s hook %s priority %d; policy accept;'
            % (kind, hook, priority)] if hook else []
    return '\tchain %s {\n%s\t}\n' % (
        name, ''.join('\t\t%s\n' % line for line in body + lines))


def _unicast(value, what):
    addr = _addr(value, 4, what)
    parsed = ipaddress.ip_address(addr)
    if (parsed.is_unspecified or parsed.is_multicast or parsed.is_loopback
            or parsed == ipaddress.ip_address('255.255.255.255')):
        _bad('%s %s is not a unicast address', what, addr)
    return addr


def _nat_chains(ports):
    """DNAT (prerouting, host output) and SNAT (postrouting) chains for
    the floating IPs of ``ports``; [] if none has one."""
    dnat, snat, seen = [], [], set()
    for port in ports:
        fip = _unicast(port.floating_ip, 'floating ip')
        fixed = _unicast(port.ip, 'port ip')
        bridge = (model.bridge_name(port.network_id)
                  if isinstance(port.network_id, str) else None)
        if not bridge or not _IFNAME.match(bridge):
            _bad('network id %r of port %s', port.network_id, _tap(port))
        if fip in seen:
            _bad('floating ip %s is given to two ports', fip)
        seen.add(fip)
        dnat.append('ip daddr %s dnat ip to %s' % (fip, fixed))
        snat.append('iifname "%s" ip saddr %s oifname != "%s" snat ip to %s'
                    % (bridge, fixed, bridge, fip))
    if not dnat:
        return []
    return [_chain('nat_prerouting', dnat, 'prerouting', -100, 'nat'),
            _chain('nat_output', dnat, 'output', -100, 'nat'),
            _chain('nat_postrouting', snat, 'postrouting', 100, 'nat')]


def _floating(ports):
    return sorted((p for p in ports if p.floating), key=_tap)


def render(ports):
    """The whole ruleset for ``ports`` (model.Port), as ``nft -f`` text that
    replaces both hvagent tables in one transaction; no filtered port and
    no floating IP at all renders just their deletion. Raises
    InvalidRule."""
    filtered = sorted((p for p in ports if p.security or p.quarantined),
                      key=_tap)
    taps = [p.tap for p in filtered]
    if len(set(taps)) != len(taps):
        _bad('two ports share a tap name')
    nat = _nat_chains(_floating(ports))
    if not filtered and not nat:
        return _HEADER
    text = _HEADER
    inet = []
    if filtered:
        chains = [c for p in filtered for c in _port_chains(p)]

        def vmap(key, prefix):
            return '%s vmap { %s }' % (key, ', '.join(
                '"%s" : jump %s%s' % (t, prefix, t) for t in taps))
        bridge = [_chain('forward', [vmap('iifname', 'egress_'),
                                     vmap('oifname', 'ingress_')], 'forward'),
                  _chain('input', [vmap('iifname', 'egress_')], 'input'),
                  _chain('output', [vmap('oifname', 'ingress_')], 'output')]
        text += 'table bridge %s {\n%s}\n' % (TABLE, ''.join(bridge + chains))
        mark = ['meta mark set meta mark and 0x%08x' % (~CT_MARK & 0xffffffff),
                'ct state established,related meta mark set meta mark or '
                '0x%08x' % CT_MARK]
        inet = [_chain('prerouting', mark, 'prerouting', -150),
                _chain('output', mark, 'output', -150)]
    return text + 'table inet %s {\n%s}\n' % (TABLE, ''.join(inet + nat))


class Firewall:
    """The host's security groups; ``apply`` is all-or-nothing."""

    def __init__(self, netns=None):
        self.netns = netns

    def apply(self, ports):
        """Replace the whole ruleset by the one for ``ports``. Raises
        InvalidRule (nothing changed) or NetError (nft refused: nothing
        changed either, the transaction is atomic)."""
        ruleset = render(ports)
        if any(p.security for p in ports):
            privileged.enable_br_netfilter(self.netns)
        if _floating(ports):
            privileged.enable_ip_forward(self.netns)
        privileged.nft_apply(ruleset, self.netns)

    def remove(self):
        """Delete both hvagent tables (fine if they are not there)."""
        privileged.nft_apply(_HEADER, self.netns)
