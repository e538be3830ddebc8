"""What an endpoint accepts: its arguments checked against fields before
it runs (``expects``), and only such methods callable over RPC."""
import functools
import logging

import oslo_messaging as messaging

from agent import context as context_mod
from agent import exception
from agent.metrics import registry as metrics_registry

LOG = logging.getLogger(__name__)


def expects(**schema):
    """Check an endpoint's arguments against fields before it runs.

    ``schema`` maps argument names to ``agent.objects.fields`` instances. A
    missing, unknown or invalid argument is logged once, clearly, and raised
    as InvalidRPCPayload, so a malformed message is refused before anything
    is applied. Every HVAgentError an endpoint raises is an expected answer
    (returned to the caller, no traceback in the server's log). Each
    message is counted in hvagent_rpc_messages_total{method, result}.
    """
    def decorator(func):
        count = functools.partial(metrics_registry.RPC_MESSAGES.labels,
                                  func.__name__)

        @functools.wraps(func)
        @messaging.expected_exceptions(exception.HVAgentError)
        def wrapper(self, ctxt, **kwargs):
            try:
                args = _check(schema, kwargs)
            except ValueError as e:
                count('invalid').inc()
                LOG.error('Rejected malformed RPC message %s: %s',
                          func.__name__, e)
                raise exception.InvalidRPCPayload(
                    'Invalid arguments for %s: %s' % (func.__name__, e)
                ) from None
            result = 'exception'
            try:
                if not isinstance(ctxt, context_mod.RequestContext):
                    ctxt = context_mod.RequestContext.from_dict(ctxt)
                answer = func(self, ctxt, **args)
                result = 'success'
                return answer
            except exception.HVAgentError:
                result = 'error'
                raise
            finally:
                count(result).inc()
        wrapper.rpc_exposed = True
        wrapper.rpc_schema = schema     # the clients are pinned to it (tests)
        return wrapper
    return decorator


class ExposedOnlyPolicy(messaging.DefaultRPCAccessPolicy):
    """Only methods declared with ``@expects`` may be called over RPC, so
    helpers such as init_host or periodic tasks are never reachable."""

    def is_allowed(self, endpoint, method):
        return getattr(getattr(endpoint, method, None), 'rpc_exposed', False)


def _check(schema, kwargs):
    unknown = set(kwargs) - set(schema)
    if unknown:
        raise ValueError('unknown argument(s) %s' % ', '.join(sorted(unknown)))
    args = {}
    for name, field in schema.items():
        if name in kwargs:
            value = kwargs[name]
        elif field.default is not None or field.nullable:
            value = field.default() if callable(field.default) \
                else field.default
        else:
            raise ValueError('missing argument %s' % name)
        try:
            args[name] = field.coerce(value)
        except ValueError as e:
            raise ValueError('%s %s' % (name, e)) from None
    return args
