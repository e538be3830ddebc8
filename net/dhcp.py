"""Flat DHCP: one dnsmasq per network on the host, serving only fixed
MAC -> IP pairs (no dynamic pool), like nova-network's flat DHCP and
neutron's dnsmasq driver, much smaller.

Per network, ``<state_dir>/<network id>/`` holds ``hosts`` (``MAC,IP``
lines: only the ports given), ``opts`` (router, DNS servers, MTU),
``pid`` and ``leases``. ``--dhcp-range=<net>,static`` means a MAC not in
``hosts`` gets no lease. The hosts and opts files are replaced atomically
and dnsmasq re-reads both on SIGHUP, so a port change is a reload (same
process); a change of the command line itself (bridge, subnet) restarts it.
DNS is off (``--port=0``): the guests get ``network.dns`` as resolvers.

Where dnsmasq listens: on the network's bridge (``--interface``,
``--bind-interfaces``). dnsmasq answers on an interface only if that
interface has an IPv4 address in the subnet, so the bridge needs one:
``bridge_address()`` says which and the caller (wiring) must put it on the
bridge. It is ``listen_address`` if given, else the network's gateway: the
nova-network model, where every host's bridge carries the gateway and the
host routes for its own guests (the gateway address must then not be
answered for on the uplink: wiring's job). A network whose gateway is an
external router must pass an address of its own for each host.

dnsmasq drops root for ``nobody`` after start and re-reads ``hosts`` and
``opts`` as that user on SIGHUP, so ``state_dir`` and its parents must be
searchable by others (checked, rather than failing silently at reload).
A network with ``dhcp=False`` has its server stopped by ``update``.
Input is validated before any file is written: an invalid port leaves the
running server serving what it served.
"""
import ipaddress
import os
import re
import shutil
import signal
import stat
import tempfile
import time

from net import boundary
from net import privileged

LEASE_TIME = boundary.LEASE_TIME
_ID = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z')
_MAC = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z')


def _bad(reason, *args):
    raise privileged.NetError(reason=reason % args)


def _subnet(network):
    try:
        net = ipaddress.ip_network(network.cidr)
    except (TypeError, ValueError):
        _bad('network %s: cidr %r is not an IP network', network.id,
             network.cidr)
    if net.version != 4 or net.prefixlen > 30:
        _bad('network %s: DHCP needs an IPv4 subnet of at least 4 '
             'addresses, not %s', network.id, net)
    return net


def _host(net, value, what):
    """``value`` as a usable host address of ``net``."""
    try:
        addr = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        _bad('%s %r is not an IP address', what, value)
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        _bad('%s %s is not a host address of %s', what, addr, net)
    return addr


def _addr4(value, what):
    try:
        return ipaddress.IPv4Address(value)
    except (TypeError, ValueError):
        _bad('%s %r is not an IPv4 address', what, value)


def bridge_address(network, listen_address=None):
    """The address (``'10.0.0.1/24'``) the network's bridge must carry for
    its dnsmasq to serve: ``listen_address``, else the gateway."""
    net = _subnet(network)
    value = listen_address or network.gateway
    if not value:
        _bad('network %s has no gateway: give a listen_address', network.id)
    return '%s/%d' % (_host(net, value, 'listen address'), net.prefixlen)


class DhcpServer:
    def __init__(self, state_dir, netns=None):
        self.state_dir = os.path.abspath(state_dir)
        self.netns = netns

    def _dir(self, network_id):
        if not isinstance(network_id, str) or not _ID.match(network_id):
            _bad('network id %r', network_id)
        return os.path.join(self.state_dir, network_id)

    def update(self, network, ports, listen_address=None):
        """Serve exactly ``ports`` (model.Port) on ``network``: write the
        files, start dnsmasq or make it re-read them. Returns the address
        the bridge must carry (see ``bridge_address``), None if the network
        has DHCP off. Raises NetError for invalid input or a failed start."""
        if not network.dhcp:
            self.stop(network.id)
            return None
        path = self._dir(network.id)
        address = bridge_address(network, listen_address)
        hosts = self._hosts(network, ports, address.split('/')[0])
        opts = self._opts(network)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
        _check_searchable(path)
        _write(os.path.join(path, 'hosts'), hosts)
        _write(os.path.join(path, 'opts'), opts)
        argv = self._argv(network, path)
        pid = self.pid(network.id)
        if pid and _cmdline(pid)[1:] == argv[1:]:
            privileged.signal_pid(pid, signal.SIGHUP)
            return address
        if pid:
            self._kill(pid)
        _remove(os.path.join(path, 'pid'))
        boundary.dnsmasq_start(network.bridge, str(_subnet(network)), path,
                               self.netns)
        return address

    def running(self, network_id):
        return self.pid(network_id) is not None

    def networks(self):
        """The network ids with DHCP state here (a dnsmasq running or left
        by an earlier run of the agent): what a restarted agent must keep
        serving or stop."""
        try:
            names = os.listdir(self.state_dir)
        except FileNotFoundError:
            return set()
        return {n for n in names if _ID.match(n)
                and os.path.isdir(os.path.join(self.state_dir, n))}

    def pid(self, network_id):
        """The pid of the network's dnsmasq, None if it does not run (a
        stale pid file, or one whose pid now is another process)."""
        pidfile = os.path.join(self._dir(network_id), 'pid')
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if '--pid-file=%s' % pidfile not in _cmdline(pid):
            return None
        return pid

    def stop(self, network_id):
        """Kill the network's dnsmasq and remove its directory; fine if
        neither is there."""
        path = self._dir(network_id)
        pid = self.pid(network_id)
        if pid:
            self._kill(pid)
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass

    # ---------------------------------------------------------- internals
    @staticmethod
    def _hosts(network, ports, listen):
        net, lines, seen = _subnet(network), [], {listen}
        for port in ports:
            if port.network_id != network.id:
                _bad('port %s is not on network %s', port.id, network.id)
            mac = port.mac.lower() if isinstance(port.mac, str) else None
            if not mac or not _MAC.match(mac):
                _bad('port %s: mac %r', port.id, port.mac)
            ip = str(_host(net, port.ip, 'port %s ip' % port.id))
            if ip in seen or mac in seen:
                _bad('port %s: %s or %s is used twice', port.id, mac, ip)
            seen.update((ip, mac))
            lines.append('%s,%s\n' % (mac, ip))
        return ''.join(sorted(lines))

    @staticmethod
    def _opts(network):
        # empty options stop dnsmasq from offering itself instead
        net = _subnet(network)
        router = (str(_host(net, network.gateway, 'gateway'))
                  if network.gateway else '')
        dns = ','.join(str(_addr4(d, 'dns server')) for d in network.dns)
        lines = ['option:router' + (',' + router if router else ''),
                 'option:dns-server' + (',' + dns if dns else '')]
        if network.mtu:
            if type(network.mtu) is not int or not 576 <= network.mtu <= 65535:
                _bad('network %s: mtu %r', network.id, network.mtu)
            lines.append('option:mtu,%d' % network.mtu)
        return ''.join(line + '\n' for line in lines)

    @staticmethod
    def _argv(network, path):
        """dnsmasq's argv: built inside the privilege boundary, from the
        bridge, the subnet and ``path``."""
        return boundary.dnsmasq_argv(network.bridge, str(_subnet(network)),
                                     path)

    @staticmethod
    def _kill(pid):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            privileged.signal_pid(pid, sig)
            deadline = time.monotonic() + 5
            while _cmdline(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _cmdline(pid):
                return
        _bad('dnsmasq %d does not die', pid)


def _cmdline(pid):
    """argv of a live process, [] if it is gone (a zombie's is empty)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().decode(errors='replace').split('\0')[:-1]
    except OSError:
        return []


def _write(path, text):
    """Atomically (rename), readable by dnsmasq's unprivileged user."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _check_searchable(path):
    while path != '/':
        if not os.stat(path).st_mode & stat.S_IXOTH:
            _bad('%s is not searchable by others: dnsmasq (nobody) could '
                 'not re-read its hosts file', path)
        path = os.path.dirname(path)
