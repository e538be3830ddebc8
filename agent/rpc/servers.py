"""RPC servers: oslo's, with a dispatcher that checks each message."""
import oslo_messaging as messaging
from oslo_messaging.rpc import server as rpc_server_mod

from agent.rpc import checks
from agent.rpc import dispatch
from agent.rpc import serializer
from agent.rpc import transport
from agent.security import bus_auth


def get_server(topic, server, endpoints, audience=bus_auth.CONTROLLERS):
    """An RPC server for ``topic``.``server`` that acts only on messages
    signed by a principal in ``audience`` (see bus_auth)."""
    target = messaging.Target(topic=topic, server=server)
    # oslo's get_rpc_server, with a dispatcher that checks each message:
    # its shape, then who signed it
    dispatcher = dispatch.CheckingDispatcher(
        endpoints, serializer.Serializer(), checks.ExposedOnlyPolicy,
        trust=dispatch.Trust(bus_auth.keyring(), audience, target))
    rpc_server = rpc_server_mod.RPCServer(transport.get_transport(), target, dispatcher,
                                          'threading')
    rpc_server.target = target   # oslo keeps it private; service.py reads it
    return rpc_server
