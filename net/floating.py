"""Floating addresses on the external uplinks.

A floating IP is NAT (ruleset.py), but the outside world must also find
it: the host answers ARP for it because the address sits, as a /32, on the
uplink of its external network (what nova-network did on its public
interface). Those /32s carry a label (``<ifname>:fip``), so ``sync`` knows
them from the operator's own addresses and removes only its own. A new
one is announced by a gratuitous ARP: a router that asked for the address
before it arrived (or while it was on another host) would otherwise keep
its failed or stale entry for a while.
"""
import ipaddress

from net import boundary
from net import model
from net import privileged

SUFFIX = model.FLOATING_SUFFIX
label = model.floating_label


def _host(address):
    try:
        addr = ipaddress.IPv4Address(address)
    except ValueError:
        raise privileged.NetError(reason='floating ip %r is not an IPv4 '
                                  'address' % (address,)) from None
    return '%s/32' % addr


def by_interface(ports):
    """{uplink: {floating ip}} of the ``ports`` (model.Port) whose floating
    IP is in force: what ``sync`` wants."""
    wanted = {}
    for port in ports:
        if port.floating and port.floating_interface:
            wanted.setdefault(port.floating_interface, set()).add(
                port.floating_ip)
    return wanted


def sync(wanted, interfaces=(), netns=None):
    """Make the floating /32s on the uplinks exactly ``wanted``
    ({interface: {address}}). Every interface in ``wanted`` must exist;
    ``interfaces`` are others to clear of floating /32s (the uplinks that
    carry none now), skipped where absent."""
    wanted = {iface: {_host(a) for a in addrs}
              for iface, addrs in wanted.items()}
    for iface in sorted(set(wanted) | set(interfaces)):
        if iface not in wanted and not privileged.link_exists(iface, netns):
            continue
        mine = label(iface)
        have = {cidr for cidr, lab in privileged.addr_list(iface, netns)
                if lab == mine and cidr.endswith('/32')}
        for cidr in sorted(wanted.get(iface, set()) - have):
            boundary.addr_add(iface, cidr, netns, label=mine)
            boundary.send_garp(iface, cidr[:-3], netns)
        for cidr in sorted(have - wanted.get(iface, set())):
            boundary.addr_del(iface, cidr, netns)
