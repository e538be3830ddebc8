"""What goes on the wire: wire objects as primitives and back, the
context, and the signature over both (agent.security.bus_auth)."""
import oslo_messaging as messaging

from agent import context as context_mod
from agent import exception
from agent import objects
from agent.security import bus_auth


class Serializer(messaging.NoOpSerializer):
    """Turns wire objects into primitives and back, and carries the context.

    A primitive that fails validation is left as it is: the endpoint's
    ``@expects`` check then rejects it with a clear message.
    """

    def serialize_entity(self, ctxt, entity):
        if isinstance(entity, objects.HVObject):
            return entity.to_primitive()
        if isinstance(entity, (list, tuple)):
            return [self.serialize_entity(ctxt, e) for e in entity]
        if isinstance(entity, dict):
            return {k: self.serialize_entity(ctxt, v)
                    for k, v in entity.items()}
        return entity

    #: nesting deeper than this is left as it is (no wire object is that
    #: deep); ``@expects`` then refuses it instead of a RecursionError
    MAX_DEPTH = 32

    def deserialize_entity(self, ctxt, entity, _depth=0):
        if _depth > self.MAX_DEPTH:
            return entity
        if objects.is_primitive(entity):
            try:
                return objects.HVObject.from_primitive(entity)
            except exception.ObjectValidationError:
                return entity
        if isinstance(entity, list):
            return [self.deserialize_entity(ctxt, e, _depth + 1)
                    for e in entity]
        if isinstance(entity, dict):
            return {k: self.deserialize_entity(ctxt, v, _depth + 1)
                    for k, v in entity.items()}
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return context_mod.RequestContext.from_dict(ctxt)


class SignedContext:
    """A context as it goes on the wire: the sender's context dict with
    its signature (bus_auth.sign) for one message."""

    def __init__(self, wire):
        self.wire = wire

    def to_dict(self):
        return self.wire


def signed(principal, topic, server, ctxt, method, kwargs):
    """(context, arguments) to hand oslo's client for ``method(**kwargs)``
    to ``topic``(.``server``), signed as ``principal``: the arguments as
    the primitives that go on the wire, the context carrying the
    signature over them."""
    serializer = Serializer()
    args = {k: serializer.serialize_entity(ctxt, v)
            for k, v in kwargs.items()}
    wire = bus_auth.sign(bus_auth.keyring(), principal, topic, server,
                         method, args, ctxt.to_dict())
    return SignedContext(wire), args


def probe_call(client, target, method='probe'):
    """Call a probe endpoint of this process's own server ``target``
    (server_state.Probe): signed as a controller, which every process
    that owns a server can (a compute node's key is a controller's key
    for its own queue, see bus_auth.Keyring)."""
    ctxt, args = signed(bus_auth.CONTROL, target.topic, target.server,
                        context_mod.admin_context(), method, {})
    return client.call(ctxt, method, **args)
