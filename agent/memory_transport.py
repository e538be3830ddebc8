"""The in-process ``kombu+memory:////`` transport, woken instead of polling.

kombu's memory transport finds new messages by polling every queue, and
oslo.messaging sets its pause between polls to zero (a test-suite speed-up):
every consumer thread of an all-in-one spins, 108 % CPU measured while idle,
and each RPC call then waits for the GIL behind the spinners. Here a
publish bumps a counter under a condition variable and idle consumers sleep
on it until something is published (or their timeout ends). ``install()``
makes kombu use this transport for memory:// URLs.
"""
import socket
import threading
import time
from queue import Empty

import kombu.transport
from kombu.transport import memory

_published = threading.Condition()
_generation = 0


def _notify():
    global _generation
    with _published:
        _generation += 1
        _published.notify_all()


class Channel(memory.Channel):
    def _put(self, queue, message, **kwargs):
        super()._put(queue, message, **kwargs)
        _notify()

    def _put_fanout(self, exchange, message, routing_key=None, **kwargs):
        super()._put_fanout(exchange, message, routing_key, **kwargs)
        _notify()


class Transport(memory.Transport):
    Channel = Channel

    def drain_events(self, connection, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with _published:
                seen = _generation
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise socket.timeout()
            with _published:
                if _generation == seen:
                    _published.wait(left)


def install():
    kombu.transport.TRANSPORT_ALIASES['memory'] = __name__ + ':Transport'
