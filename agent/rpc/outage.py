"""Living with message bus outages: one clear line per outage, not one per
reconnection attempt, and no cast lost to a queue that is not there yet.

* ``quiet_reconnect_logs()``: oslo.messaging logs an ERROR line for every
  reconnection attempt of every connection (a 30 s outage: dozens). A
  filter lets the first line of each kind through and drops its repeats
  until the bus is back (``bus_restored()``) or ``REPEAT_WINDOW`` seconds
  pass, when the next one says how many were dropped.
* ``retry_undeliverable``: a mandatory cast the broker could not route
  (the queue of its server is not there yet: the broker restarted and the
  server has not reconnected) is sent again with bounded, jittered
  backoff instead of being lost.
* ``BUS_ERRORS``, ``NOT_THERE``, ``error_text``: what a fail-fast call
  raises when the bus or its peer is away, and how to say it in one line.

The end-to-end check that a service is reachable is ``agent.rpc.link``.
"""
import logging
import re
import threading
import time

import oslo_messaging as messaging
import tenacity
from oslo_config import cfg

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

NOISY_LOGGERS = ('oslo.messaging._drivers.impl_rabbit',
                 'oslo_messaging._drivers.impl_rabbit',
                 'oslo.messaging._drivers.amqpdriver',
                 'oslo_messaging._drivers.amqpdriver')
REPEAT_WINDOW = 300.0
# what a fail-fast call raises when the bus is away or the queue it is sent
# to has no consumer yet (after a broker restart, until it reconnects)
BUS_ERRORS = (messaging.MessagingException, messaging.MessageUndeliverable)
# what a fail-fast call to a service that is not (yet) there raises: no
# queue takes it, nobody answers, or the broker itself is away; an answer,
# even a refusal (RemoteError), means the service is there
NOT_THERE = (messaging.MessageUndeliverable, messaging.MessagingTimeout,
             messaging.MessageDeliveryFailure)


def error_text(e):
    if isinstance(e, messaging.MessageUndeliverable):
        return ('MessageUndeliverable: no queue %s (its server has not '
                'reconnected yet)' % e.routing_key)
    return '%s: %s' % (type(e).__name__, e)


class RepeatFilter(logging.Filter):
    """Drops a record whose kind (its message template, numbers aside) was
    let through less than ``window`` seconds ago; ``reset()`` forgets."""

    def __init__(self, window=REPEAT_WINDOW, clock=time.monotonic):
        super().__init__()
        self.window, self._clock = window, clock
        self._lock = threading.Lock()
        self._seen = {}          # kind -> [time let through, dropped since]

    @staticmethod
    def kind(record):
        return (record.name, record.levelno,
                re.sub(r'\d+', '#', str(record.msg))[:48])

    def filter(self, record):
        if record.levelno < logging.WARNING:
            return True
        key, now = self.kind(record), self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen and now - seen[0] < self.window:
                seen[1] += 1
                return False
            dropped = seen[1] if seen else 0
            self._seen[key] = [now, 0]
        if dropped:
            record.msg = '%s (%d like it in the last %d s not logged)' % (
                record.getMessage(), dropped, now - seen[0])
            record.args = None
        return True

    def reset(self):
        with self._lock:
            self._seen.clear()


_FILTER = RepeatFilter()


def quiet_reconnect_logs():
    """Install the repeat filter on oslo.messaging's driver loggers
    (idempotent; filters outlive logging reconfiguration)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def bus_restored():
    """The bus is back: the next outage's first lines are logged again."""
    _FILTER.reset()



def retry_undeliverable(send, method, queue):
    """``send()``, again while the broker returns the message unrouted
    (MessageUndeliverable: no queue ``queue`` yet), with random waits up
    to 2 s, for at most rpc_call_timeout seconds; one line per attempt.
    """
    def log_attempt(state):
        LOG.warning('%s to %s: no such queue yet (its server is reconnecting '
                    'after a broker restart, or down); attempt %d, next in '
                    '%.1f s', method, queue, state.attempt_number,
                    state.next_action.sleep)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(
            messaging.MessageUndeliverable),
        wait=tenacity.wait_random_exponential(multiplier=0.25, max=2),
        stop=tenacity.stop_after_delay(CONF.rpc_call_timeout),
        before_sleep=log_attempt, reraise=True)
    try:
        return retrying(send)
    except messaging.MessageUndeliverable:
        LOG.error('%s to %s: no server took it within %ss (rpc_call_timeout)',
                  method, queue, CONF.rpc_call_timeout)
        raise
