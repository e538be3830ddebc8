"""Living with message bus outages: one clear line per outage, not one per
reconnection attempt, and heartbeats only from a service that can serve.

* ``quiet_reconnect_logs()``: oslo.messaging logs an ERROR line for every
  reconnection attempt of every connection (a 30 s outage: dozens). A
  filter lets the first line of each kind through and drops its repeats
  until the bus is back (``bus_restored()``) or ``REPEAT_WINDOW`` seconds
  pass, when the next one says how many were dropped.
* ``BusLink``: whether a service is reachable over the bus, checked end to
  end with a call to its own server (``topic.host``) that its own probe
  endpoint (``server_state.Probe``, as at start-up) answers. Losing and
  regaining the link is logged once each; ``heartbeat_while_linked`` makes
  a heartbeat depend on it, so a service cut off from the bus is shown
  down and is up again once it serves its queue.
* ``retry_undeliverable``: a mandatory cast the broker could not route
  (the queue of its server is not there yet: the broker restarted and the
  server has not reconnected) is sent again with bounded, jittered
  backoff instead of being lost.
"""
import logging
import re
import threading
import time

import oslo_messaging as messaging
import tenacity
from oslo_config import cfg

from agent import server_state

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


class BusLink:
    """Is ``server`` (an RPC server of this process) reachable through the
    broker? ``check()`` sends it a call and waits for its own answer."""

    def __init__(self, name, server, timeout=None):
        from agent import rpc
        self.name = name
        self.queue = '%s.%s' % (server.target.topic, server.target.server)
        self.token = server_state.probe_token(server)
        timeout = timeout or max(1, min(CONF.rpc_call_timeout,
                                        CONF.service_down_time // 2))
        target = messaging.Target(
            topic=server.target.topic, server=server.target.server,
            namespace=server_state.PROBE_NAMESPACE, version='1.0')
        # never a call that waits until the broker is back
        self._client = rpc.get_client(target, timeout, fail_fast=True)
        self._target = target
        self.up = True                  # as far as we know at start
        self.lost_at = None

    def check(self):
        from agent import rpc
        try:
            ok = rpc.probe_call(self._client, self._target) == self.token
            error = None if ok else 'another process answered'
        except BUS_ERRORS as e:
            ok, error = False, error_text(e)
        self._record(ok, error)
        return ok

    def _record(self, ok, error):
        if ok and not self.up:
            LOG.info('%s: message bus back after %.1f s, serving %s again',
                     self.name, time.monotonic() - self.lost_at, self.queue)
            bus_restored()
        elif not ok and self.up:
            self.lost_at = time.monotonic()
            LOG.warning('%s: cannot reach its own queue %s through the '
                        'message bus (%s); no heartbeat until it is back, '
                        'so it shows down after service_down_time',
                        self.name, self.queue, error)
        self.up = ok


def heartbeat_while_linked(link, beat):
    """A periodic task: ``beat()`` only when ``link.check()`` passes."""
    def task():
        if link.check():
            beat()
    return task


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
