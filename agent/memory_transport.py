"""The in-process ``kombu+memory:////`` transport, woken instead of polling.

kombu's memory transport finds new messages by polling every queue, and
oslo.messaging sets its pause between polls to zero (a test-suite speed-up):
every consumer thread of an all-in-one spins, 108 % CPU measured while idle,
and each RPC call then waits for the GIL behind the spinners. Here an idle
consumer sleeps on an Event registered under each queue it consumes, and a
publish sets the Events of that queue's consumers only, so a message wakes
the one thread that will take it, not every consumer in the process.
``install()`` makes kombu use this transport for memory:// URLs.
"""
import socket
import threading
import time
from queue import Empty

import kombu.transport
from kombu.transport import memory

_lock = threading.Lock()
_sleepers = {}      # queue name -> set of threading.Event


def _wake(queue):
    with _lock:
        for event in _sleepers.get(queue, ()):
            event.set()


class Channel(memory.Channel):
    def _put(self, queue, message, **kwargs):
        super()._put(queue, message, **kwargs)
        _wake(queue)

    def _put_fanout(self, exchange, message, routing_key=None, **kwargs):
        for queue in self._lookup(exchange, routing_key):
            self._put(queue, message)


class Transport(memory.Transport):
    Channel = Channel

    def _consumed_queues(self):
        return {q for channel in self.channels
                for q in channel._active_queues}

    def drain_events(self, connection, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        wake = threading.Event()
        while True:
            queues = self._consumed_queues()
            with _lock:          # registered before polling: no lost wakeup
                for q in queues:
                    _sleepers.setdefault(q, set()).add(wake)
            try:
                try:
                    self.cycle.get(self._deliver, timeout=timeout)
                    return
                except Empty:
                    pass
                left = None if deadline is None \
                    else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise socket.timeout()
                wake.wait(left)
                wake.clear()
            finally:
                with _lock:
                    for q in queues:
                        waiting = _sleepers.get(q)
                        if waiting is not None:
                            waiting.discard(wake)
                            if not waiting:
                                del _sleepers[q]


def install():
    kombu.transport.TRANSPORT_ALIASES['memory'] = __name__ + ':Transport'
