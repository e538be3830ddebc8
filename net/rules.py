"""Security group rules: the one validator the conductor (before it stores
a rule) and the firewall renderer (before a rule reaches nft) share.

Pure: no kernel, no RPC, no database, no import from agent/. A rule this
module accepts always renders into text nft loads; one it refuses never
gets stored by the conductor, and if one reaches a host anyway (an older
conductor, a hand-edited database) only its own port fails closed.
"""
import dataclasses
import ipaddress
from typing import NoReturn

from net import model

PROTOCOLS = ('tcp', 'udp', 'icmp')
DIRECTIONS = ('ingress', 'egress')
ETHERTYPES = ('IPv4', 'IPv6')


class InvalidRule(ValueError):
    """Refused input; ``str()`` is a sentence a user can read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__('Invalid security group input: %s' % reason)


def bad(reason: str, *args: object) -> NoReturn:
    raise InvalidRule(reason % args)


def address(value: object, version: int = 4, what: str = 'address') -> str:
    """``value`` as a normalized IPv``version`` address string."""
    if not isinstance(value, str):
        bad('%s %r is not a string', what, value)
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        bad('%s %r is not an IP address', what, value)
    if addr.version != version:
        bad('%s %r is not IPv%d', what, value, version)
    return str(addr)


def cidr(value: object, version: int) -> str:
    """A remote prefix, normalized (host bits cleared; a /32 as an
    address)."""
    if not isinstance(value, str):
        bad('remote_cidr %r is not a string', value)
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        bad('remote_cidr %r is not a CIDR', value)
    if net.version != version:
        bad('remote_cidr %r is not IPv%d (the rule\'s ethertype)',
            value, version)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen \
        else str(net)


def integer(value: object, what: str, low: int, high: int) -> int:
    if type(value) is int and low <= value <= high:
        return value
    bad('%s %r is not an integer in %d-%d', what, value, low, high)


def normalize(rule: model.Rule) -> model.Rule:
    """The rule (model.Rule) checked and in canonical form: protocol in
    lower case, a tcp/udp port range always with both ends (a single port
    is min == max), remote prefix and addresses normalized (addresses
    sorted, once each). Raises InvalidRule."""
    if rule.direction not in DIRECTIONS:
        bad('direction %r is not ingress or egress', rule.direction)
    if rule.ethertype not in ETHERTYPES:
        bad('ethertype %r is not IPv4 or IPv6', rule.ethertype)
    version = 4 if rule.ethertype == 'IPv4' else 6
    proto = rule.protocol
    if proto is not None and (not isinstance(proto, str)
                              or proto.lower() not in PROTOCOLS):
        bad('protocol %r is not one of %s', proto, ', '.join(PROTOCOLS))
    proto = proto and proto.lower()
    if proto == 'icmp' and version == 6:
        bad('protocol icmp is IPv4 only (the rule is IPv6)')
    pmin, pmax = rule.port_min, rule.port_max
    if pmin is None and pmax is not None:
        bad('port_max %r without port_min', pmax)
    if proto in ('tcp', 'udp') and pmin is not None:
        pmin = integer(pmin, 'port_min', 1, 65535)
        pmax = pmin if pmax is None else integer(pmax, 'port_max', pmin,
                                                 65535)
    elif proto == 'icmp' and pmin is not None:   # neutron: type and code
        pmin = integer(pmin, 'icmp type', 0, 255)
        if pmax is not None:
            pmax = integer(pmax, 'icmp code', 0, 255)
    elif pmin is not None:
        bad('ports given for protocol %r (only tcp and udp have ports, '
            'icmp a type and code)', proto)
    if rule.remote_cidr is not None and rule.remote_ips:
        bad('a rule has remote_cidr or remote_ips, not both')
    if not isinstance(rule.remote_ips, (tuple, list, frozenset, set)):
        bad('remote_ips %r is not a collection', rule.remote_ips)
    remote_ips = tuple(sorted({address(ip, version, 'remote ip')
                               for ip in rule.remote_ips},
                              key=ipaddress.ip_address))
    prefix = (cidr(rule.remote_cidr, version)
              if rule.remote_cidr is not None else None)
    return dataclasses.replace(rule, protocol=proto, port_min=pmin,
                               port_max=pmax, remote_cidr=prefix,
                               remote_ips=remote_ips)


def statement(rule: model.Rule, verdict: str) -> str | None:
    """One rule as an nft statement of the bridge family, or None for an
    IPv6 rule (guests are IPv4-only: validated, not rendered)."""
    rule = normalize(rule)
    if rule.ethertype == 'IPv6':
        return None
    match = ['ether type ip']
    remote = 'ip saddr' if rule.direction == 'ingress' else 'ip daddr'
    if rule.remote_cidr:
        match.append('%s %s' % (remote, rule.remote_cidr))
    elif rule.remote_ips:
        match.append('%s { %s }' % (remote, ', '.join(rule.remote_ips)))
    proto, pmin, pmax = rule.protocol, rule.port_min, rule.port_max
    if proto in ('tcp', 'udp') and pmin is not None:
        assert pmax is not None   # normalize gives a range both ends
        ports = str(pmin) if pmin == pmax else '%d-%d' % (pmin, pmax)
        match.append('ip protocol %s %s dport %s' % (proto, proto, ports))
    elif proto == 'icmp' and pmin is not None:
        match.append('ip protocol icmp icmp type %d' % pmin)
        if pmax is not None:
            match.append('icmp code %d' % pmax)
    elif proto:
        match.append('ip protocol %s' % proto)
    return ' '.join(match + [verdict])


def check(direction: str, protocol: str | None = None,
          port_min: int | None = None, port_max: int | None = None,
          remote_cidr: str | None = None,
          ethertype: str = 'IPv4') -> model.Rule:
    """What a user asked for, as the normalized model.Rule the renderer
    will accept (the conductor's entry point). Raises InvalidRule."""
    return normalize(model.Rule(
        direction=direction, ethertype=ethertype, protocol=protocol,
        port_min=port_min, port_max=port_max, remote_cidr=remote_cidr))
