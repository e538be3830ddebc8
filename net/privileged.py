"""Every privileged call net/ makes, and nothing else: netlink through
pyroute2 (CAP_NET_ADMIN), nftables rulesets (``nft -f -``), and the DHCP
daemons the agent runs. Callers above this module never touch the kernel or
spawn root processes themselves. What changes the kernel runs in the
privsep daemon, called through the checked entrypoints of net/boundary.py
and firewall.load (net/privsep.py, docs/privileges.md); reads need no
privilege and are called directly.

Every function takes ``netns=None``: the name of a network namespace to act
in (tests build whole "hosts" in namespaces), None for the agent's own.
"""
import os
import signal
import subprocess

from agent import exception
from net import privsep


class NetError(exception.HVAgentError):
    msg = '%(reason)s'


# ------------------------------------------------------------- nftables
def ns_argv(argv, netns):
    return (['ip', 'netns', 'exec', netns] + argv) if netns else argv


def run(argv, netns=None, **kwargs):
    """Run a tool (nft, sysctl, dnsmasq) in ``netns``, passing it this
    thread's capabilities (not root, it would get none across exec)."""
    with privsep.inheritable():
        return subprocess.run(ns_argv(argv, netns), capture_output=True,
                              text=True, **kwargs)


def nft_apply(ruleset, netns=None):
    """Load ``ruleset`` (nft syntax) as one transaction: all or nothing."""
    proc = run(['nft', '-f', '-'], netns, input=ruleset)
    if proc.returncode:
        raise NetError(reason='nft rejected the ruleset: %s'
                       % proc.stderr.strip())


def nft_tables(netns=None):
    """[(family, name)] of the tables that exist."""
    out = run(['nft', 'list', 'tables'], netns, check=True).stdout
    return [tuple(line.split()[1:3]) for line in out.splitlines()
            if line.startswith('table ')]


def nft_delete_table(family, name, netns=None):
    """Delete a table; a table that is not there is fine."""
    if (family, name) in nft_tables(netns):
        nft_apply('delete table %s %s\n' % (family, name), netns)


def _sysctl(key, value, netns, hint):
    """Set a (per network namespace) sysctl; ``hint`` says what to check
    when the kernel refuses."""
    proc = run(['sysctl', '-q', '-w', '%s=%s' % (key, value)], netns)
    if proc.returncode:
        raise NetError(reason='cannot set %s (%s): %s'
                       % (key, hint, proc.stderr.strip()))


def enable_br_netfilter(netns=None):
    """Have bridged IPv4 traverse the inet hooks, so conntrack sees it
    (see firewall.py)."""
    _sysctl('net.bridge.bridge-nf-call-iptables', 1, netns,
            'modprobe br_netfilter?')


def enable_ip_forward(netns=None):
    """Route IPv4 between interfaces: floating IPs are routed (NAT) from
    the external uplink to a guest's bridge and back."""
    _sysctl('net.ipv4.ip_forward', 1, netns, 'read-only /proc/sys?')


# ------------------------------------------------------------- daemons
# dnsmasq is started by boundary.dnsmasq_start (its argv is built there).
def signal_pid(pid, sig=signal.SIGTERM):
    """Signal a daemon we started; False if it is gone. Needs no
    capability: dnsmasq runs as the agent's own user (so this is no
    privsep entrypoint)."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


# ------------------------------------------------------------- netlink
# (links, addresses, namespaces: see below)
#
# Reads, set and delete (every plug and unplug) speak rtnetlink directly
# (the messages are packed and parsed in net/rtnl_wire.py):
# pyroute2 0.9 runs each request through an asyncio loop (~0.7 ms) and
# decodes every attribute of every link returned (~0.5-1 ms per link, so
# "which ports are left on this bridge" took 50-100 ms with 100 ports);
# here a link request costs ~0.1 ms and a dumped link ~45 us. pyroute2
# creates links (nested kind-specific attributes), addresses, fdb entries.
# One raw socket (and, once needed, one IPRoute) per namespace, opened from
# inside it (_inside: setns(2) of this thread only) and cached; netns_del
# drops them (they keep a namespace alive) and a replaced or removed
# /run/netns entry is noticed. _LOCK serializes all calls (shared sockets).
import contextlib  # noqa: E402  (this section's imports stay with it)
import errno  # noqa: E402
import fcntl  # noqa: E402
import ipaddress  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402

import pyroute2  # noqa: E402
from pyroute2 import netns as _pr_netns  # noqa: E402

from net import rtnl_wire as wire  # noqa: E402

IFNAMSIZ = 15
_LOCK, _HANDLES = threading.RLock(), {}     # netns (None: ours) -> _Handle
#: kernel support a link type needs; without it RTM_NEWLINK says EOPNOTSUPP
#: once the kernel's own request_module() found no module either
_NEEDS = {'vlan': '802.1Q VLAN support (module 8021q, CONFIG_VLAN_8021Q)',
          'vxlan': 'VXLAN support (module vxlan, CONFIG_VXLAN)',
          'bridge': 'bridge support (module bridge, CONFIG_BRIDGE)',
          'veth': 'veth support (module veth, CONFIG_VETH)',
          'tap': 'TUN/TAP support (module tun, CONFIG_TUN, /dev/net/tun)'}
# linux/if_tun.h
_TUNSETIFF, _TUNSETPERSIST, _IFF_TAP_NO_PI = 0x400454ca, 0x400454cb, 0x1002


def _name(name):
    if not isinstance(name, str) or not 0 < len(name) <= IFNAMSIZ:
        raise NetError(reason='interface name %r: 1 to %d characters'
                       % (name, IFNAMSIZ))
    return wire.nla(wire.IFNAME, name)


def _ns_fd(netns):
    try:
        return os.open(os.path.join(_pr_netns.NETNS_RUN_DIR, netns),
                       os.O_RDONLY)
    except FileNotFoundError:
        raise NetError(reason='network namespace %s does not exist'
                       % netns) from None


@contextlib.contextmanager
def _inside(netns):
    """This thread in ``netns`` for the block: what it opens there (a
    socket, /dev/net/tun) belongs to that namespace for good."""
    if netns is None:
        yield
        return
    own, target = os.open('/proc/thread-self/ns/net', os.O_RDONLY), None
    try:
        target = _ns_fd(netns)
        _pr_netns.setns(target, flags=0)
        try:
            yield
        finally:
            _pr_netns.setns(own, flags=0)
    finally:
        for fd in (own, target):
            if fd is not None:
                os.close(fd)


class _Handle:
    def __init__(self, netns, ino):
        self.netns, self.ino, self.seq, self._ipr = netns, ino, 0, None
        with _inside(netns):
            self.nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                    socket.NETLINK_ROUTE)
        self.nl.bind((0, 0))

    @contextlib.contextmanager
    def ipr(self):
        """The namespace's IPRoute, used with this thread inside the
        namespace: pyroute2 0.9 opens a socket per thread, lazily, in the
        namespace the thread is in (else a second thread acts here)."""
        with _inside(self.netns):
            if self._ipr is None:
                self._ipr = pyroute2.IPRoute(groups=0)  # no event backlog
            yield self._ipr

    def close(self):
        self.nl.close()
        if self._ipr is not None:
            self._ipr.close()


def _handle(netns):
    h, ino = _HANDLES.get(netns), None
    if netns is not None:
        try:
            fd = _ns_fd(netns)
        except NetError:               # gone: let it go for good
            if _HANDLES.pop(netns, None) is not None:
                h.close()
            raise
        ino = os.fstat(fd).st_ino
        os.close(fd)
    if h is None or h.ino != ino:      # new, or a namespace of the same name
        if h is not None:
            h.close()
        h = _HANDLES[netns] = _Handle(netns, ino)
    return h


def _fail(exc, what, kind=None):
    """A NetError saying what was tried and why it failed; for a link type
    the kernel lacks, which kernel support is missing."""
    code = getattr(exc, 'code', None) or exc.errno
    if code in (errno.EOPNOTSUPP, errno.ENOENT) and kind in _NEEDS:
        return NetError(reason='cannot %s: this kernel has no %s'
                        % (what, _NEEDS[kind]))
    return NetError(reason='cannot %s: %s' % (what, os.strerror(code)))


# ------------------------------------------------- raw rtnetlink (links)
def _rtnl(h, msg_type, flags, *attrs, up=None, want=None):
    """One link request; the links answered (parsed up to the ``want``
    attributes). The kernel's refusal is an OSError with its errno."""
    h.seq = h.seq % 0x7fffffff + 1
    h.nl.send(wire.request(h.seq, msg_type, flags, attrs, up))
    found = []
    while True:
        buf = h.nl.recv(1 << 16)
        for kind, start, end in wire.replies(buf, h.seq):
            if kind == wire.NEWLINK:
                found.append(wire.link(buf, start, end, want))
            if kind in (wire.ERROR, wire.DONE) or not flags & wire.DUMP:
                return found


def _get(h, name, role=None):
    """link_info; with a ``role``, a missing link is a NetError."""
    try:
        return _rtnl(h, wire.GETLINK, 0, _name(name), wire.NO_STATS)[0]
    except OSError as exc:
        if exc.errno != errno.ENODEV:
            raise _fail(exc, 'read link %s' % name) from None
    if role:
        raise NetError(reason='%s %s does not exist' % (role, name))


def link_info(name, netns=None):
    """``{'name', 'index', 'kind', 'master' (ifindex or None), 'mtu', 'up',
    'address', 'group'}`` of link ``name``, None if there is none. ``kind``
    is the kernel's: 'tun' for a tap, None for a physical NIC."""
    with _LOCK:
        return _get(_handle(netns), name)


def link_exists(name, netns=None):
    return link_info(name, netns) is not None


def links(netns=None, kind=None, master=None):
    """Names of the links of ``kind`` and/or enslaved to ``master`` (a
    name or an ifindex)."""
    return [ln['name'] for ln in link_infos(netns, kind, master)]


def link_infos(netns=None, kind=None, master=None):
    """``links``, as dicts with at least 'name', 'index', 'master' (and
    'kind' if ``kind`` is given)."""
    kind = 'tun' if kind in ('tap', 'tuntap') else kind
    with _LOCK:
        h, attrs, index = _handle(netns), [wire.NO_STATS], master
        if isinstance(master, str):
            found = _get(h, master)
            if found is None:
                return []
            index = found['index']
        if index is not None:
            attrs.append(wire.nla(wire.MASTER, index))
        if kind is not None:           # (the kernel ignores unknown kinds)
            attrs.append(wire.nla(wire.LINKINFO, wire.nla(1, kind)))
        try:                           # IFNAME comes first, MASTER early
            found = _rtnl(h, wire.GETLINK, wire.DUMP, *attrs, want={
                wire.IFNAME, wire.MASTER} | (
                    {wire.LINKINFO} if kind else set()))
        except OSError as exc:
            raise _fail(exc, 'list links') from None
    return [ln for ln in found
            if kind in (None, ln['kind']) and index in (None, ln['master'])]


def link_set(name, netns=None, master=None, nomaster=False, up=None,
             mtu=None, address=None, netns_move=None, group=None):
    """Change what is given, in one request. ``master``: a name or an
    ifindex; ``netns_move``: the namespace to move the link to."""
    attrs = [_name(name)] + ([wire.nla(wire.MTU, mtu)] if mtu else []) + (
        [wire.nla(wire.GROUP, group)] if group is not None else []) + (
        [wire.nla(wire.ADDRESS, bytes.fromhex(address.replace(':', '')))]
        if address else [])
    with _LOCK:
        h, fd = _handle(netns), None
        if nomaster or master is not None:
            attrs.append(wire.nla(wire.MASTER, 0 if nomaster else master if
                              isinstance(master, int) else
                              _get(h, master, 'master')['index']))
        try:
            if netns_move is not None:
                fd = _ns_fd(netns_move)
                attrs.append(wire.nla(wire.NS_FD, fd))
            _rtnl(h, wire.SETLINK, wire.ACK, *attrs, up=up)
        except OSError as exc:
            raise _fail(exc, 'change link %s' % name) from None
        finally:
            if fd is not None:
                os.close(fd)


def link_del(name, netns=None):
    """Delete ``name`` (a veth: both ends); False if it was not there.
    ~20 ms whoever asks: the kernel answers after an RCU grace period
    (rcu_barrier() in netdev_run_todo)."""
    with _LOCK:
        try:
            _rtnl(_handle(netns), wire.DELLINK, wire.ACK, _name(name))
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise _fail(exc, 'delete link %s' % name) from None
    return True


def link_discard(name, group, netns=None):
    """Take ``name`` off its bridge, down, into link group ``group`` (to be
    deleted with link_del_group), in one request; False if not there."""
    with _LOCK:
        try:
            _rtnl(_handle(netns), wire.SETLINK, wire.ACK, _name(name),
                  wire.nla(wire.MASTER, 0), wire.nla(wire.GROUP, group),
                  up=False)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise _fail(exc, 'discard link %s' % name) from None
    return True


def link_del_group(group, netns=None):
    """Delete every link in link group ``group`` (not 0) in one request:
    the kernel unregisters them together and waits for one RCU grace
    period for all. Uses a socket of its own and not the module lock, so
    the other calls go on while the kernel waits."""
    h = _Handle(netns, None)
    try:
        _rtnl(h, wire.DELLINK, wire.ACK, wire.nla(wire.GROUP, group))
    except OSError as exc:
        if exc.errno != errno.ENODEV:
            raise _fail(exc, 'delete link group %d' % group) from None
    finally:
        h.close()


# ------------------------------------------- creating links (pyroute2)
def _make_tap(name, netns):
    """A persistent tap (IFF_TAP | IFF_NO_PI), what libvirt opens for an
    ``<interface type='ethernet'>`` with ``managed='no'``. Only made through
    /dev/net/tun, in the namespace that opened it."""
    try:
        with _inside(netns):
            fd = os.open('/dev/net/tun', os.O_RDWR)
    except OSError as exc:
        raise _fail(exc, 'create tap %s' % name, 'tap') from None
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack('16sH22x', name.encode(),
                                                _IFF_TAP_NO_PI))
        fcntl.ioctl(fd, _TUNSETPERSIST, 1)
    except OSError as exc:
        raise _fail(exc, 'create tap %s' % name) from None
    finally:
        os.close(fd)


def _spec(h, kind, a, fds):
    """pyroute2 keywords for RTM_NEWLINK of ``kind``, from link_add's."""
    if kind == 'veth':
        peer, netns = {'ifname': a.pop('peer')}, a.pop('peer_netns', None)
        _name(peer['ifname'])
        if netns is not None:
            fds.append(_ns_fd(netns))
            peer['net_ns_fd'] = fds[-1]
        for key in ('address', 'mtu'):
            if a.get('peer_' + key) is not None:
                peer[key] = a['peer_' + key]
            a.pop('peer_' + key, None)
        return {'peer': peer}
    if kind == 'vlan':
        return {'link': _get(h, a.pop('link'), 'parent')['index'],
                'vlan_id': int(a.pop('vlan_id'))}
    if kind == 'vxlan':
        local, group, dev = (a.pop(k, None) for k in ('local', 'group', 'dev'))
        six = '6' if local and ipaddress.ip_address(local).version == 6 else ''
        spec = {'vxlan_id': int(a.pop('vni')),
                'vxlan_port': int(a.pop('dstport', 4789)),
                'vxlan_learning': int(bool(a.pop('learning', True)))}
        spec.update({'vxlan_%s%s' % (k, six): v for k, v
                     in (('local', local), ('group', group)) if v})
        if dev:
            spec['vxlan_link'] = _get(h, dev, 'underlay')['index']
        return spec
    if kind == 'bridge':
        return {}
    raise NetError(reason='unknown link kind %r' % kind)


def link_add(name, kind, netns=None, **attrs):
    """Create link ``name``: True if created, False if a link of that kind
    is there already (other settings are not compared: converge them with
    link_set); another kind under that name is a NetError.

    kind 'bridge'; 'veth' (peer=name, peer_netns=None, peer_address=None,
    peer_mtu=None: mtu); 'tap' or 'tuntap' (persistent); 'vlan' (link=
    parent name, vlan_id); 'vxlan' (vni, local, group=None: unicast, add the
    remotes with fdb_append; dstport=4789, learning=True, dev=None: the
    underlay device). Any kind: mtu=None, address=None.
    """
    kind = 'tap' if kind == 'tuntap' else kind
    common = {k: attrs.pop(k) for k in ('mtu', 'address') if k in attrs}
    common = {k: v for k, v in common.items() if v}
    if kind == 'veth' and 'mtu' in common:
        attrs.setdefault('peer_mtu', common['mtu'])
    with _LOCK:
        h = _handle(netns)
        have = _get(h, name)
        if have:
            if have['kind'] == ('tun' if kind == 'tap' else kind):
                return False
            raise NetError(reason='cannot create %s %s: a %s link of that '
                           'name exists' % (kind, name,
                                            have['kind'] or 'physical'))
        if kind == 'tap':
            _make_tap(name, netns)
            if common:
                link_set(name, netns, **common)
            return True
        fds = []
        try:
            spec = _spec(h, kind, attrs, fds)
            if attrs:
                raise TypeError('link_add(%s): unexpected %s'
                                % (kind, sorted(attrs)))
            with h.ipr() as ipr:
                ipr.link('add', ifname=name, kind=kind, **spec, **common)
        except pyroute2.NetlinkError as exc:
            raise _fail(exc, 'create %s %s' % (kind, name), kind) from None
        finally:
            for fd in fds:
                os.close(fd)
    return True


def _addr_change(op, name, cidr, netns, harmless, what, **extra):
    """``ip addr <op>`` of ``cidr`` on ``name``; the errno ``harmless``
    (there already / not there) is fine."""
    try:
        iface = ipaddress.ip_interface(cidr)
    except ValueError as exc:
        raise NetError(reason='address %r: %s' % (cidr, exc)) from None
    with _LOCK:
        h = _handle(netns)
        try:
            index = _get(h, name, 'link')['index']
            with h.ipr() as ipr:
                ipr.addr(op, index=index, address=str(iface.ip),
                         prefixlen=iface.network.prefixlen, **extra)
        except pyroute2.NetlinkError as exc:
            if exc.code != harmless:
                raise _fail(exc, what % (cidr, name)) from None


def addr_add(name, cidr, netns=None, label=None):
    """Add ``cidr`` ('10.0.0.1/24') to ``name``, tagged with ``label`` (at
    most 15 characters) if given; there already is fine."""
    _addr_change('add', name, cidr, netns, errno.EEXIST, 'add %s to %s',
                 **({'label': label} if label else {}))


def addr_del(name, cidr, netns=None):
    """Remove ``cidr`` from ``name``; an address not there is fine."""
    _addr_change('del', name, cidr, netns, errno.EADDRNOTAVAIL,
                 'remove %s from %s')


def addr_list(name, netns=None):
    """[(cidr, label)] of the IPv4 addresses of link ``name``."""
    with _LOCK:
        h = _handle(netns)
        index = _get(h, name, 'link')['index']
        with h.ipr() as ipr:
            return [('%s/%d' % (m.get_attr('IFA_LOCAL') or
                                m.get_attr('IFA_ADDRESS'), m['prefixlen']),
                     m.get_attr('IFA_LABEL'))
                    for m in ipr.get_addr(index=index, family=socket.AF_INET)]


def send_garp(name, address, netns=None):
    """Announce IPv4 ``address`` on link ``name`` (RFC 5227 ARP
    announcement, broadcast): neighbours replace a stale or failed entry
    for it, as when a floating IP has just arrived. Needs CAP_NET_RAW."""
    ip = ipaddress.IPv4Address(address).packed
    with _LOCK:
        mac = bytes.fromhex(_get(_handle(netns), name, 'link')['address']
                            .replace(':', ''))
        with _inside(netns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    with sock:
        try:
            sock.bind((name, 0))
            sock.send(b'\xff' * 6 + mac + struct.pack('!HHHBBH', 0x0806, 1,
                                                    0x0800, 6, 4, 1)
                      + mac + ip + bytes(6) + ip)
        except OSError as exc:
            raise _fail(exc, 'announce %s on %s' % (address, name)) from None


def fdb_append(dev, mac, dst, netns=None):
    """``bridge fdb append <mac> dev <dev> dst <dst>``: with the all-zero
    MAC, one more unicast VXLAN remote that broadcast and unknown frames
    are copied to (head-end replication). An entry that exists is fine."""
    with _LOCK:
        h = _handle(netns)
        try:
            index = _get(h, dev, 'link')['index']
            with h.ipr() as ipr:
                ipr.fdb('append', ifindex=index, lladdr=mac, dst=dst)
        except pyroute2.NetlinkError as exc:
            raise _fail(exc, 'append %s dst %s to the fdb of %s'
                        % (mac, dst, dev)) from None


# ------------------------------------------------ namespaces (for tests)
def netns_list():
    return sorted(_pr_netns.listnetns())


def netns_add(name):
    """Create namespace ``name``; False if it exists. (``ip netns add``:
    pyroute2's create() would fork this, maybe threaded, process.)"""
    if name in netns_list():
        return False
    proc = subprocess.run(['ip', 'netns', 'add', name], capture_output=True,
                          text=True)
    if proc.returncode:
        raise NetError(reason='ip netns add %s: %s'
                       % (name, proc.stderr.strip()))
    return True


def netns_del(name):
    """Delete namespace ``name`` and drop our sockets in it (they would
    keep it alive); False if it was not there."""
    with _LOCK:
        if name in _HANDLES:
            _HANDLES.pop(name).close()
    if name not in netns_list():
        return False
    _pr_netns.remove(name)
    return True
