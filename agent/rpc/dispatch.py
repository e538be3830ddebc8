"""The RPC dispatcher: oslo.messaging's, behind a check of each message.

oslo's RPCDispatcher trusts the shape of what it is handed: a method name
that is not a string, ``args`` that is not a mapping (or has keys that are
not strings), a version that is not "X.Y" or a call timeout that is not a
number make its own code raise TypeError or AttributeError, logged with a
traceback and answered with a builtin exception that says nothing about the
message; an unknown method is logged with a traceback too. Here every
message is checked before oslo looks at it, and a malformed one -- or one
naming a method no endpoint exposes -- is answered with InvalidRPCPayload
and one log line, the same way ``checks.expects`` answers malformed arguments;
a version no endpoint serves still gets oslo's UnsupportedVersion, logged
in one line too (a version that only endpoints without the method serve
is an unknown method). A well-formed message is then checked for its signature
(``Trust``, see bus_auth): unsigned, badly signed, or from a principal the
server does not serve, it is answered with BusNotTrusted, in one line.
"""
import logging
import re

from oslo_messaging.rpc import dispatcher as oslo_dispatcher

from agent import context as context_mod
from agent import exception
from agent.security import bus_auth

LOG = logging.getLogger(__name__)

MAX_METHOD = 255
#: names every endpoint method has before its RPC arguments
RESERVED_ARGS = frozenset(('self', 'ctxt'))
_VERSION = re.compile(r'^\d{1,6}(\.\d{1,6}){1,2}$')


def check_message(message, client_timeout, is_exposed):
    """Raise InvalidRPCPayload if ``message`` (the decoded RPC message) is
    not one our endpoints could serve; ``is_exposed(method, namespace)``
    says whether an endpoint in that namespace offers that method."""
    def bad(reason):
        return exception.InvalidRPCPayload(
            'Malformed RPC message: %s' % reason)

    if not isinstance(message, dict):
        raise bad('not a mapping')
    method = message.get('method')
    if not isinstance(method, str) or not method:
        raise bad('method must be a non-empty string, got %s'
                  % _show(method))
    if len(method) > MAX_METHOD or not method.isidentifier():
        raise bad('method %s is not a method name' % _show(method))
    args = message.get('args', {})
    if not isinstance(args, dict):
        raise bad('args of %s must be a mapping, got %s'
                  % (method, type(args).__name__))
    if not all(isinstance(k, str) and k.isidentifier() for k in args):
        raise bad('args of %s must be named by identifiers' % method)
    taken = sorted(RESERVED_ARGS.intersection(args))
    if taken:   # an endpoint takes these positionally: a TypeError else
        raise bad('args of %s may not be named %s'
                  % (method, ', '.join(taken)))
    version = message.get('version', '1.0')
    if not isinstance(version, str) or not _VERSION.match(version):
        raise bad('version of %s must be "X.Y", got %s'
                  % (method, _show(version)))
    namespace = message.get('namespace')
    if namespace is not None and not isinstance(namespace, str):
        raise bad('namespace of %s must be a string' % method)
    if client_timeout is not None and (
            isinstance(client_timeout, bool) or
            not isinstance(client_timeout, (int, float)) or
            not 0 < client_timeout < 1e9):
        raise bad('call timeout of %s must be a positive number, got %s'
                  % (method, _show(client_timeout)))
    if not is_exposed(method, namespace):
        raise exception.InvalidRPCPayload('Unknown RPC method %s' % method)


def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


class Trust:
    """Whom a server acts for: its keys, its audience, its target."""

    def __init__(self, keyring, audience, target):
        self.keyring, self.audience = keyring, audience
        self.topic, self.server = target.topic, target.server

    def check(self, incoming):
        """Verify ``incoming``'s signature; put the checked principal in
        its context (where RequestContext.from_dict finds it) and drop
        the signature. BusNotTrusted if it fails."""
        ctxt = incoming.ctxt if isinstance(incoming.ctxt, dict) else {}
        ctxt.pop(context_mod.PRINCIPAL, None)   # never the sender's word
        message = incoming.message
        principal = bus_auth.verify(
            self.keyring, self.audience, self.topic, self.server,
            message['method'], message.get('args', {}), ctxt)
        ctxt.pop(bus_auth.FIELD, None)
        ctxt[context_mod.PRINCIPAL] = principal
        incoming.ctxt = ctxt


class CheckingDispatcher(oslo_dispatcher.RPCDispatcher):
    """RPCDispatcher that refuses malformed and untrusted messages with a
    clear error."""

    def __init__(self, endpoints, serializer, access_policy, trust=None):
        super().__init__(endpoints, serializer, access_policy)
        self.trust = trust

    def _is_exposed(self, method, namespace):
        for endpoint in self.endpoints:
            target = getattr(endpoint, 'target', None) or \
                self._default_target
            if namespace in target.accepted_namespaces and \
                    hasattr(endpoint, method) and \
                    self.access_policy.is_allowed(endpoint, method):
                return True
        return False

    def dispatch(self, incoming):
        try:
            check_message(incoming.message, incoming.client_timeout,
                          self._is_exposed)
            if self.trust is not None:
                self.trust.check(incoming)
        except (exception.InvalidRPCPayload, exception.BusNotTrusted) as e:
            LOG.error('Rejected RPC message: %s', e)
            # answered to the caller as this exception, without a traceback
            raise oslo_dispatcher.ExpectedException() from None
        try:
            return super().dispatch(incoming)
        except oslo_dispatcher.UnsupportedVersion as e:
            # a version no endpoint serves: the caller's problem, not ours
            LOG.error('Rejected RPC message: %s', e)
            raise oslo_dispatcher.ExpectedException() from None
        except oslo_dispatcher.NoSuchMethod:
            # only endpoints without the method serve the version asked (a
            # method of 1.2 asked at 1.9, where another endpoint is at 1.9)
            self._refuse(exception.InvalidRPCPayload(
                'Unknown RPC method %s at version %s' % (
                    incoming.message['method'],
                    incoming.message.get('version', '1.0'))))

    @staticmethod
    def _refuse(error):
        """Answer ``error`` to the caller, in one log line."""
        try:
            raise error
        except exception.InvalidRPCPayload as e:
            LOG.error('Rejected RPC message: %s', e)
            raise oslo_dispatcher.ExpectedException() from None
