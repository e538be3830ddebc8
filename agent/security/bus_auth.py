"""Who sent an RPC message: signed messages and the principals behind them.

The broker's own permissions (docs/security.md, tools/rabbitmq-permissions)
decide which queues a broker user can reach; this module decides which
messages a server acts on, whatever reached its queue. Every message
carries, in its context, the sender's principal and an HMAC-SHA256 over
the principal, the topic, the method, the arguments and the rest of the
context. There are two kinds of principal:

* ``control``: the controllers (conductor, scheduler, hvagent-api, hvctl),
  which hold the bus master secret (``[bus] secret_file``);
* ``compute:<host>``: one compute node, which holds only its own host key,
  derived from the master secret (``hvctl bus-host-key HOST``).

Keys: a controller signs with the control key, except towards a compute
node's queue (topic ``compute``, server <host>), where it signs with that
host's key, the only key the node has to check it. A compute node signs
everything with its host key. So a compute node can neither speak as a
controller nor as another host, and cannot read or forge what is meant for
another host's queue. Which principals a server accepts is its
``Audience``; endpoints learn the checked principal from
``RequestContext.principal`` (never from what the sender claims).

Replies are not signed: they travel on the caller's own reply queue, which
only the caller can read (broker permissions). Replay is not prevented by a
time window (a cast may wait in a stopped agent's queue for hours): a
signed message can only be replayed by someone who can read the queue it
was sent to, which the broker permissions confine to its receiver.
"""
import functools
import hashlib
import hmac
import logging
import os
import secrets

from oslo_config import cfg
from oslo_serialization import jsonutils

from agent import exception

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

CONTROL = 'control'
COMPUTE_PREFIX = 'compute:'
#: the topic of the compute agents' queues (compute.<host>)
COMPUTE_TOPIC = 'compute'
#: the context key the signature travels under
FIELD = 'bus_auth'
KEY_BYTES = 32
_LABEL = b'hvagent bus v1 '


def compute_principal(host):
    return COMPUTE_PREFIX + host


def host_of(principal: object) -> str | None:
    """The host of a ``compute:<host>`` principal, else None."""
    if isinstance(principal, str) and principal.startswith(COMPUTE_PREFIX):
        return principal[len(COMPUTE_PREFIX):] or None
    return None


def derive(master, purpose):
    """A key for ``purpose`` (bytes) derived from the master secret."""
    return hmac.new(master, _LABEL + purpose, hashlib.sha256).digest()


def host_key(master, host):
    return derive(master, b'compute ' + host.encode())


class Keyring:
    """The keys this process holds: the master secret (a controller), or
    one host's key (a compute node)."""

    def __init__(self, master=None, host=None, key=None):
        self.master, self.host, self._host_key = master, host, key

    @property
    def is_controller(self):
        return self.master is not None

    def key(self, principal, topic, server):
        """The key messages of ``principal`` on ``topic``(.``server``) are
        signed with; BusNotTrusted if this process does not hold it."""
        if principal == CONTROL:
            if topic == COMPUTE_TOPIC and server:
                return self._for_host(server)
            if self.master is None:
                raise exception.BusNotTrusted(
                    reason='this compute node holds no controller key')
            return derive(self.master, b'control')
        host = host_of(principal)
        if host is None:
            raise exception.BusNotTrusted(reason='unknown principal %s'
                                          % _show(principal))
        return self._for_host(host)

    def _for_host(self, host):
        if self.master is not None:
            return host_key(self.master, host)
        if host != self.host:
            raise exception.BusNotTrusted(
                reason='compute:%s holds no key of host %s'
                % (self.host, _show(host)))
        return self._host_key


class Audience:
    """Which principals a server acts for: controllers always; compute
    nodes: any (``agents=True``: the conductor's agent topic), or one
    (``host``: that agent's own queue)."""

    def __init__(self, agents=False, host=None):
        self.agents, self.host = agents, host

    def admits(self, principal):
        if principal == CONTROL:
            return True
        host = host_of(principal)
        return host is not None and (self.agents or host == self.host)

    def __repr__(self):
        return ('controllers and compute nodes' if self.agents else
                'controllers and compute:%s' % self.host if self.host else
                'controllers only')


CONTROLLERS = Audience()
AGENTS = Audience(agents=True)


#: what a request context carries on the wire, all covered by the
#: signature (agent.context.RequestContext.to_dict)
CONTEXT_FIELDS = ('request_id', 'user_id', 'project_id', 'is_admin',
                  'via_api')


def _show(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def _digest(key, principal, topic, method, args, ctxt):
    # the context fields the receiver reads (RequestContext.from_dict), not
    # what the transport adds on the way (reply queue, message id...)
    fields = [ctxt.get(name) for name in CONTEXT_FIELDS]
    body = jsonutils.dumps([1, principal, topic, method, args, fields],
                           sort_keys=True, separators=(',', ':'))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def sign(keyring, principal, topic, server, method, args, ctxt):
    """``ctxt`` (a context dict) with the signature of ``principal`` for
    ``method(**args)`` sent to ``topic``(.``server``)."""
    key = keyring.key(principal, topic, server)
    signed = dict(ctxt)
    signed[FIELD] = {'principal': principal, 'mac': _digest(
        key, principal, topic, method, args, ctxt)}
    return signed


def verify(keyring, audience, topic, server, method, args, ctxt):
    """The principal that signed this message, checked; BusNotTrusted if
    it is unsigned, badly signed, or not in ``audience``. ``ctxt`` is the
    received context dict (with its signature)."""
    auth = ctxt.get(FIELD) if isinstance(ctxt, dict) else None
    if not isinstance(auth, dict) or not isinstance(
            auth.get('principal'), str) or not isinstance(
            auth.get('mac'), str):
        raise exception.BusNotTrusted(reason='%s is not signed' % method)
    principal = auth['principal']
    if not audience.admits(principal):
        raise exception.BusNotTrusted(
            reason='%s from %s: this server serves %r'
            % (method, _show(principal), audience))
    key = keyring.key(principal, topic, server)
    if not hmac.compare_digest(
            _digest(key, principal, topic, method, args, ctxt),
            auth['mac'].encode('ascii', 'replace').decode()):
        raise exception.BusNotTrusted(
            reason='%s: bad signature for %s' % (method, _show(principal)))
    return principal


# ------------------------------------------------------------ key files
def _read_key(path, what):
    with open(path, 'rb') as f:
        data = f.read().strip()
    try:
        key = bytes.fromhex(data.decode('ascii'))
    except (UnicodeDecodeError, ValueError):
        raise exception.BusNotTrusted(
            reason='%s %s is not hex' % (what, path)) from None
    if len(key) < KEY_BYTES:
        raise exception.BusNotTrusted(
            reason='%s %s is shorter than %d bytes' % (what, path, KEY_BYTES))
    return key


def create_secret(path):
    """The master secret at ``path``, created (0600, 64 hex digits) if it
    does not exist yet; the conductor calls this at start."""
    try:
        return _read_key(path, 'bus secret')
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:          # another controller won the race
        return _read_key(path, 'bus secret')
    with os.fdopen(fd, 'w') as f:
        f.write(secrets.token_hex(KEY_BYTES) + '\n')
    LOG.info('Created the bus master secret %s; copy it to the other '
             'controllers (never to compute nodes)', path)
    return _read_key(path, 'bus secret')


@functools.lru_cache(maxsize=8)
def _load(secret_file, host_key_file, host):
    if host_key_file:
        try:
            return Keyring(host=host, key=_read_key(host_key_file,
                                                    'host key'))
        except OSError as e:
            # placed by the operator: not waited for (service.wait_for_bus_key)
            raise exception.BusNotTrusted(
                reason='cannot read [bus] host_key_file %s: %s'
                % (host_key_file, e.strerror)) from None
    try:
        return Keyring(master=_read_key(secret_file, 'bus secret'),
                       host=host)
    except FileNotFoundError:
        raise exception.BusKeyMissing(
            reason='no bus key: neither [bus] host_key_file (compute '
            'nodes) nor the bus secret %s (controllers; hvagent-conductor '
            'creates it) is there' % secret_file) from None
    except PermissionError:
        raise exception.BusNotTrusted(
            reason='cannot read the bus secret %s' % secret_file) from None


def keyring():
    """This process's keys, as configured (read once per configuration)."""
    return _load(CONF.bus.secret_file, CONF.bus.host_key_file, CONF.host)


def host_key_hex(host):
    """The key to put in ``host``'s [bus] host_key_file (controllers)."""
    ring = keyring()
    if not ring.is_controller:
        raise exception.BusNotTrusted(
            reason='only a controller (with the bus secret) derives host keys')
    return host_key(ring.master, host).hex()
