"""RPC plumbing: transport, serializer, payload checks and the API classes.

Each API class is the client side of one topic; its docstring keeps the
version history. Bump the minor version for a compatible addition (a new
method or a new optional argument) and record it there.
"""
import functools
import logging
import uuid

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts
from oslo_messaging.rpc import server as rpc_server_mod

from agent import bus
from agent import bus_auth
from agent import bus_tls
from agent import context as context_mod
from agent import exception
from agent import memory_transport
from agent import objects
from agent import rpc_dispatch
from agent.metrics import registry as metrics_registry

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

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
        bus.quiet_reconnect_logs()
        _URL = url
        _TRANSPORT = _name_reply_queues(messaging.get_rpc_transport(
            conf, url=url, allowed_remote_exmods=ALLOWED_EXMODS))
        if (url or conf.transport_url or '').startswith('kombu+memory'):
            # the in-process broker has no AMQP heartbeats; don't ask for them
            conf.set_override('heartbeat_timeout_threshold', 0,
                              group='oslo_messaging_rabbit')
    return _TRANSPORT


def cleanup():
    global _TRANSPORT, _FAIL_FAST
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
            get_transport(), target, serializer=Serializer(),
            timeout=timeout, transport_options=options)
    return messaging.get_rpc_client(
        get_fail_fast_transport(), target, serializer=Serializer(),
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


def get_server(topic, server, endpoints, audience=bus_auth.CONTROLLERS):
    """An RPC server for ``topic``.``server`` that acts only on messages
    signed by a principal in ``audience`` (see bus_auth)."""
    target = messaging.Target(topic=topic, server=server)
    # oslo's get_rpc_server, with a dispatcher that checks each message:
    # its shape, then who signed it
    dispatcher = rpc_dispatch.CheckingDispatcher(
        endpoints, Serializer(), ExposedOnlyPolicy,
        trust=rpc_dispatch.Trust(bus_auth.keyring(), audience, target))
    rpc_server = rpc_server_mod.RPCServer(get_transport(), target, dispatcher,
                                          'threading')
    rpc_server.target = target   # oslo keeps it private; service.py reads it
    return rpc_server


class _Client:
    TOPIC = None
    VERSION = '1.0'
    MANDATORY = False       # see get_client

    def __init__(self, timeout=None, fail_fast=False,
                 principal=bus_auth.CONTROL):
        """Calls and casts wait for an unreachable broker however long it
        takes (oslo.messaging's default); with ``fail_fast`` they fail with
        MessageDeliveryFailure within seconds instead, for callers that
        retry on their own terms (see get_fail_fast_transport). Every
        message is signed as ``principal``: a compute agent's clients
        pass bus_auth.compute_principal(host)."""
        self.principal = principal
        self._options = (timeout or CONF.rpc_call_timeout, fail_fast,
                         self.MANDATORY)
        self._clients = {}

    def _client(self, topic):
        client = self._clients.get(topic)
        if client is None:
            client = self._clients[topic] = get_client(
                messaging.Target(topic=topic, version=self.VERSION),
                *self._options)
        return client

    def _send(self, topic, version, server, ctxt, method, kwargs):
        """(prepared oslo client, signed context, wire arguments)."""
        prepare = {k: v for k, v in (('server', server),
                                     ('version', version)) if v}
        client = self._client(topic)
        cctxt = client.prepare(**prepare) if prepare else client
        ctxt, args = signed(self.principal, topic, server, ctxt, method,
                            kwargs)
        return cctxt, ctxt, args

    def _call(self, ctxt, method, server=None, version=None, topic=None,
              **kwargs):
        cctxt, ctxt, args = self._send(topic or self.TOPIC, version, server,
                                       ctxt, method, kwargs)
        return cctxt.call(ctxt, method, **args)

    def _cast(self, ctxt, method, server=None, **kwargs):
        self._cast_at(None, ctxt, method, server, **kwargs)

    def _cast_at(self, version, ctxt, method, server=None, **kwargs):
        cctxt, ctxt, args = self._send(self.TOPIC, version, server, ctxt,
                                       method, kwargs)
        bus.retry_undeliverable(
            functools.partial(cctxt.cast, ctxt, method, **args), method,
            '%s.%s' % (self.TOPIC, server) if server else self.TOPIC)


class ComputeAPI(_Client):
    """Client side of topic ``compute``; every message goes to one host.

    Version history:
      1.0 - build_and_run_instance, reboot_instance, stop_instance,
            start_instance, pause_instance, unpause_instance,
            terminate_instance, attach_volume, detach_volume (casts) and
            get_console_output (call)
      1.1 - isolate_instance, release_instance (casts; sent at 1.1)
      1.2 - refresh_networking (cast; sent at 1.2): rewire this host's
            ports from the conductor's view (a floating IP changed)

    Mandatory: a cast sent while compute.<host> does not exist (the broker
    restarted and the agent has not reconnected yet) is sent again until
    the agent's queue takes it (bus.retry_undeliverable), not lost.
    """
    TOPIC = 'compute'
    MANDATORY = True

    def build_and_run_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'build_and_run_instance', host,
                   instance_uuid=instance_uuid)

    def reboot_instance(self, ctxt, host, instance_uuid, reboot_type):
        self._cast(ctxt, 'reboot_instance', host,
                   instance_uuid=instance_uuid, reboot_type=reboot_type)

    def stop_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'stop_instance', host, instance_uuid=instance_uuid)

    def start_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'start_instance', host, instance_uuid=instance_uuid)

    def pause_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'pause_instance', host, instance_uuid=instance_uuid)

    def unpause_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'unpause_instance', host,
                   instance_uuid=instance_uuid)

    def terminate_instance(self, ctxt, host, instance_uuid):
        self._cast(ctxt, 'terminate_instance', host,
                   instance_uuid=instance_uuid)

    def isolate_instance(self, ctxt, host, instance_uuid):
        self._cast_at('1.1', ctxt, 'isolate_instance', host,
                      instance_uuid=instance_uuid)

    def release_instance(self, ctxt, host, instance_uuid):
        self._cast_at('1.1', ctxt, 'release_instance', host,
                      instance_uuid=instance_uuid)

    def refresh_networking(self, ctxt, host):
        self._cast_at('1.2', ctxt, 'refresh_networking', host)

    def attach_volume(self, ctxt, host, instance_uuid, volume_id):
        self._cast(ctxt, 'attach_volume', host, instance_uuid=instance_uuid,
                   volume_id=volume_id)

    def detach_volume(self, ctxt, host, instance_uuid, volume_id):
        self._cast(ctxt, 'detach_volume', host, instance_uuid=instance_uuid,
                   volume_id=volume_id)

    def get_console_output(self, ctxt, host, instance_uuid, tail_length):
        return self._call(ctxt, 'get_console_output', host,
                          instance_uuid=instance_uuid, tail_length=tail_length)


class SchedulerAPI(_Client):
    """Client side of topic ``scheduler``.

    Version history:
      1.0 - select_destination (call): place one RequestSpec, claim it in
            the database, return the host name
    """
    TOPIC = 'scheduler'

    def select_destination(self, ctxt, spec):
        return self._call(ctxt, 'select_destination', spec=spec)


class ConductorAPI(_Client):
    """Client side of the conductor, whose methods are all calls, served
    on three topics by audience (each its own queue, reachable only by
    the broker users that need it, and each server acting only for the
    principals it admits, see bus_auth):

    * ``conductor``: what compute agents need (AGENT_METHODS), admitted
      for controllers and compute nodes; a compute node only for the
      instances and ports of its own host;
    * ``conductor_api``: what hvagent-api, hvctl and the operators ask
      (boot, lifecycle, listings, networks, images...), controllers only;
    * ``identity``: projects, users, roles, tokens, controllers only.

    Version history:
      1.0 - agent side: instance_get, instances_get_by_host, instance_update,
            instance_destroy, instance_fault_create, action_event_start,
            action_event_finish, block_device_update, compute_node_update,
            service_heartbeat;
            user side: boot_instance, instance_list, instance_show,
            instance_action, console_output, flavor_list, host_list,
            action_list
      1.1 - agent side: operation_start, operation_finish (an operation's
            checks, state changes, fault and event in two calls, not five);
            user side: instance_wait (a long poll on an instance's states);
            networking: network_create/list/delete, port_list,
            secgroup_create/rule_add/list (users), ports_bind,
            ports_get_by_host, ports_set_status (agents); boot_instance
            takes security_groups
      1.2 - for hvagent-api (sent at 1.2, the older methods still at 1.1):
            identity: project_create/show/list, user_create/list,
            role_assign, auth_info, token_check, token_revoke, bootstrap;
            instance_page (project/user scoped, limit + marker),
            metadata_set; keypair_create/list/show/delete;
            quota_show/quota_set; boot_instance and secgroup_create check
            the project's quota (QuotaExceeded)
      1.3 - instance_wait takes ``until`` (vm_states): it returns once the
            instance settles in one of them, not at every state on the way
            (sent at 1.3 only with ``until``)
      1.4 - for hvagent-api (sent at 1.4): image_create/list/show/
            activate/delete; volume_create/list/show/delete
      1.5 - instance_action's actions ``isolate`` and ``release`` (itsec's
            quarantine; sent at 1.5 only for those)
      1.6 - floating IPs (sent at 1.6): floating_ip_create/list/show/
            associate/disassociate/delete; network_create takes
            ``external`` (sent at 1.6 only when true)
      1.7 - fixed IP reservations (sent at 1.7): fixed_ip_create/list/show/
            delete; boot_instance takes ``fixed_ips`` (reserved ports to
            boot on; sent at 1.7 only when given)
      (topics) - the same methods and versions, split over the topics
            ``conductor``, ``conductor_api`` and ``identity`` by audience,
            every message signed (bus_auth). Controllers must be upgraded
            together: an older hvagent-api sends user methods to
            ``conductor``, where they are now unknown; compute agents keep
            sending to ``conductor``.
      1.8 - accounts, on ``identity`` (sent at 1.8): authenticate (the
            conductor checks the password; auth_info, which answered the
            hash, is gone), password_change, user_update; user_create and
            bootstrap take ``password`` (hashed by the conductor),
            token_check takes ``issued_at`` (sent at 1.8 with those)
      1.9 - tenant isolation on the network (sent at 1.9): secgroup_delete,
            secgroup_rule_delete, server_secgroup_add/remove, network_set
            (share; admins), port_update (port security; admins);
            secgroup_list takes ``all_projects`` (sent at 1.9 only when
            true)
      1.10 - agent side: image_grant (a short-lived grant to read one
            instance's images from hvagent-api; no user's token travels
            on the bus any more)
    """
    TOPIC = 'conductor'
    VERSION = '1.1'

    def __getattr__(self, method):
        # Every conductor method is a call with keyword arguments only; the
        # server side checks them (see @expects), so the client stays thin.
        if method.startswith('_') or method not in TOPIC_OF:
            raise AttributeError(method)
        return functools.partial(self._call_method, method)

    def _call_method(self, method, ctxt, **kwargs):
        topic = TOPIC_OF[method]
        if method == 'boot_instance' and not kwargs.get('fixed_ips'):
            kwargs.pop('fixed_ips', None)   # none: a 1.1 conductor's call
        return self._call(ctxt, method, version=_version(method, kwargs),
                          topic=topic, **kwargs)


def _version(method, kwargs):
    """The version ``method(**kwargs)`` is sent at: the oldest that has
    what it uses (see ConductorAPI's history)."""
    if method == 'image_grant':
        return '1.10'
    if method in CONDUCTOR_METHODS_ID_1_8 or kwargs.get('password') or \
            'issued_at' in kwargs:
        return '1.8'
    if method == 'instance_wait' and kwargs.get('until'):
        return '1.3'
    if method == 'instance_action' and \
            kwargs.get('action') in ISOLATION_ACTIONS:
        return '1.5'
    if method == 'network_create' and kwargs.get('external'):
        return '1.6'
    if method == 'boot_instance' and kwargs.get('fixed_ips'):
        return '1.7'
    if method == 'secgroup_list' and kwargs.get('all_projects'):
        return '1.9'
    for version, methods in (('1.9', CONDUCTOR_METHODS_NET_1_9),
                             ('1.7', CONDUCTOR_METHODS_1_7),
                             ('1.6', CONDUCTOR_METHODS_1_6),
                             ('1.4', CONDUCTOR_METHODS_1_4),
                             ('1.2', CONDUCTOR_METHODS_1_2)):
        if method in methods:
            return version
    return None


#: what compute agents call, on topic ``conductor``
AGENT_METHODS = frozenset((
    'instance_get', 'instances_get_by_host', 'instance_update',
    'instance_destroy', 'instance_fault_create', 'action_event_start',
    'action_event_finish', 'operation_start', 'operation_finish',
    'block_device_update', 'compute_node_update', 'service_heartbeat',
    'ports_bind', 'ports_get_by_host', 'ports_set_status',
    'image_grant'))
#: identity, on topic ``identity``
IDENTITY_METHODS = frozenset((
    'project_create', 'project_show', 'project_list', 'user_create',
    'user_list', 'role_assign', 'token_check', 'token_revoke',
    'bootstrap'))
CONDUCTOR_METHODS = frozenset((
    'boot_instance', 'instance_list', 'instance_show', 'instance_action',
    'instance_wait', 'console_output', 'flavor_list',
    'network_create', 'network_list', 'network_delete', 'port_list',
    'secgroup_create', 'secgroup_rule_add', 'secgroup_list',
    'host_list', 'action_list')) | AGENT_METHODS
CONDUCTOR_METHODS_1_2 = frozenset((
    'instance_page', 'metadata_set', 'keypair_create',
    'keypair_list', 'keypair_show', 'keypair_delete', 'quota_show',
    'quota_set')) | IDENTITY_METHODS
#: instance_action's actions of version 1.5
ISOLATION_ACTIONS = ('isolate', 'release')
CONDUCTOR_METHODS_1_4 = frozenset((
    'image_create', 'image_list', 'image_show', 'image_activate',
    'image_delete', 'volume_create', 'volume_list', 'volume_show',
    'volume_delete'))
CONDUCTOR_METHODS_1_6 = frozenset((
    'floating_ip_create', 'floating_ip_list', 'floating_ip_show',
    'floating_ip_associate', 'floating_ip_disassociate',
    'floating_ip_delete'))
CONDUCTOR_METHODS_1_7 = frozenset((
    'fixed_ip_create', 'fixed_ip_list', 'fixed_ip_show', 'fixed_ip_delete'))
#: accounts (identity, version 1.8)
CONDUCTOR_METHODS_ID_1_8 = frozenset((
    'authenticate', 'password_change', 'user_update'))
CONDUCTOR_METHODS_NET_1_9 = frozenset((
    'secgroup_delete', 'secgroup_rule_delete', 'server_secgroup_add',
    'server_secgroup_remove', 'network_set', 'port_update'))

#: the conductor's topics by audience (see ConductorAPI)
AGENT_TOPIC, API_TOPIC, IDENTITY_TOPIC = \
    'conductor', 'conductor_api', 'identity'
TOPIC_OF = {m: API_TOPIC for m in (
    CONDUCTOR_METHODS | CONDUCTOR_METHODS_1_2 | CONDUCTOR_METHODS_1_4 |
    CONDUCTOR_METHODS_1_6 | CONDUCTOR_METHODS_1_7 |
    CONDUCTOR_METHODS_NET_1_9)}
TOPIC_OF.update({m: AGENT_TOPIC for m in AGENT_METHODS})
TOPIC_OF.update({m: IDENTITY_TOPIC for m in IDENTITY_METHODS})
TOPIC_OF.update({m: IDENTITY_TOPIC for m in CONDUCTOR_METHODS_ID_1_8})
