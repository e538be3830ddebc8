"""The privsep entrypoints for links, addresses and dnsmasq: what the agent's
unprivileged main process may ask the privileged daemon (net/privsep.py)
to do, each request checked here, inside the boundary, before
net/privileged.py acts. (The nftables entrypoint is ``firewall.load``: it
renders the ruleset inside the boundary.) docs/privileges.md lists them.

Arguments and results are plain data (msgpack). The rules, so that a
compromised main process cannot turn the daemon against the host:

* hvagent's links are the ones its names say: ``brq*`` bridges, ``tap*``
  port devices, ``vxlan-<vni>``, and a ``<phys>.<vid>`` VLAN while it is a
  port of a ``brq`` bridge (or, a crash's leftover, of none and without an
  address). Only those are created, changed freely and deleted.
* Any other link (the host's NICs) may only be brought up and enslaved to
  a ``brq`` bridge (a flat uplink), carry floating /32s with hvagent's label
  (``<ifname>:fip``), have those removed and announced: nothing else.
* dnsmasq's argv is built here from a checked bridge name, IPv4 subnet
  and state directory: there is no "run this command" entrypoint.
* Reads (link_info, links, addr_list) need no privilege and are not here:
  the main process calls net/privileged.py for them.
"""
import ipaddress
import os
import re

from net import model
from net import privileged
from net import privsep

NetError = privileged.NetError
BRIDGE, TAP = model.bridge_name(''), model.tap_name('')
_IFNAME = re.compile(r'[A-Za-z0-9_.-]{1,%d}\Z' % model.IFNAMSIZ)
_VXLAN = re.compile(r'vxlan-[0-9]{1,8}\Z')
_NETNS = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z')
_MAC = re.compile(r'[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z')
_PATH = re.compile(r'/[A-Za-z0-9_./-]{0,200}\Z')
LEASE_TIME = '1h'


def refuse(reason, *args):
    raise NetError(reason='refused by the privilege boundary: '
                   + reason % args)


# ------------------------------------------------------------- checks
def ifname(name, what='interface name'):
    if not isinstance(name, str) or not _IFNAME.match(name):
        refuse('%s %r: 1 to %d of A-Z a-z 0-9 _ . -', what, name,
               model.IFNAMSIZ)
    return name


def namespace(value):
    if value is not None and (not isinstance(value, str)
                              or not _NETNS.match(value)):
        refuse('network namespace %r', value)
    return value


def integer(value, what, low, high):
    if type(value) is not int or not low <= value <= high:
        refuse('%s %r is not an integer in %d-%d', what, value, low, high)
    return value


def mac(value):
    if not isinstance(value, str) or not _MAC.match(value):
        refuse('MAC address %r', value)
    return value


def ip(value, version=None):
    try:
        addr = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        refuse('%r is not an IP address', value)
    if version and addr.version != version:
        refuse('%r is not IPv%d', value, version)
    return str(addr)


def named_ours(name):
    """A name only hvagent gives: a bridge, a port device, a VXLAN."""
    return name.startswith((BRIDGE, TAP)) or bool(_VXLAN.match(name))


def _bridge_index(value, ns):
    """The ifindex of hvagent bridge ``value`` (a name or an ifindex)."""
    if isinstance(value, str):
        ifname(value, 'master')
    else:
        integer(value, 'master ifindex', 1, 2 ** 31 - 1)
    found = [b for b in privileged.link_infos(ns, kind='bridge')
             if value in (b['name'], b['index'])]
    if not (found and found[0]['name'].startswith(BRIDGE)):
        refuse('master %r is not an hvagent bridge (%s*)', value, BRIDGE)
    return found[0]['index']


def _master_name(info, ns):
    return next((b['name'] for b in privileged.link_infos(ns, kind='bridge')
                 if b['index'] == info['master']), None)


def is_ours(name, ns):
    """Named by hvagent, or a VLAN uplink on an hvagent bridge (or left
    bare, without an address, by a crash)."""
    if named_ours(ifname(name)):
        return True
    info = privileged.link_info(name, ns)
    if not info or info['kind'] != 'vlan':
        return False
    if info['master']:
        return (_master_name(info, ns) or '').startswith(BRIDGE)
    return not privileged.addr_list(name, ns)


def _ours(name, ns, what):
    if not is_ours(name, ns):
        refuse('cannot %s %s: not an hvagent link', what, name)


# ------------------------------------------------------------- links
_ADD = {'bridge': (), 'tap': (), 'tuntap': (),
        'veth': ('peer', 'peer_netns', 'peer_address', 'peer_mtu'),
        'vlan': ('link', 'vlan_id'),
        'vxlan': ('vni', 'local', 'group', 'dstport', 'learning', 'dev')}


def _check_add(name, kind, attrs):
    if kind not in _ADD:
        refuse('link kind %r', kind)
    extra = set(attrs) - set(_ADD[kind]) - {'mtu', 'address'}
    if extra:
        refuse('link_add(%s): unexpected %s', kind, sorted(extra))
    if attrs.get('mtu') is not None:
        integer(attrs['mtu'], 'mtu', 68, 65535)
    if attrs.get('address') is not None:
        mac(attrs['address'])
    if kind == 'bridge' and not name.startswith(BRIDGE) or \
            kind in ('tap', 'tuntap', 'veth') and not name.startswith(TAP):
        refuse('a %s must be named %s*, not %s', kind,
               BRIDGE if kind == 'bridge' else TAP, name)
    if kind == 'veth':
        ifname(attrs.get('peer'), 'veth peer')
        namespace(attrs.get('peer_netns'))
        if attrs.get('peer_address') is not None:
            mac(attrs['peer_address'])
        if attrs.get('peer_mtu') is not None:
            integer(attrs['peer_mtu'], 'peer mtu', 68, 65535)
    if kind == 'vlan':
        vid = integer(attrs.get('vlan_id'), 'vlan id', 1, 4094)
        if name != model.vlan_name(ifname(attrs.get('link'), 'parent'), vid):
            refuse('vlan %s must be named %s', name,
                   model.vlan_name(attrs['link'], vid))
    if kind == 'vxlan':
        vni = integer(attrs.get('vni'), 'vni', 1, 2 ** 24 - 1)
        if name != model.vxlan_name(vni):
            refuse('vxlan %s must be named %s', name, model.vxlan_name(vni))
        for key in ('local', 'group'):
            if attrs.get(key) is not None:
                ip(attrs[key])
        if 'dstport' in attrs:
            integer(attrs['dstport'], 'dstport', 1, 65535)
        if 'learning' in attrs and not isinstance(attrs['learning'], bool):
            refuse('learning %r', attrs['learning'])
        if attrs.get('dev') is not None:
            ifname(attrs['dev'], 'underlay')


@privsep.net_admin.entrypoint
def link_add(name, kind, netns=None, **attrs):
    """privileged.link_add of an hvagent name of that kind."""
    _check_add(ifname(name), kind, attrs)
    return privileged.link_add(name, kind, namespace(netns), **attrs)


@privsep.net_admin.entrypoint
def link_set(name, netns=None, master=None, nomaster=False, up=None,
             mtu=None, address=None, group=None):
    """privileged.link_set of an hvagent link; of another, only up and
    into an hvagent bridge. (No netns_move: nothing leaves a namespace.)"""
    ns = namespace(netns)
    if master is not None:
        master = _bridge_index(master, ns)
    if mtu is not None:
        integer(mtu, 'mtu', 68, 65535)
    if address is not None:
        mac(address)
    if group is not None:
        integer(group, 'group', 0, 2 ** 32 - 1)
    if up not in (None, True, False) or nomaster not in (True, False):
        refuse('up %r, nomaster %r', up, nomaster)
    if not is_ours(name, ns) and (nomaster or up is False or mtu
                                  or address or group is not None):
        refuse('%s is not an hvagent link: it may only be brought up and '
               'put into an hvagent bridge', name)
    return privileged.link_set(name, ns, master=master, nomaster=nomaster,
                               up=up, mtu=mtu, address=address, group=group)


@privsep.net_admin.entrypoint
def link_del(name, netns=None):
    ns = namespace(netns)
    if privileged.link_info(ifname(name), ns) is None:
        return False
    _ours(name, ns, 'delete')
    return privileged.link_del(name, ns)


@privsep.net_admin.entrypoint
def link_discard(name, group, netns=None):
    """Only a port device, only into the reaper's group."""
    if not ifname(name).startswith(TAP) or group != model.DISCARD_GROUP:
        refuse('discard %r into group %r: only %s* devices, into %d',
               name, group, TAP, model.DISCARD_GROUP)
    return privileged.link_discard(name, group, namespace(netns))


@privsep.net_admin.entrypoint
def link_del_group(group, netns=None):
    """Only the reaper's group (link_discard puts only tap* there)."""
    if group != model.DISCARD_GROUP:
        refuse('delete link group %r: only %d', group, model.DISCARD_GROUP)
    return privileged.link_del_group(group, namespace(netns))


@privsep.net_admin.entrypoint
def fdb_append(dev, mac_address, dst, netns=None):
    if not _VXLAN.match(ifname(dev)):
        refuse('fdb entries only on vxlan-<vni> devices, not %s', dev)
    return privileged.fdb_append(dev, mac(mac_address), ip(dst),
                                 namespace(netns))


# --------------------------------------------------------- addresses
def _floating(name, cidr, label):
    """A foreign link's address must be a /32 with the floating label."""
    iface = ipaddress.ip_interface(cidr)
    if iface.network.prefixlen != 32 or label != model.floating_label(name):
        refuse('%s is not an hvagent link: only /32s labelled %s on it',
               name, model.floating_label(name))


def _interface(cidr):
    try:
        iface = ipaddress.ip_interface(cidr)
    except (TypeError, ValueError):
        refuse('address %r', cidr)
    if iface.version != 4:
        refuse('address %r is not IPv4', cidr)
    return str(iface)


@privsep.net_admin.entrypoint
def addr_add(name, cidr, netns=None, label=None):
    ns, cidr = namespace(netns), _interface(cidr)
    if label is not None and label != model.floating_label(ifname(name)):
        refuse('label %r (only %s)', label, model.floating_label(name))
    if not is_ours(name, ns):
        _floating(name, cidr, label)
    return privileged.addr_add(name, cidr, ns, label=label)


def _has_floating(name, cidr, ns):
    mine = model.floating_label(name)
    return any(c == cidr and lab == mine
               for c, lab in privileged.addr_list(name, ns))


@privsep.net_admin.entrypoint
def addr_del(name, cidr, netns=None):
    ns, cidr = namespace(netns), _interface(cidr)
    if not is_ours(name, ns) and not _has_floating(name, cidr, ns):
        refuse('remove %s from %s: not an hvagent link nor a floating /32 '
               'of hvagent', cidr, name)
    return privileged.addr_del(name, cidr, ns)


@privsep.net_admin.entrypoint
def send_garp(name, address, netns=None):
    """Only for a floating /32 hvagent put on ``name`` (or an address of
    one of its own links)."""
    ns, address = namespace(netns), ip(address, 4)
    if not is_ours(name, ns) and not _has_floating(
            name, address + '/32', ns):
        refuse('announce %s on %s: not a floating address of hvagent there',
               address, name)
    return privileged.send_garp(name, address, ns)


# ------------------------------------------------------------- dnsmasq
def dnsmasq_argv(bridge, cidr, path):
    """dnsmasq's whole command line (net/dhcp.py), from checked values."""
    if not ifname(bridge, 'bridge').startswith(BRIDGE):
        refuse('dnsmasq serves only %s* bridges, not %s', BRIDGE, bridge)
    try:
        net = ipaddress.IPv4Network(cidr)
    except (TypeError, ValueError):
        refuse('DHCP subnet %r is not an IPv4 network', cidr)
    if net.prefixlen > 30:
        refuse('DHCP subnet %s has fewer than 4 addresses', net)
    if (not isinstance(path, str) or not _PATH.match(path)
            or os.path.normpath(path) != path):
        refuse('DHCP state directory %r: an absolute, normalized path of '
               'A-Z a-z 0-9 _ . - /', path)
    return ['dnsmasq', '--no-hosts', '--no-resolv', '--port=0',
            '--conf-file=/dev/null', '--bind-interfaces',
            '--interface=%s' % bridge, '--except-interface=lo',
            '--dhcp-range=%s,static,%s,%s' % (
                net.network_address, net.netmask, LEASE_TIME),
            '--dhcp-authoritative',
            '--dhcp-hostsfile=%s/hosts' % path,
            '--dhcp-optsfile=%s/opts' % path,
            '--dhcp-leasefile=%s/leases' % path,
            '--pid-file=%s/pid' % path]


@privsep.net_admin.entrypoint
def dnsmasq_start(bridge, cidr, path, netns=None):
    """Start the DHCP server of one network; it keeps the daemon's three
    capabilities (inheritable + ambient across exec: it is not root)."""
    argv = dnsmasq_argv(bridge, cidr, path)
    if not os.path.isdir(path):
        refuse('DHCP state directory %s does not exist', path)
    ns = namespace(netns)
    proc = privileged.run(argv, ns, umask=0o022)
    if proc.returncode:
        raise NetError(reason='dnsmasq failed (%d): %s' % (
            proc.returncode, (proc.stderr or proc.stdout).strip()))
