"""What a service's RPC servers are doing: consuming yet (wait_consuming),
handling which messages (InFlight), and closing a stopped one's consuming
connection at once (close_listener). Used by agent/daemon/service.py; these reach
into oslo.messaging where it has no public hook, each says where.
"""
import itertools
import threading
import time
import uuid

import oslo_messaging as messaging

from agent.rpc import serializer

PROBE_NAMESPACE = 'hvagent.service'


class InFlight:
    """The RPC messages a service is handling right now, to say which ones
    a shutdown is waiting for (or gave up on)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._ops = {}
        self._ids = itertools.count()

    def watch(self, server):
        """Count every message ``server`` dispatches. oslo.messaging has no
        hook for this, so the dispatcher's dispatch() is wrapped."""
        dispatcher = server.dispatcher
        dispatch = dispatcher.dispatch

        def tracked(incoming):
            key = self.begin(getattr(incoming, 'message', None) or {})
            try:
                return dispatch(incoming)
            finally:
                self.end(key)
        dispatcher.dispatch = tracked

    def begin(self, message):
        with self._lock:
            key = next(self._ids)
            self._ops[key] = (message.get('method', '?'),
                              message.get('args') or {}, self._clock())
        return key

    def end(self, key):
        with self._lock:
            self._ops.pop(key, None)

    def __len__(self):
        with self._lock:
            return len(self._ops)

    def describe(self):
        """['build_and_run_instance(instance_uuid=...) for 3.2 s', ...]"""
        now = self._clock()
        with self._lock:
            ops = sorted(self._ops.values(), key=lambda op: op[2])
        return ['%s(%s) for %.1f s' % (
            method, ', '.join('%s=%s' % (k, str(v)[:60])
                              for k, v in sorted(args.items())), now - t0)
            for method, args, t0 in ops]


class Probe:
    """An endpoint in its own namespace, out of reach of the API clients:
    answers with this process's token (another process serving the same
    queue answers with its own)."""
    target = messaging.Target(namespace=PROBE_NAMESPACE, version='1.0')

    def __init__(self, token):
        self.token = token

    def probe(self, ctxt):
        return self.token
    probe.rpc_exposed = True    # agent.rpc.checks.ExposedOnlyPolicy


def probe_token(server):
    """The token ``server``'s probe answers with; the probe endpoint is
    added on first use. One per server: the dispatcher takes the first
    endpoint of a namespace, so a second probe would never answer."""
    for endpoint in server.dispatcher.endpoints:
        if isinstance(endpoint, Probe):
            return endpoint.token
    probe = Probe(uuid.uuid4().hex)
    server.dispatcher.endpoints.append(probe)
    return probe.token


def wait_consuming(server, timeout):
    """Return once ``server`` (started) consumes its queue: a call sent to
    its own topic.server came back through the broker. False if it did not
    within ``timeout`` seconds (a backlog ahead of the probe, a slow
    broker): the queue is declared, so nothing is lost, only late."""
    token = probe_token(server)
    target = messaging.Target(topic=server.target.topic,
                              server=server.target.server,
                              namespace=PROBE_NAMESPACE, version='1.0')
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        client = messaging.get_rpc_client(
            server.transport, target, serializer=serializer.Serializer(),
            timeout=max(1, min(10, int(left))))
        try:
            if serializer.probe_call(client, target) == token:
                return True
        except messaging.MessagingTimeout:
            pass


def close_listener(server):
    """Close a stopped server's consuming connection now, not after its
    handlers finish. server.stop() only ends the poll thread: the broker
    keeps delivering to the still-open channel, and the driver's heartbeat
    thread (drain_events every ~15 s) would accept, acknowledge and then
    never dispatch what arrives during a long drain: a lost cast. Closed,
    the broker keeps those messages queued for the next start. Safe for
    RPC servers: requests are acknowledged on receipt and replies go out
    on pooled connections; wait() closing it again is a no-op."""
    listener = getattr(server, 'listener', None)
    if listener is not None:
        listener.cleanup()
