"""The connection to libvirtd, kept alive across daemon restarts.

libvirtd is restarted under a running agent (package upgrades, operators), so
the connection is never assumed to last: it is opened lazily by
``get_connection()`` and re-opened whenever it is found dead, either because
libvirt told us (the close callback, fired from the event loop on EOF) or
because ``isAlive()`` says so. Re-opening retries with exponential backoff
for ``retry_seconds`` and then fails with HypervisorUnavailable, so a caller
waits out a restart but not a daemon that is gone for good.

A call already in flight when the daemon dies fails with a connection error;
``call(fn)`` runs ``fn`` again, once, on the new connection. ``fn`` must look
its domain up again (a virDomain belongs to its connection) and must be safe
to repeat, since the first run may have reached the daemon. Other libvirt
errors are never retried: they are answers, not outages.

Lifecycle events: libvirt delivers them on its event loop, which must be
registered before the first connection is opened and must keep running for
events, keepalives and the close callback to work; one daemon thread per
process runs it. Each (re)connection registers the lifecycle callback again,
because callbacks die with their connection; with an event_callback the
close callback also reconnects at once in the background, so events resume
after a restart even if the agent makes no call. Events are translated to
``(instance uuid, power state)`` and queued; a separate dispatcher thread
calls ``event_callback``, so a slow callback never stalls libvirt's loop.
"""
import collections
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
import xml.etree.ElementTree as ET

import libvirt
import tenacity

from agent import exception
from agent.objects import states
from virt.libvirt.guest import Guest

LOG = logging.getLogger(__name__)

DEFAULT_URI = 'qemu:///system'

#: lifecycle event -> power state; others (defined, undefined, the guest
#: *starting* to shut down) do not change what the guest is doing
_EVENT_STATES = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: states.RUNNING,
    libvirt.VIR_DOMAIN_EVENT_RESUMED: states.RUNNING,
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: states.PAUSED_POWER,
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: states.PAUSED_POWER,  # as guest.py
    libvirt.VIR_DOMAIN_EVENT_STOPPED: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_EVENT_CRASHED: states.CRASHED,
}

_event_loop_lock = threading.Lock()
_event_loop_started = False


def event_power_state(event):
    """The power state a lifecycle event leads to, or None to ignore it."""
    return _EVENT_STATES.get(event)


def is_connection_error(e):
    """Whether a libvirtError means the daemon went away (as nova checks)."""
    return (e.get_error_code() in (libvirt.VIR_ERR_SYSTEM_ERROR,
                                   libvirt.VIR_ERR_INTERNAL_ERROR) and
            e.get_error_domain() in (libvirt.VIR_FROM_REMOTE,
                                     libvirt.VIR_FROM_RPC))


def start_event_loop():
    """Register libvirt's default event loop and run it (once a process)."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        # errors become exceptions anyway; stop libvirt printing them too
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, name='libvirt-event-loop',
                         daemon=True).start()
        _event_loop_started = True


def _run_event_loop():
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:
            LOG.exception('libvirt event loop iteration failed')
            time.sleep(1)


_caller = threading.local()


def given_up():
    """True in a ``bounded`` call's thread once its caller has stopped
    waiting (and was told the call failed): what is left of it should not
    be started any more."""
    gave_up = getattr(_caller, 'gave_up', None)
    return gave_up is not None and gave_up.is_set()


def bounded(limit, uri, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a daemon thread; HypervisorTimeout if it
    has not returned after ``limit`` seconds (it is left to finish; see
    given_up)."""
    result = concurrent.futures.Future()
    gave_up = threading.Event()

    def run():
        _caller.gave_up = gave_up
        try:
            result.set_result(fn(*args, **kwargs))
        except BaseException as e:  # handed to the caller, not lost
            result.set_exception(e)
    threading.Thread(target=run, name='libvirt-call', daemon=True).start()
    try:
        return result.result(limit)
    except concurrent.futures.TimeoutError:
        gave_up.set()
        what = getattr(args[0] if args else fn, '__name__', 'a call')
        raise exception.HypervisorTimeout(uri=uri, seconds=limit,
                                          call=what) from None


#: domain_types: for the host arch, e.g. {'qemu', 'kvm'}
Capabilities = collections.namedtuple('Capabilities',
                                      'arch cpus domain_types')
#: virConnectGetInfo, named
NodeInfo = collections.namedtuple(
    'NodeInfo', 'model memory_mb cpus mhz nodes sockets cores threads')


class Host:
    """A self-healing libvirt connection; thread-safe."""

    def __init__(self, uri, event_callback=None, retry_seconds=60,
                 call_timeout=0):
        self.uri = uri or DEFAULT_URI
        self._event_callback = event_callback
        self._retry_seconds = retry_seconds
        self.call_timeout = call_timeout
        self._lock = threading.RLock()
        self._conn = None
        self._generation = 0          # which connection the close cb is for
        self._dead = False
        self._lifecycle_id = None
        self._events = None           # queue of the dispatcher thread

    # ------------------------------------------------------------ connection
    def get_connection(self):
        """The live connection, opened (or re-opened) on demand."""
        with self._lock:
            if self._conn is not None and not self._dead and self._alive():
                return self._conn
            if self._conn is not None:
                LOG.info('Connection to %s lost; reconnecting', self.uri)
                self._drop()
            self._connect()
            return self._conn

    def open_connection(self):
        """The connection if one is open and not known dead, else None.

        Never connects and never waits for the lock a reconnect holds: for
        monitoring, which must answer within its scrape deadline.
        """
        conn = self._conn
        return None if conn is None or self._dead else conn

    def _alive(self):
        try:
            return self._conn.isAlive() == 1
        except libvirt.libvirtError:
            return False

    def _connect(self):
        start_event_loop()
        if self._event_callback is not None and self._events is None:
            self._events = queue.SimpleQueue()
            threading.Thread(target=self._dispatch, args=(self._events,),
                             name='libvirt-event-dispatch', daemon=True).start()
        retry = tenacity.Retrying(
            stop=tenacity.stop_after_delay(self._retry_seconds),
            wait=tenacity.wait_exponential(multiplier=0.25, max=5),
            retry=tenacity.retry_if_exception_type(libvirt.libvirtError),
            before_sleep=lambda rs: LOG.warning(
                'Cannot connect to %s (%s); retrying', self.uri,
                rs.outcome.exception()),
            reraise=True)
        try:
            self._conn, self._lifecycle_id = retry(self._open,
                                                   self._generation + 1)
        except libvirt.libvirtError as e:
            raise exception.HypervisorUnavailable(uri=self.uri, reason=e)
        self._generation += 1
        self._dead = False
        LOG.info('Connected to %s', self.uri)

    def _open(self, generation):
        """One attempt: open, then hook the close callback and events."""
        conn = libvirt.open(self.uri)
        try:
            conn.registerCloseCallback(self._on_close, generation)
            conn.setKeepAlive(5, 3)   # notices a hung or unreachable daemon
        except libvirt.libvirtError as e:  # not every driver has them
            LOG.debug('%s: no close callback/keepalive: %s', self.uri, e)
        if self._event_callback is None:
            return conn, None
        try:
            return conn, conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                self._on_lifecycle, None)
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()
            raise

    def _drop(self):
        """Forget the current connection, politely if it still answers."""
        conn, cb_id = self._conn, self._lifecycle_id
        self._conn = self._lifecycle_id = None
        undo = [conn.unregisterCloseCallback, conn.close]
        if cb_id is not None:
            undo.insert(0, lambda: conn.domainEventDeregisterAny(cb_id))
        for step in undo:   # a dead connection refuses: nothing to undo
            with contextlib.suppress(libvirt.libvirtError):
                step()

    def _on_close(self, _conn, reason, generation):
        # libvirt's event loop thread: never block it, just flag and go
        if generation != self._generation:
            return
        LOG.warning('libvirt closed the connection to %s (reason %s)',
                    self.uri, reason)
        self._dead = True
        if self._event_callback is not None:
            threading.Thread(target=self._reconnect, args=(generation,),
                             name='libvirt-reconnect', daemon=True).start()

    def _reconnect(self, generation):
        """Re-open at once, so events resume without waiting for a call."""
        with self._lock:
            if generation != self._generation or self._conn is None:
                return   # reconnected or closed meanwhile
            try:
                self.get_connection()
            except exception.HypervisorUnavailable as e:
                LOG.error('%s; the next call tries again', e)

    def call(self, fn, *args, limit=None, **kwargs):
        """``fn(*args, **kwargs)``, run once more on a fresh connection if
        the connection died under it (see the module docstring), waited
        for at most ``limit`` seconds (default: ``call_timeout``; 0 or None
        waits for ever). A hung libvirtd (stopped, deadlocked) then costs
        the caller a HypervisorTimeout, not its thread: the call goes on in
        a daemon thread of its own and ends when the daemon answers or the
        keepalive gives up on it."""
        limit = self.call_timeout if limit is None else limit
        if not limit:
            return self._call(fn, *args, **kwargs)
        return bounded(limit, self.uri, self._call, fn, *args, **kwargs)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except libvirt.libvirtError as e:
            with self._lock:
                lost = (is_connection_error(e) or self._conn is None or
                        self._dead or not self._alive())
                if not lost or given_up():   # nobody waits for a retry
                    raise
                LOG.warning('Connection to %s lost during a call (%s); '
                            'reconnecting to retry it once', self.uri, e)
                self._dead = True
                self.get_connection()
        return fn(*args, **kwargs)

    def close(self):
        """Deregister events and close; a later call reconnects."""
        with self._lock:
            if self._conn is not None:
                self._drop()
            if self._events is not None:
                self._events.put(None)
                self._events = None

    # ---------------------------------------------------------------- events
    def _on_lifecycle(self, _conn, dom, event, detail, _opaque):
        power = event_power_state(event)
        events = self._events
        if power is not None and events is not None:
            events.put((dom.UUIDString(), power))

    def _dispatch(self, events):
        while (item := events.get()) is not None:
            try:
                self._event_callback(*item)
            except Exception:
                LOG.exception('Lifecycle event callback failed for %s', item)

    # --------------------------------------------------------------- helpers
    def lookup(self, uuid):
        """The Guest of an instance; GuestNotFound if libvirt has none."""
        try:
            return Guest(self.get_connection().lookupByUUIDString(uuid))
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise exception.GuestNotFound(instance=uuid)
            raise

    def list_guests(self):
        return [Guest(d) for d in self.get_connection().listAllDomains(0)]

    def define(self, xml):
        return Guest(self.get_connection().defineXML(xml))

    def get_capabilities(self):
        root = ET.fromstring(self.get_connection().getCapabilities())
        arch = root.findtext('host/cpu/arch')
        cpus = sum(int(c.get('num', 0))
                   for c in root.findall('host/topology/cells/cell/cpus'))
        types = frozenset(d.get('type') for d in root.findall(
            "guest/arch[@name='%s']/domain" % arch))
        return Capabilities(arch, cpus or self.node_info().cpus, types)

    def node_info(self):
        return NodeInfo(*self.get_connection().getInfo()[:8])

    def all_domain_stats(self, stats_flags=0, flags=0):
        """[(Guest, {'state.state': 1, ...})] for every domain, one call."""
        return [(Guest(d), s) for d, s in
                self.get_connection().getAllDomainStats(stats_flags, flags)]
