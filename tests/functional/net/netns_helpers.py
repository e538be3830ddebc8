"""Network namespaces for the net/ functional tests.

A ``Topology`` is one fake hypervisor: a "host" namespace holding a bridge,
and one "guest" namespace per port, attached by a veth pair whose host end
is named like the port's tap and whose guest end is ``eth0`` with the
port's MAC: exactly what a tap of a real guest looks like to the bridge.
Everything (namespaces, the processes started in them) is removed by
``cleanup()``, which the tests register as a finalizer.

Plain ``ip`` commands on purpose: the fixture must not depend on the code
under test.
"""
import os
import shutil
import stat
import subprocess
import time
import uuid

import pytest

BUSYBOX_HINT = 'busybox missing (CI: apt-get install -y busybox)'


def skip_unless(*tools):
    """Skip the test, with the exact reason, unless we are root, namespaces
    work and every tool in ``tools`` is on PATH (or /usr/sbin)."""
    if os.geteuid() != 0:
        pytest.skip('needs root (network namespaces, bridges, nft)')
    for tool in ('ip',) + tools:
        if not (shutil.which(tool) or os.access('/usr/sbin/' + tool, os.X_OK)):
            pytest.skip(BUSYBOX_HINT if tool == 'busybox'
                        else '%s missing (CI: apt-get install -y %s)'
                        % (tool, {'nft': 'nftables', 'ip': 'iproute2'}
                           .get(tool, tool)))
    probe = 'hvtprobe%d' % os.getpid()
    proc = subprocess.run(['ip', 'netns', 'add', probe], capture_output=True,
                          text=True)
    if proc.returncode:
        pytest.skip('no network namespaces: %s' % proc.stderr.strip())
    subprocess.run(['ip', 'netns', 'del', probe], check=True)


def ip(*args, netns=None):
    argv = ['ip'] + (['-n', netns] if netns else []) + list(args)
    subprocess.run(argv, check=True, capture_output=True, text=True)


def nsexec(netns, *argv, timeout=30, check=False):
    return subprocess.run(['ip', 'netns', 'exec', netns] + list(argv),
                          capture_output=True, text=True, timeout=timeout,
                          check=check)


class Topology:
    def __init__(self, bridge):
        tag = uuid.uuid4().hex[:6]
        self.host = 'hvth-' + tag
        self.bridge = bridge
        self.guests = {}              # port id -> namespace
        self._tag = tag
        self._procs = []
        ip('netns', 'add', self.host)
        try:
            ip('link', 'set', 'lo', 'up', netns=self.host)
            ip('link', 'add', bridge, 'type', 'bridge', netns=self.host)
            ip('link', 'set', bridge, 'up', netns=self.host)
        except BaseException:
            self.cleanup()
            raise

    def add_address(self, cidr):
        """An address on the bridge (the DHCP server's / gateway's)."""
        ip('addr', 'add', cidr, 'dev', self.bridge, netns=self.host)

    def add_guest(self, port, cidr=None):
        """A guest namespace for ``port``; ``cidr`` configures eth0
        statically, else it is left without an address (DHCP)."""
        ns = 'hvtg-%s-%d' % (self._tag, len(self.guests))
        ip('netns', 'add', ns)
        self.guests[port.id] = ns       # cleaned up from here on
        ip('link', 'set', 'lo', 'up', netns=ns)
        ip('link', 'add', port.tap, 'type', 'veth', 'peer', 'name', 'eth0',
           'netns', ns, netns=self.host)
        ip('link', 'set', 'eth0', 'address', port.mac, 'up', netns=ns)
        ip('link', 'set', port.tap, 'master', self.bridge, 'up',
           netns=self.host)
        if cidr:
            ip('addr', 'add', cidr, 'dev', 'eth0', netns=ns)
        return ns

    def add_outside(self, uplink, host_cidr, outside_cidr):
        """A namespace for "the outside world", linked to the host by a
        veth whose host end is ``uplink``; it knows no route to the
        guests."""
        ns = 'hvto-%s-%d' % (self._tag, len(self.guests))
        ip('netns', 'add', ns)
        self.guests[ns] = ns            # cleaned up with the guests
        ip('link', 'set', 'lo', 'up', netns=ns)
        ip('link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0',
           'netns', ns, netns=self.host)
        ip('addr', 'add', host_cidr, 'dev', uplink, netns=self.host)
        ip('link', 'set', uplink, 'up', netns=self.host)
        ip('addr', 'add', outside_cidr, 'dev', 'eth0', netns=ns)
        ip('link', 'set', 'eth0', 'up', netns=ns)
        return ns

    def popen(self, netns, *argv):
        """A process in ``netns`` that cleanup() kills."""
        proc = subprocess.Popen(['ip', 'netns', 'exec', netns] + list(argv),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self._procs.append(proc)
        return proc

    def ping(self, netns, address, count=1):
        """True if ``address`` answers from ``netns`` (busybox ping)."""
        return nsexec(netns, 'busybox', 'ping', '-c', str(count), '-W', '1',
                      address).returncode == 0

    def namespaces(self):
        return [self.host] + list(self.guests.values())

    def cleanup(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        for ns in self.namespaces():
            # whatever else still runs in our namespaces (dnsmasq a test
            # left behind, udhcpc): all started by this test
            pids = subprocess.run(['ip', 'netns', 'pids', ns],
                                  capture_output=True, text=True).stdout
            for pid in pids.split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
            for _ in range(50):
                if subprocess.run(['ip', 'netns', 'del', ns],
                                  capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)


# udhcpc calls this with $1 = bound: apply the lease, report it
SCRIPT = """#!/bin/sh
case "$1" in
bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    echo "$ip|$router|$dns" > "$HVT_LEASE"
    ;;
esac
"""


def udhcpc_script(directory):
    script = os.path.join(directory, 'udhcpc.sh')
    with open(script, 'w') as f:
        f.write(SCRIPT)
    os.chmod(script, stat.S_IRWXU)
    return script


def lease(topo, port, script, tries=5):
    """Run busybox udhcpc in the guest of ``port``: (ip, router, dns) of
    the lease it got and applied, None if it got none."""
    out = os.path.join(os.path.dirname(script), 'lease-' + port.id)
    proc = subprocess.run(
        ['ip', 'netns', 'exec', topo.guests[port.id], 'busybox', 'udhcpc',
         '-i', 'eth0', '-n', '-q', '-f', '-t', str(tries), '-T', '1',
         '-s', script], env=dict(os.environ, HVT_LEASE=out),
        capture_output=True, text=True, timeout=30)
    if proc.returncode:
        return None
    with open(out) as f:
        ip, router, dns = f.read().strip().split('|')
    return ip, router or None, tuple(dns.split())
