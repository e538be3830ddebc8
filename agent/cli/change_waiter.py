"""Waiting on instances without holding the conductor: the waiting side
of the instance change notices (agent.conductor.changes_rpcapi).

One listener per process, on its own fanout queue, started on first use;
a waiter registers its instance's uuid, reads the instance, and reads it
again only when a notice names it (or every ``RECHECK`` seconds, for a
notice lost to a broker outage or sent by an older conductor). So a
thousand waiting clients hold no conductor thread between their reads.
"""
import collections
import logging
import threading
import time
import uuid as uuidlib

import oslo_messaging as messaging

from agent.conductor import changes_rpcapi
from agent.objects import fields as f
from agent.rpc import checks
from agent.rpc import server_state
from agent.rpc import servers
from agent.rpc import transport

LOG = logging.getLogger(__name__)
#: seconds between re-reads when no notice comes
RECHECK = 5.0
#: seconds a notice is remembered, for waits that begin after it
RECENT = 30.0


class _Endpoint:
    target = messaging.Target(version='1.0')

    def __init__(self, waiter):
        self._waiter = waiter

    @checks.expects(uuids=f.List(f.UUID(), max_items=1000),
                    busy=f.List(f.UUID(), max_items=1000))
    def instances_changed(self, ctxt, uuids, busy):
        self._waiter.wake(uuids, busy)


class ChangeWaiter:
    def __init__(self):
        self._lock = threading.Lock()
        # uuid -> [(event, wakes on busy notices too)]
        self._events: dict[str, list[tuple[threading.Event, bool]]] = {}
        # uuid -> (when its last notice came, busy), oldest first
        self._recent: collections.OrderedDict[str, tuple[float, bool]] = \
            collections.OrderedDict()
        self.server = None

    def start(self, timeout=30):
        self.server = servers.get_server(
            changes_rpcapi.TOPIC, 'waiter-%s' % uuidlib.uuid4().hex,
            [_Endpoint(self)])
        self.server.start()
        if not server_state.wait_consuming(self.server, timeout):
            LOG.warning('The change listener did not answer its probe '
                        'within %ss: waits re-read every %ss', timeout,
                        RECHECK)
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server.wait()
            self.server = None

    def wake(self, uuids, busy=()):
        """A notice: ``uuids`` changed; on those in ``busy`` a task still
        runs (their settle-only watchers sleep on)."""
        now, busy = time.monotonic(), set(busy)
        with self._lock:
            for uuid in uuids:
                running = uuid in busy
                for event, every in self._events.get(uuid, ()):
                    if every or not running:
                        event.set()
                self._recent.pop(uuid, None)
                self._recent[uuid] = (now, running)
            while self._recent and \
                    next(iter(self._recent.values()))[0] < now - RECENT:
                self._recent.popitem(last=False)

    def watch(self, uuid, since=None, every=True):
        """An Event set when ``uuid`` changes -- with ``every`` False only
        when no task runs on it after the change --, already set if such a
        notice came after ``since`` (time.monotonic()); ``unwatch`` it
        after."""
        event = threading.Event()
        with self._lock:
            self._events.setdefault(uuid, []).append((event, every))
            when, running = self._recent.get(uuid, (None, True))
            if since is not None and when is not None and when > since \
                    and (every or not running):
                event.set()
        return event

    def unwatch(self, uuid, event):
        with self._lock:
            events = [e for e in self._events.get(uuid, [])
                      if e[0] is not event]
            if events:
                self._events[uuid] = events
            else:
                self._events.pop(uuid, None)


_WAITER = None
_WAITER_LOCK = threading.Lock()


def get():
    """This process's waiter, started on first use."""
    global _WAITER
    with _WAITER_LOCK:
        if _WAITER is None:
            _WAITER = ChangeWaiter().start()
            transport.before_cleanup(stop)
        return _WAITER


def stop():
    global _WAITER
    with _WAITER_LOCK:
        waiter, _WAITER = _WAITER, None
    if waiter is not None:
        waiter.stop()
