"""Fixtures of the net/ functional tests: network namespaces that stand in
for hypervisor hosts and their guests.

``make_netns(role)`` makes a uniquely named namespace (``hvw-<tag>-<role>``,
lo up) and deletes every one it made after the test, passed or failed,
killing what still runs in them first. Deleting goes through
``privileged.netns_del`` because net/'s cached netlink sockets would
otherwise keep a deleted namespace (and its devices) alive.
"""
import os
import shutil
import subprocess
import uuid

import pytest

from net import firewall, privileged
from tests.functional.net import netns_helpers as nh


def _unsupported():
    """Why net/ cannot be tested here, None if it can."""
    if os.geteuid() != 0:
        return 'needs root (network namespaces, bridges, taps)'
    if not shutil.which('ip'):
        return 'ip missing (CI: apt-get install -y iproute2)'
    probe = 'hvwprobe%d' % os.getpid()
    try:
        privileged.netns_add(probe)
        privileged.link_set('lo', probe, up=True)
    except Exception as exc:               # any failure means: no netns
        return 'no network namespaces: %s' % exc
    finally:
        try:
            privileged.netns_del(probe)
        except Exception:
            pass
    return None


@pytest.fixture(scope='session')
def netns_support():
    """Skip, saying exactly why, unless we are root with namespaces."""
    reason = _unsupported()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def firewalled(request):
    """``firewalled(bridge)``: a netns_helpers.Topology and a Firewall for
    its host namespace, both undone when the test ends."""
    def make(bridge):
        nh.skip_unless('nft', 'busybox')
        topo = nh.Topology(bridge)
        request.addfinalizer(topo.cleanup)
        fw = firewall.Firewall(netns=topo.host)
        request.addfinalizer(fw.remove)
        return topo, fw
    return make


@pytest.fixture
def make_netns(netns_support):
    tag = uuid.uuid4().hex[:6]
    made = []

    def make(role):
        name = 'hvw-%s-%s' % (tag, role)
        privileged.netns_add(name)
        made.append(name)
        privileged.link_set('lo', name, up=True)
        return name

    yield make
    for name in reversed(made):
        pids = subprocess.run(['ip', 'netns', 'pids', name],
                              capture_output=True, text=True).stdout
        for pid in pids.split():
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass
        privileged.netns_del(name)
