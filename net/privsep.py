"""The privilege boundary of a compute node: one oslo.privsep context,
``net_admin``, holding exactly CAP_NET_ADMIN, CAP_NET_BIND_SERVICE and
CAP_NET_RAW, whose entrypoints (net/boundary.py, and ``firewall.load``)
are the only code that uses them. See docs/privileges.md.

hvagent-compute calls ``start()`` first thing, before any thread exists:
the helper daemon is forked off (oslo.privsep's fork method: no sudo, no
privsep-helper, so NoNewPrivileges=yes holds), and then this process drops
every capability it has (effective, permitted, inheritable, ambient), so
only the daemon keeps the unit's AmbientCapabilities=. A process that never
calls ``start()`` (tests, tools) runs the entrypoints in-process (oslo's
client mode off): what they may do is checked all the same.

Why a fork of our own rather than oslo's ForkingClientChannel: that one
starts the channel's reader thread right after the fork, and capabilities
are per thread (capset(2)); dropped after it, the reader thread would keep
them. Here the caps go before the channel (and its thread) exists.
"""
import ctypes
import os
import socket
import sys
import threading

from oslo_privsep import capabilities
from oslo_privsep import comm
from oslo_privsep import daemon
from oslo_privsep import priv_context

from agent import exception

#: what the daemon keeps: netlink, nft, sysctl (NET_ADMIN), raw packets
#: for the gratuitous ARP and dnsmasq (NET_RAW), port 67 (NET_BIND_SERVICE)
CAPS = (capabilities.CAP_NET_ADMIN, capabilities.CAP_NET_BIND_SERVICE,
        capabilities.CAP_NET_RAW)
# linux/prctl.h
_PR_CAP_AMBIENT, _RAISE, _CLEAR_ALL = 47, 2, 4
_LIBC = ctypes.CDLL(None, use_errno=True)


class HelperGone(exception.HVAgentError):
    msg = ('the privileged helper (privsep daemon) is not running: '
           'restart hvagent-compute')


class _Context(priv_context.PrivContext):
    """Started only by ``start()``; a daemon that died is not restarted
    (this process has no capabilities left to give a new one)."""

    def start(self, method=None):
        with self.start_lock:
            if self.channel is None:
                raise HelperGone()


net_admin = _Context('net', cfg_section='privsep_net_admin',
                     pypath=__name__ + '.net_admin', capabilities=CAPS)
net_admin.set_client_mode(False)     # in-process until start()


def _prctl_ambient(op, cap=0):
    if _LIBC.prctl(_PR_CAP_AMBIENT, op, cap, 0, 0):
        err = ctypes.get_errno()
        raise OSError(err, 'prctl(PR_CAP_AMBIENT): %s' % os.strerror(err))


def drop_all():
    """This thread (the only one: see start) gives up every capability."""
    _prctl_ambient(_CLEAR_ALL)
    capabilities.drop_all_caps_except([], [], [])


def status(pid='self'):
    """{'CapEff': int, ...} of a process, from /proc/<pid>/status."""
    with open('/proc/%s/status' % pid) as f:
        return {k: int(v, 16) for k, _, v in
                (line.partition(':\t') for line in f)
                if k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')}


def mask(caps=CAPS):
    return sum(1 << c for c in caps)


def confined():
    """True for a process the unit started: it holds some of ``CAPS`` and
    not CAP_SYS_ADMIN. An unconfined root (a developer's shell, the test
    deployments) has no boundary to keep: it runs the entrypoints
    in-process, as does a process without any of them."""
    prm = status()['CapPrm']
    return bool(prm & mask()) and not prm & mask(
        [capabilities.CAP_SYS_ADMIN])


def missing():
    """Names of the ``CAPS`` this process does not hold (permitted)."""
    prm = status()['CapPrm']
    return [capabilities.CAPS_BYVALUE[c] for c in CAPS
            if not prm & (1 << c)]


class inheritable:
    """Context manager: this thread's ``CAPS`` inheritable and ambient, so
    a process it starts (dnsmasq, not root) keeps them across exec; cleared
    again after. Capabilities are per thread: the daemon's other threads
    are unaffected."""

    def __enter__(self):
        eff, prm, _inh = capabilities.get_caps()
        held = [c for c in CAPS if c in prm]    # (in-process: maybe none)
        capabilities.drop_all_caps_except(eff, prm, held)
        for cap in held:
            _prctl_ambient(_RAISE, cap)

    def __exit__(self, *exc):
        _prctl_ambient(_CLEAR_ALL)
        eff, prm, _inh = capabilities.get_caps()
        capabilities.drop_all_caps_except(eff, prm, [])


def _serve(sock, context):
    """The daemon's side (the forked child): never returns."""
    code = 1
    try:
        channel = comm.ServerChannel(sock)
        daemon.replace_logging(daemon.PrivsepLogHandler(
            channel, processName=str(context)))
        daemon.Daemon(channel, context=context).run()
        code = 0
    finally:
        os._exit(code)


def start(context=net_admin):
    """Fork the privileged daemon, then drop every capability of this
    process; entrypoints go through the daemon from now on."""
    if threading.active_count() > 1:
        raise RuntimeError('privsep.start() must run before any thread: '
                           'capabilities are per thread')
    own, theirs = socket.socketpair()
    for s in (own, theirs):
        s.setblocking(True)
        daemon.set_cloexec(s)
    for f in (sys.stdout, sys.stderr):
        f.flush()
    pid = os.fork()
    if pid == 0:
        own.close()
        _serve(theirs, context)
    theirs.close()
    drop_all()                  # before the reader thread below exists
    with context.start_lock:
        context.channel = daemon._ClientChannel(own, context)
    context.set_client_mode(True)
    context.pid = pid
    return pid
