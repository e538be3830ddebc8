"""The base of every service's RPC client (its ``rpcapi`` module).

A client method names the RPC method and the version it is sent at (the
oldest that has what it uses: see each client's version history); the
base signs it, honours the ``[upgrade_levels]`` cap and sends it.
Arguments left at ``UNSET`` are not sent at all, so a message carries
only what its sender gave (an older server refuses arguments it does not
know).
"""
import functools

import oslo_messaging as messaging
from oslo_config import cfg

from agent import exception
from agent.rpc import outage
from agent.rpc import serializer
from agent.rpc import transport
from agent.security import bus_auth

CONF = cfg.CONF


class _Unset:
    def __repr__(self):
        return 'UNSET'

    def __bool__(self):
        return False


#: the default of a client method's optional arguments: not sent
UNSET = _Unset()


def _tuple(version):
    return tuple(int(part) for part in version.split('.'))


def methods(cls):
    """The public methods a client class sends (its own and those of
    the classes it joins)."""
    return sorted({name for klass in cls.__mro__
                   if issubclass(klass, Client) and klass is not Client
                   for name, value in vars(klass).items()
                   if callable(value) and not name.startswith('_')})


class Client:
    #: the topic of this client's server (a method may name another)
    TOPIC: str = ''
    #: the version of a message that names none
    VERSION = '1.0'
    #: see transport.get_client
    MANDATORY = False
    #: the [upgrade_levels] option that caps this client
    SERVICE = ''

    def __init__(self, timeout=None, fail_fast=False,
                 principal=bus_auth.CONTROL):
        """Calls and casts wait for an unreachable broker however long it
        takes (oslo.messaging's default); with ``fail_fast`` they fail with
        MessageDeliveryFailure within seconds instead, for callers that
        retry on their own terms (see transport.get_fail_fast_transport).
        Every message is signed as ``principal``: a compute agent's clients
        pass bus_auth.compute_principal(host)."""
        self.principal = principal
        self._options = (timeout or CONF.rpc_call_timeout, fail_fast,
                         self.MANDATORY)
        self._clients = {}

    def can_send_version(self, version):
        """Whether [upgrade_levels] lets this node send ``version``."""
        cap = CONF.upgrade_levels.get(self.SERVICE) if self.SERVICE else None
        return cap is None or _tuple(version) <= _tuple(cap)

    def _client(self, topic):
        client = self._clients.get(topic)
        if client is None:
            client = self._clients[topic] = transport.get_client(
                messaging.Target(topic=topic, version=self.VERSION),
                *self._options)
        return client

    def _send(self, topic, version, server, ctxt, method, kwargs,
              fanout=False):
        """(prepared oslo client, signed context, wire arguments)."""
        if not self.can_send_version(version or self.VERSION):
            raise exception.RPCVersionCapped(
                method=method, service=self.SERVICE,
                version=version or self.VERSION,
                cap=CONF.upgrade_levels.get(self.SERVICE))
        kwargs = {k: v for k, v in kwargs.items() if v is not UNSET}
        prepare = {k: v for k, v in (('server', server),
                                     ('version', version),
                                     ('fanout', fanout)) if v}
        client = self._client(topic)
        cctxt = client.prepare(**prepare) if prepare else client
        ctxt, args = serializer.signed(self.principal, topic, server, ctxt,
                                       method, kwargs)
        return cctxt, ctxt, args

    def _call(self, ctxt, method, server=None, version=None, topic=None,
              **kwargs):
        cctxt, ctxt, args = self._send(topic or self.TOPIC, version, server,
                                       ctxt, method, kwargs)
        return cctxt.call(ctxt, method, **args)

    def _cast(self, ctxt, method, server=None, version=None, topic=None,
              **kwargs):
        topic = topic or self.TOPIC
        cctxt, ctxt, args = self._send(topic, version, server, ctxt,
                                       method, kwargs)
        outage.retry_undeliverable(
            functools.partial(cctxt.cast, ctxt, method, **args), method,
            '%s.%s' % (topic, server) if server else topic)

    def _fanout(self, ctxt, method, version=None, **kwargs):
        """A cast to every server of the topic; dropped (not retried) when
        the broker is away: what it announces is also found by reading."""
        cctxt, ctxt, args = self._send(self.TOPIC, version, None, ctxt,
                                       method, kwargs, fanout=True)
        cctxt.cast(ctxt, method, **args)
