"""Host and Guest against libvirt's built-in test driver (test:///default).

The test driver runs inside this process (no daemon) and keeps one shared
state for every connection to test:///default, so each test defines its own
domains under fresh uuids and undefines them afterwards.
"""
import queue
import threading
import time
import uuid
from unittest import mock

import libvirt
import pytest

from agent import exception
from agent.objects import states
from tests.fixtures.waiting import wait_until
from virt import driver
from virt.libvirt import guest as guest_mod
from virt.libvirt import host as host_mod

URI = 'test:///default'


def domain_xml(uid, name=None, memory_mib=64, vcpus=2):
    return ("<domain type='test'><name>%s</name><uuid>%s</uuid>"
            "<memory unit='MiB'>%d</memory><vcpu>%d</vcpu>"
            "<os><type>hvm</type></os></domain>"
            % (name or 'hvtest-' + uid[:8], uid, memory_mib, vcpus))


def lv_error(code, domain=libvirt.VIR_FROM_NONE):
    e = libvirt.libvirtError('injected')
    e.err = (code, domain, 'injected', 2, None, None, None, -1, -1)
    return e


@pytest.fixture
def events():
    return queue.Queue()


@pytest.fixture
def host(events):
    h = host_mod.Host(URI, event_callback=lambda u, s: events.put((u, s)))
    yield h
    for g in h.list_guests():
        if g.name.startswith('hvtest-'):
            g.destroy()
            g.undefine()
    h.close()


@pytest.fixture
def guest(host):
    return host.define(domain_xml(str(uuid.uuid4())))


def next_event(events, uid, timeout=10):
    """The next event of ``uid``, skipping other domains'."""
    while True:
        u, s = events.get(timeout=timeout)
        if u == uid:
            return s


def test_define_lookup_and_properties(host, guest):
    found = host.lookup(guest.uuid)
    assert found.uuid == guest.uuid
    assert found.name == 'hvtest-' + guest.uuid[:8]
    assert found.power_state == states.SHUTDOWN
    assert not found.is_active()
    assert '<uuid>%s</uuid>' % guest.uuid in found.xml()


def test_power_transitions(guest):
    guest.launch()
    assert guest.power_state == states.RUNNING
    guest.pause()
    assert guest.power_state == states.PAUSED_POWER
    guest.resume()
    assert guest.power_state == states.RUNNING
    guest.reboot_hard()
    assert guest.power_state == states.RUNNING
    guest.destroy()
    assert guest.power_state == states.SHUTDOWN
    guest.destroy()   # not running: a no-op
    assert guest.wait_until_off(timeout=1)
    guest.launch()
    assert not guest.wait_until_off(timeout=0.3)
    guest.destroy()


def test_launch_paused():
    dom = mock.Mock()   # the test driver has no VIR_DOMAIN_START_PAUSED
    guest_mod.Guest(dom).launch(paused=True)
    dom.createWithFlags.assert_called_once_with(
        libvirt.VIR_DOMAIN_START_PAUSED)


def test_lookup_unknown_raises_guest_not_found(host):
    uid = str(uuid.uuid4())
    with pytest.raises(exception.GuestNotFound, match=uid):
        host.lookup(uid)


def test_list_and_undefine(host, guest):
    assert guest.uuid in {g.uuid for g in host.list_guests()}
    guest.undefine()   # the test driver refuses the NVRAM flag: fallback
    with pytest.raises(exception.GuestNotFound):
        host.lookup(guest.uuid)
    assert guest.uuid not in {g.uuid for g in host.list_guests()}


def test_undefine_reraises_other_errors():
    dom = mock.Mock()
    dom.undefineFlags.side_effect = lv_error(libvirt.VIR_ERR_OPERATION_INVALID)
    with pytest.raises(libvirt.libvirtError):
        guest_mod.Guest(dom).undefine()
    dom.undefine.assert_not_called()


def test_info(guest):
    info = guest.info()
    assert info == driver.GuestInfo(uuid=guest.uuid,
                                    power_state=states.SHUTDOWN, vcpus=2,
                                    memory_mb=64, cpu_time_ns=info.cpu_time_ns)
    guest.launch()
    assert guest.info().power_state == states.RUNNING


@pytest.mark.parametrize('running,live,persistent,flags', [
    (True, None, True,
     libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG),
    (False, None, True, libvirt.VIR_DOMAIN_AFFECT_CONFIG),
    (True, True, False, libvirt.VIR_DOMAIN_AFFECT_LIVE),
])
def test_device_flags(running, live, persistent, flags):
    dom = mock.Mock()
    dom.isActive.return_value = int(running)
    g = guest_mod.Guest(dom)
    g.attach_device('<disk/>', live=live, persistent=persistent)
    dom.attachDeviceFlags.assert_called_once_with('<disk/>', flags)
    g.detach_device('<disk/>', live=live, persistent=persistent)
    dom.detachDeviceFlags.assert_called_once_with('<disk/>', flags)


def test_destroy_reraises_unless_not_running():
    dom = mock.Mock()
    dom.destroy.side_effect = lv_error(libvirt.VIR_ERR_OPERATION_INVALID)
    dom.isActive.return_value = 1
    with pytest.raises(libvirt.libvirtError):
        guest_mod.Guest(dom).destroy()


@pytest.mark.parametrize('state,expected', [
    (libvirt.VIR_DOMAIN_NOSTATE, states.NOSTATE),
    (libvirt.VIR_DOMAIN_RUNNING, states.RUNNING),
    (libvirt.VIR_DOMAIN_BLOCKED, states.RUNNING),
    (libvirt.VIR_DOMAIN_PAUSED, states.PAUSED_POWER),
    (libvirt.VIR_DOMAIN_SHUTDOWN, states.SHUTDOWN),
    (libvirt.VIR_DOMAIN_SHUTOFF, states.SHUTDOWN),
    (libvirt.VIR_DOMAIN_CRASHED, states.CRASHED),
    (libvirt.VIR_DOMAIN_PMSUSPENDED, states.PAUSED_POWER),
    (99, states.NOSTATE),
])
def test_power_state_mapping(state, expected):
    assert guest_mod.power_state(state) == expected


def test_capabilities_node_info_and_stats(host, guest):
    caps = host.get_capabilities()
    assert caps.arch == 'i686' and caps.cpus == 16
    assert 'test' in caps.domain_types
    assert host.node_info().cpus == 16
    guest.launch()
    stats = {g.uuid: s for g, s in
             host.all_domain_stats(libvirt.VIR_DOMAIN_STATS_STATE)}
    assert stats[guest.uuid]['state.state'] == libvirt.VIR_DOMAIN_RUNNING


# ------------------------------------------------------------------ events
@pytest.mark.parametrize('event,expected', [
    (libvirt.VIR_DOMAIN_EVENT_DEFINED, None),
    (libvirt.VIR_DOMAIN_EVENT_UNDEFINED, None),
    (libvirt.VIR_DOMAIN_EVENT_STARTED, states.RUNNING),
    (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, states.PAUSED_POWER),
    (libvirt.VIR_DOMAIN_EVENT_RESUMED, states.RUNNING),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, states.SHUTDOWN),
    (libvirt.VIR_DOMAIN_EVENT_SHUTDOWN, None),
    (libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED, states.PAUSED_POWER),
    (libvirt.VIR_DOMAIN_EVENT_CRASHED, states.CRASHED),
])
def test_event_power_state(event, expected):
    assert host_mod.event_power_state(event) == expected


def test_fake_events_are_dispatched_off_the_event_thread(host, events):
    host.get_connection()   # starts the dispatcher
    release = threading.Event()
    seen = []

    def slow_callback(uid, state):
        release.wait(10)
        seen.append((uid, state))
        events.put((uid, state))

    host._event_callback = slow_callback
    dom = mock.Mock()
    dom.UUIDString.return_value = 'u-1'
    host._on_lifecycle(None, dom, libvirt.VIR_DOMAIN_EVENT_STARTED, 0, None)
    host._on_lifecycle(None, dom, libvirt.VIR_DOMAIN_EVENT_DEFINED, 0, None)
    host._on_lifecycle(None, dom, libvirt.VIR_DOMAIN_EVENT_SUSPENDED, 0, None)
    assert seen == []   # _on_lifecycle returned while the callback blocks
    release.set()
    assert next_event(events, 'u-1') == states.RUNNING
    assert next_event(events, 'u-1') == states.PAUSED_POWER
    assert seen == [('u-1', states.RUNNING), ('u-1', states.PAUSED_POWER)]


def test_real_events_from_test_driver(host, guest, events):
    host.get_connection()
    guest.launch()
    assert next_event(events, guest.uuid) == states.RUNNING
    guest.pause()
    assert next_event(events, guest.uuid) == states.PAUSED_POWER
    guest.resume()
    assert next_event(events, guest.uuid) == states.RUNNING
    guest.destroy()
    assert next_event(events, guest.uuid) == states.SHUTDOWN


# ------------------------------------------------------------ reconnection
def test_call_retries_once_after_connection_error(host):
    first = host.get_connection()
    calls = []

    def fn(x):
        calls.append(host.get_connection())
        if len(calls) == 1:
            raise lv_error(libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC)
        return x * 2

    assert host.call(fn, 21) == 42
    assert calls[0] is first and calls[1] is not first   # reconnected


def test_call_gives_up_after_second_connection_error(host):
    fn = mock.Mock(side_effect=lv_error(libvirt.VIR_ERR_INTERNAL_ERROR,
                                        libvirt.VIR_FROM_REMOTE))
    with pytest.raises(libvirt.libvirtError):
        host.call(fn)
    assert fn.call_count == 2


def test_call_does_not_retry_other_errors(host):
    host.get_connection()
    fn = mock.Mock(side_effect=lv_error(libvirt.VIR_ERR_NO_DOMAIN,
                                        libvirt.VIR_FROM_QEMU))
    with pytest.raises(libvirt.libvirtError):
        host.call(fn)
    assert fn.call_count == 1


def test_close_callback_reconnects_in_background(host):
    first = host.get_connection()
    gen = host._generation
    eof = libvirt.VIR_CONNECT_CLOSE_REASON_EOF
    host._on_close(first, eof, gen - 1)   # a stale connection's: ignored
    assert not host._dead and host.get_connection() is first
    host._on_close(first, eof, gen)
    # no call made: the callback reconnects by itself
    wait_until(lambda: host._generation != gen, 10, interval=0.01)
    assert host._generation == gen + 1
    assert host.get_connection() is not first


def test_close_callback_without_event_callback_waits_for_a_call():
    h = host_mod.Host(URI)
    first = h.get_connection()
    h._on_close(first, libvirt.VIR_CONNECT_CLOSE_REASON_EOF, h._generation)
    assert h._dead and h._conn is first
    assert h.get_connection() is not first
    h.close()


def test_unreachable_daemon_raises_hypervisor_unavailable():
    uri = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock'
    h = host_mod.Host(uri, retry_seconds=0.5)
    with pytest.raises(exception.HypervisorUnavailable, match='nonexistent'):
        h.get_connection()


def test_is_connection_error():
    assert host_mod.is_connection_error(
        lv_error(libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC))
    assert not host_mod.is_connection_error(
        lv_error(libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_QEMU))
    assert not host_mod.is_connection_error(
        lv_error(libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_FROM_RPC))


def test_a_call_whose_caller_gave_up_knows_it():
    """bounded(): the caller gets HypervisorTimeout; the call goes on in
    its thread, where given_up() now says so (no retry, no late change)."""
    release, seen = threading.Event(), queue.Queue()

    def slow():
        seen.put(host_mod.given_up())
        release.wait(5)
        seen.put(host_mod.given_up())
    with pytest.raises(exception.HypervisorTimeout, match='slow'):
        host_mod.bounded(0.2, URI, slow)
    release.set()
    assert (seen.get(timeout=5), seen.get(timeout=5)) == (False, True)
    assert host_mod.given_up() is False          # not in a bounded call
    assert host_mod.bounded(1, URI, host_mod.given_up) is False


class LingeringDomain:
    """A test-driver domain whose QEMU outlives the guest's ACPI power-off
    by ``seconds``, as a real one may: libvirt then reports SHUTDOWN
    ("being shut down") while the domain is still active, and refuses a
    start as "already running"; then QEMU exits."""

    def __init__(self, domain, seconds):
        self._domain, self._seconds, self._gone_at = domain, seconds, None

    def __getattr__(self, name):
        return getattr(self._domain, name)

    def lingering(self):
        if self._gone_at is None:
            return False
        if time.monotonic() < self._gone_at:
            return True
        self._domain.destroy()
        self._gone_at = None
        return False

    def shutdown(self):
        self._gone_at = time.monotonic() + self._seconds

    def state(self):
        if self.lingering():
            return [libvirt.VIR_DOMAIN_SHUTDOWN, 1]
        return self._domain.state()

    def isActive(self):
        return 1 if self.lingering() else self._domain.isActive()

    def createWithFlags(self, flags):
        if self.lingering():
            raise lv_error(libvirt.VIR_ERR_OPERATION_INVALID)
        return self._domain.createWithFlags(flags)


def test_off_only_once_qemu_is_gone(guest):
    """A guest being shut down is not off, and a start then is refused
    (a soft reboot that took it for off left the guest powered off while
    the instance showed active)."""
    guest.launch()
    slow = guest_mod.Guest(LingeringDomain(guest.domain, seconds=0.3))
    slow.shutdown()
    assert slow.power_state == states.SHUTDOWN
    with pytest.raises(libvirt.libvirtError):
        slow.launch()
    assert slow.wait_until_off(timeout=5, interval=0.01)
    slow.launch()
    assert guest.power_state == states.RUNNING
