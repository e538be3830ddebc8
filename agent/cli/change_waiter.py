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

    @checks.expects(uuids=f.List(f.UUID(), max_items=1000))
    def instances_changed(self, ctxt, uuids):
        self._waiter.wake(uuids)


class ChangeWaiter:
    def __init__(self):
        self._lock = threading.Lock()
        self._events: dict[str, list[threading.Event]] = {}
        # uuid -> when its last notice came, oldest first
        self._recent: collections.OrderedDict[str, float] = \
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

    def wake(self, uuids):
        now = time.monotonic()
        with self._lock:
            for uuid in uuids:
                for event in self._events.get(uuid, ()):
                    event.set()
                self._recent.pop(uuid, None)
                self._recent[uuid] = now
            while self._recent and \
                    next(iter(self._recent.values())) < now - RECENT:
                self._recent.popitem(last=False)

    def watch(self, uuid, since=None):
        """An Event set when ``uuid`` changes -- already set if a notice
        came after ``since`` (time.monotonic()) --; ``unwatch`` it after."""
        event = threading.Event()
        with self._lock:
            self._events.setdefault(uuid, []).append(event)
            if since is not None and self._recent.get(uuid, since) > since:
                event.set()
        return event

    def unwatch(self, uuid, event):
        with self._lock:
            events = self._events.get(uuid, [])
            if event in events:
                events.remove(event)
            if not events:
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
