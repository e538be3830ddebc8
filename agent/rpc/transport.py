"""The process-wide oslo.messaging transports and RPC clients on them."""
import logging
import uuid

import oslo_messaging as messaging
from kombu.transport import virtual as kombu_virtual
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts
from oslo_messaging._drivers import amqpdriver
from oslo_messaging._drivers import common as driver_common

from agent import conf as _conf  # noqa: F401 (bus_idle_poll)
from agent import exception
from agent.rpc import memory_transport
from agent.rpc import outage
from agent.rpc import serializer
from agent.security import bus_tls

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

ALLOWED_EXMODS = [exception.__name__]
_TRANSPORT = None
_FAIL_FAST = None       # see get_fail_fast_transport
_URL = None

# transport_url, rpc_response_timeout... readable before the first transport
CONF.register_opts(dict(messaging_opts.list_opts())[None])


def init(conf=CONF, url=None):
    """Create the process-wide transport (idempotent). With RabbitMQ over
    TLS, a broker that refuses the handshake raises TLSConfigError
    (bus_tls) instead of a transport that would retry for ever."""
    global _TRANSPORT, _URL
    if _TRANSPORT is None:
        bus_tls.check(conf, url)
        memory_transport.install()
        outage.quiet_reconnect_logs()
        _bound_idle_poll(conf.bus_idle_poll)
        _URL = url
        _TRANSPORT = _name_reply_queues(messaging.get_rpc_transport(
            conf, url=url, allowed_remote_exmods=ALLOWED_EXMODS))
        if (url or conf.transport_url or '').startswith('kombu+memory'):
            # the in-process broker has no AMQP heartbeats; don't ask for them
            conf.set_override('heartbeat_timeout_threshold', 0,
                              group='oslo_messaging_rabbit')
    return _TRANSPORT


def _bound_idle_poll(seconds):
    """Cap the wait of oslo.messaging's idle listeners (its RPC servers'
    and its reply waiter's): they block on the broker's socket for up to
    ACK_REQUEUE_EVERY_SECONDS_MAX and only then see that they were asked
    to stop, so that constant is how long every stop of a service, and the
    transport's cleanup, waits."""
    if not hasattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MAX'):
        raise RuntimeError('oslo.messaging has no ACK_REQUEUE_EVERY_SECONDS'
                           '_MAX any more: see agent.rpc.transport')
    amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MAX = seconds


#: what stops before the transports do (servers a library started)
_BEFORE_CLEANUP = []


def before_cleanup(func):
    """Have ``cleanup()`` call ``func`` first (once)."""
    _BEFORE_CLEANUP.append(func)


def cleanup():
    global _TRANSPORT, _FAIL_FAST
    while _BEFORE_CLEANUP:
        _BEFORE_CLEANUP.pop()()
    for transport in (_FAIL_FAST, _TRANSPORT):
        if transport is not None:
            transport.cleanup()
    _TRANSPORT = _FAIL_FAST = None


def get_transport():
    if _TRANSPORT is None:
        raise RuntimeError('agent.rpc.init() was not called')
    return _TRANSPORT


def get_client(target, timeout, fail_fast=False, mandatory=False):
    """An RPC client. ``mandatory``: a message no queue takes (its server
    has not reconnected after a broker restart) raises MessageUndeliverable
    at once instead of vanishing (a cast) or timing out (a call).
    ``fail_fast`` (mandatory too): through get_fail_fast_transport with one
    reconnection attempt."""
    options = messaging.TransportOptions(
        at_least_once=mandatory or fail_fast)
    if not fail_fast:
        return messaging.get_rpc_client(
            get_transport(), target, serializer=serializer.Serializer(),
            timeout=timeout, transport_options=options)
    return messaging.get_rpc_client(
        get_fail_fast_transport(), target, serializer=serializer.Serializer(),
        timeout=timeout, retry=1, transport_options=options)


def get_fail_fast_transport():
    """A second transport, for callers that retry on their own terms
    (resource reports, bus link checks) and send with ``retry=1``.

    While the broker is away, the shared transport's pooled connections
    reconnect forever from their heartbeat thread, holding the connection's
    lock, so every call on them waits for the broker, whatever its
    ``retry``. This transport's connections are all made by ``retry=1``
    calls: they give up after one attempt and the call fails with
    MessageDeliveryFailure within seconds.
    """
    global _FAIL_FAST
    if _FAIL_FAST is None:
        get_transport()
        _FAIL_FAST = _name_reply_queues(messaging.get_rpc_transport(
            CONF, url=_URL, allowed_remote_exmods=ALLOWED_EXMODS))
    return _FAIL_FAST


#: what a listen_connection's consume() raises when no message came
LISTEN_TIMEOUT = driver_common.Timeout


def listen_connection(topic, callback):
    """A connection of its own, consuming the shared queue ``topic`` on the
    control exchange: oslo.messaging's driver connection (its TLS, hosts,
    failover, heartbeats and queue arguments: quorum queues included), for
    a reader that takes its messages in batches (conductor.report_queue).
    ``callback`` gets each message as a dict (the message oslo sends,
    context keys included) with ``acknowledge()``; ``consume(timeout)``
    waits for the next one (LISTEN_TIMEOUT if none came) and
    reconnects after a broker failure; ``stop_consuming()`` ends a wait
    early. The one place hvagent reaches into oslo's AMQP driver, which
    offers no batch reader for RPC topics."""
    driver = get_transport()._driver
    conn = driver._get_connection(driver_common.PURPOSE_LISTEN)
    conn.declare_topic_consumer(
        exchange_name=driver._get_exchange(messaging.Target(topic=topic)),
        topic=topic, callback=callback)
    return conn


def ack_all(messages):
    """Ack what a listen_connection delivered, one ack per channel (the
    last delivery tag, ``multiple``) instead of one per message. A
    channel that closed meanwhile is skipped: the broker delivers its
    messages again."""
    last = {}
    for message in messages:
        raw = message._raw_message
        if isinstance(raw.channel, kombu_virtual.Channel):
            # kombu's in-process transports ignore ``multiple``
            raw.ack()
        else:
            last[id(raw.channel)] = raw
    for raw in last.values():
        try:
            raw.channel.basic_ack(raw.delivery_tag, multiple=True)
        except Exception as e:
            LOG.debug('not acked (%s): the broker delivers them again', e)


class _ReplyQueueNames:
    """Names a transport's reply queue ``reply_<host>_<32 hex>`` instead of
    oslo's ``reply_<32 hex>``, so a compute node's broker user can be let
    read its own reply queues and no one else's (broker_perms). It takes
    the place of oslo's optional queue manager, whose ``get()`` the
    driver calls for the name (and which is otherwise unused here)."""

    def __init__(self, host):
        self.host = host

    def get(self):
        return '%s_%s' % (self.host, uuid.uuid4().hex)


def _name_reply_queues(transport):
    driver = getattr(transport, '_driver', None)
    if driver is not None and hasattr(driver, '_q_manager'):
        driver._q_manager = _ReplyQueueNames(CONF.host)
    return transport
