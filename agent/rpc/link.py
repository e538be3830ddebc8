"""Whether a service is reachable over the message bus, end to end.

``BusLink`` checks it with a call to the service's own server
(``topic.host``) that its own probe endpoint (``server_state.Probe``, as
at start-up) answers, or that of another process of the same service on
this host (they share the queue and the heartbeat's service row). Losing
and regaining the link is logged once each; ``heartbeat_while_linked``
makes a heartbeat depend on it, so a service cut off from the bus is
shown down and is up again once it serves its queue.
"""
import logging
import time

import oslo_messaging as messaging
from oslo_config import cfg

from agent.rpc import outage
from agent.rpc import serializer
from agent.rpc import server_state
from agent.rpc import transport

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


class BusLink:
    """Is ``server`` (an RPC server of this process) reachable through the
    broker? ``check()`` sends it a call and waits for its own answer."""

    def __init__(self, name, server, timeout=None):
        self.name = name
        self.queue = '%s.%s' % (server.target.topic, server.target.server)
        self.token = server_state.probe_token(server)
        timeout = timeout or max(1, min(CONF.rpc_call_timeout,
                                        CONF.service_down_time // 2))
        target = messaging.Target(
            topic=server.target.topic, server=server.target.server,
            namespace=server_state.PROBE_NAMESPACE, version='1.0')
        # never a call that waits until the broker is back
        self._client = transport.get_client(target, timeout, fail_fast=True)
        self._target = target
        self.up = True                  # as far as we know at start
        self.lost_at = None

    def check(self):
        """True when a server of ``topic.host`` answered: this process's,
        or a sibling's (several conductors or schedulers of one host
        share the queue, and the service row its heartbeat keeps)."""
        try:
            answer = serializer.probe_call(self._client, self._target)
            ok, error = bool(answer), None if answer else 'no probe token'
            if ok and answer != self.token:
                LOG.debug('%s: another process of this host answered on %s',
                          self.name, self.queue)
        except outage.BUS_ERRORS as e:
            ok, error = False, outage.error_text(e)
        self._record(ok, error)
        return ok

    def _record(self, ok, error):
        if ok and not self.up:
            LOG.info('%s: message bus back after %.1f s, serving %s again',
                     self.name, time.monotonic() - self.lost_at, self.queue)
            outage.bus_restored()
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
