"""The in-process ``kombu+memory:////`` transport, woken instead of polling.

kombu's memory transport finds new messages by polling every queue, and
oslo.messaging sets its pause between polls to zero (a test-suite speed-up):
every consumer thread of an all-in-one spins, 108 % CPU measured while idle,
and each RPC call then waits for the GIL behind the spinners. Here an idle
consumer sleeps on an Event registered under each queue it consumes, and a
publish sets the Events of that queue's consumers only, so a message wakes
the one thread that will take it, not every consumer in the process.

A woken consumer looks at its queues directly rather than through kombu's
generic round-robin of channels and queues (which asks each queue for a
message and catches Empty from each empty one); the queues are deques,
whose append and popleft are atomic, rather than locked ``queue.Queue``s.

oslo.messaging's listeners poll with a timeout of 1 ms after each message,
doubling it on each empty poll (1, 2, 4... ms) so that acks queued by
worker threads go out soon; on a broker that matters, here an ack is
bookkeeping (RPC requests are even acked in the polling thread). Each
empty poll costs a wakeup and a chain of timeout exceptions through kombu
and oslo: 43 per boot + delete measured, a fifth of its Python calls. So
a wait here that finds nothing lasts at least ``MIN_WAIT``: a message still
wakes its consumer at once; only an empty poll is stretched.

``install()`` makes kombu use this transport for memory:// URLs.
"""
import collections
import socket
import threading
import time
from queue import Empty

import kombu.transport
from kombu.transport import memory

#: the shortest wait of a poll that finds nothing (a timeout of 0 stays 0)
MIN_WAIT = 0.05
_lock = threading.Lock()
_sleepers = {}      # queue name -> set of threading.Event


def _wake(queue):
    with _lock:
        for event in _sleepers.get(queue, ()):
            event.set()


class _Queue(collections.deque):
    """What kombu's memory channel asks of a queue, without locks."""

    def put(self, message):
        self.append(message)

    def get(self, block=False):
        try:
            return self.popleft()
        except IndexError:
            raise Empty() from None

    def qsize(self):
        return len(self)

    def empty(self):
        return not self

    @property
    def queue(self):            # memory.Channel._purge clears q.queue
        return self


class Channel(memory.Channel):
    def _queue_for(self, queue):
        q = self.queues.get(queue)
        if q is None:
            q = self.queues.setdefault(queue, _Queue())
        return q

    def _new_queue(self, queue, **kwargs):
        self._queue_for(queue)

    def _put(self, queue, message, **kwargs):
        self._queue_for(queue).append(message)
        _wake(queue)

    def _put_fanout(self, exchange, message, routing_key=None, **kwargs):
        for queue in self._lookup(exchange, routing_key):
            self._put(queue, message)


class Transport(memory.Transport):
    Channel = Channel

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self._wake = threading.Event()
        self._registered = frozenset()
        self._turn = 0

    def _register(self, queues):
        """Have publishes to ``queues`` (and no others) set our Event."""
        if queues == self._registered:
            return
        with _lock:
            for q in queues - self._registered:
                _sleepers.setdefault(q, set()).add(self._wake)
            for q in self._registered - queues:
                waiting = _sleepers.get(q)
                if waiting is not None:
                    waiting.discard(self._wake)
                    if not waiting:
                        del _sleepers[q]
        self._registered = queues

    def _deliver_one(self):
        """Deliver the first message found in a consumed queue; False if
        they are all empty. The starting queue turns, so none starves."""
        self._turn += 1
        for channel in self.channels:
            if not channel._consumers or not channel.qos.can_consume():
                continue
            names = channel._active_queues
            for i in range(len(names)):
                name = names[(self._turn + i) % len(names)]
                q = channel.queues.get(name)
                if q:
                    try:
                        message = q.get()
                    except Empty:          # taken meanwhile by another
                        continue
                    self._deliver(message, name)
                    return True
        return False

    def drain_events(self, connection, timeout=None):
        if timeout is not None and timeout > 0:
            timeout = max(timeout, MIN_WAIT)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._register(frozenset(
                q for channel in self.channels
                for q in channel._active_queues))
            self._wake.clear()      # before looking: no lost wakeup
            if self._deliver_one():
                return
            left = None if deadline is None \
                else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise socket.timeout()
            self._wake.wait(left)

    def close_connection(self, connection):
        self._register(frozenset())
        super().close_connection(connection)


def install():
    kombu.transport.TRANSPORT_ALIASES['memory'] = __name__ + ':Transport'
