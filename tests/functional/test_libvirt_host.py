"""Host against the real libvirtd: lifecycle events and a daemon restart.

The guest is the smallest QEMU can run: TCG (domain type 'qemu', no
/dev/kvm needed), 64 MiB, no disks; it sits in SeaBIOS looking for a boot
device, which is all a power-state test needs. libvirtd is restarted in the
middle: lifecycle events must keep arriving (the Host reconnects by itself
when libvirt reports the connection closed), and an operation caught by the
restart is retried once on the new connection. Timeouts are generous and only
bound waits for conditions; TCG on a busy machine is slow.
"""
import queue
import subprocess
import threading
import uuid

import pytest

from agent import exception
from agent.objects import states
from tests.fixtures import libvirtd
from tests.fixtures.waiting import assert_stays
from tests.fixtures.waiting import wait_until
from virt.libvirt import host as host_mod

pytestmark = pytest.mark.functional

TIMEOUT = 60


def tiny_domain_xml(uid):
    return """<domain type='qemu'>
  <name>hvtest-%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>""" % (uid[:8], uid)


def virsh(*args):
    subprocess.run(['virsh', '-c', libvirtd.URI, *args], check=True,
                   capture_output=True, timeout=TIMEOUT)


def wait_event(events, uid, wanted, timeout=TIMEOUT):
    """Wait for the event ``(uid, wanted)``; others are skipped (the new
    daemon may replay what it finds on start)."""
    seen = []

    def arrived():
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            return False
        seen.append(event)
        return event == (uid, wanted)
    wait_until(arrived, timeout, interval=0, message=lambda:
               'no %s event for %s; saw %s' % (wanted, uid, seen[:-1]))


def test_events_and_reconnect_across_libvirtd_restart():
    libvirtd.require_libvirtd()
    events = queue.Queue()
    host = host_mod.Host(libvirtd.URI, retry_seconds=TIMEOUT,
                         event_callback=lambda u, s: events.put((u, s)))
    uid = str(uuid.uuid4())
    try:
        guest = host.define(tiny_domain_xml(uid))
        assert guest.power_state == states.SHUTDOWN
        guest.launch()
        wait_event(events, uid, states.RUNNING)
        guest.pause()
        wait_event(events, uid, states.PAUSED_POWER)
        guest.resume()
        wait_event(events, uid, states.RUNNING)
        first = host.get_connection()

        libvirtd.restart_libvirtd()

        # no call on host yet: the close callback reconnects by itself (its
        # retries back off, so virsh may get in first: wait, without a
        # call, until it has), and then a change made by someone else
        # (virsh) still comes as an event
        wait_until(lambda: host.open_connection() not in (None, first),
                   TIMEOUT, interval=0.05, message='no reconnect by itself')
        virsh('suspend', uid)
        wait_event(events, uid, states.PAUSED_POWER)
        virsh('resume', uid)
        wait_event(events, uid, states.RUNNING)

        # the old virDomain belongs to the dead connection: the first try
        # fails with a connection error, call() reconnects and runs op again
        attempts = []

        def op():
            g = guest if not attempts else host.lookup(uid)
            attempts.append(g)
            return g.power_state

        assert host.call(op) == states.RUNNING   # QEMU survived the restart
        assert len(attempts) == 2
        assert host.get_connection() is not first

        guest = host.lookup(uid)
        guest.pause()
        wait_event(events, uid, states.PAUSED_POWER)
        guest.resume()
        wait_event(events, uid, states.RUNNING)
        guest.destroy()
        wait_event(events, uid, states.SHUTDOWN)
        assert guest.info().power_state == states.SHUTDOWN
    finally:
        try:
            leftover = host.lookup(uid)
            leftover.destroy()
            leftover.undefine()
        except exception.GuestNotFound:
            pass
        host.close()
    with pytest.raises(exception.GuestNotFound):
        host.lookup(uid)
    host.close()


def test_reconnect_waits_for_libvirtd_to_come_back():
    libvirtd.require_libvirtd()
    patient = host_mod.Host(libvirtd.URI, retry_seconds=TIMEOUT)
    impatient = host_mod.Host(libvirtd.URI, retry_seconds=1)
    patient.get_connection()
    impatient.get_connection()
    result = {}

    def list_during_outage():
        try:
            result['uuids'] = patient.call(
                lambda: [g.uuid for g in patient.list_guests()])
        except Exception as e:   # reported by the assertion below
            result['error'] = e

    try:
        libvirtd.stop_libvirtd()
        with pytest.raises(exception.HypervisorUnavailable,
                           match='qemu:///system'):
            impatient.list_guests()
        waiter = threading.Thread(target=list_during_outage)
        waiter.start()
        # it retries against the missing daemon a while
        assert_stays(waiter.is_alive, 2, message=lambda: result)
    finally:
        libvirtd.start_libvirtd()
    waiter.join(TIMEOUT)
    assert 'uuids' in result, result
    assert impatient.list_guests() is not None   # reconnects lazily too
    patient.close()
    impatient.close()
