"""The conductor's console tokens (nova-consoleauth's part): hvagent-api
asks for a token to an instance's serial or VNC console for a caller it
has checked; hvagent-console-proxy checks and uses up the token when a
WebSocket presents it, and learns where to connect.

A token is 32 random bytes (URL-safe text); only its SHA-256 is stored,
so the database does not hold working tokens. It opens one session, once,
before ``[console] token_ttl`` runs out, and only while its instance is
still active on the host that reported the console's address: a token of
an instance that moved, stopped or went is refused like an unknown one.
"""
import datetime
import hashlib
import ipaddress
import logging
import secrets

import oslo_messaging as messaging
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent.conductor import endpoint
from agent.db import api as db
from agent.db import api_models
from agent.db import base as db_base
from agent.objects import fields as f
from agent.objects import states
from agent.rpc import checks
from virt import driver as virt_driver

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
T = api_models.ConsoleToken
PROTOCOL = f.Enum(virt_driver.CONSOLE_PROTOCOLS)
#: a token as the proxy passes it on (secrets.token_urlsafe(32) is 43)
TOKEN = f.String(max_length=128)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_endpoint(answer: object) -> tuple[str, int]:
    """(address, port) of an agent's get_console answer; a compute node is
    less trusted than the conductor, so anything but an IP address and a
    TCP port is refused (InvalidRPCPayload)."""
    try:
        address = str(ipaddress.ip_address(answer['host']))    # type: ignore[index]
        port = answer['port']                                  # type: ignore[index]
        if type(port) is not int or not 1 <= port <= 65535:
            raise ValueError(port)
    except (KeyError, TypeError, ValueError):
        raise exception.InvalidRPCPayload(
            'the host answered no console address: %r' % (answer,)) from None
    return address, port


class ConsoleManager(endpoint.Endpoint):
    target = messaging.Target(version='1.21')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(instance_uuid=f.UUID(), protocol=PROTOCOL)
    def console_token_create(self, ctxt, instance_uuid, protocol):
        """{'token', 'expires_at', 'protocol', 'instance_uuid'}: a new token
        to the ``protocol`` console of an active instance (the API checked
        that the caller may act on it)."""
        with self._session() as s:
            inst = db.instance_read_uuid(s, instance_uuid)
        if inst.vm_state != states.ACTIVE or not inst.host:
            raise exception.InstanceInvalidState(
                action='open the console of', instance=instance_uuid,
                vm_state=inst.vm_state, task_state=inst.task_state)
        try:
            answer = self.compute.get_console(ctxt, inst.host,
                                              instance_uuid, protocol)
        except messaging.MessagingTimeout:
            raise exception.ComputeHostUnreachable(
                host=inst.host, what='where the console is') from None
        address, port = checked_endpoint(answer)
        token = secrets.token_urlsafe(32)
        now = db_base.utcnow()
        expires = now + datetime.timedelta(seconds=CONF.console.token_ttl)
        with self._session() as s:
            s.execute(sa.delete(T).where(T.expires_at < now))
            s.add(T(token_hash=token_hash(token), instance_uuid=instance_uuid,
                    protocol=protocol, host=inst.host, address=address,
                    port=port, user_id=ctxt.user_id, created_at=now,
                    expires_at=expires))
        LOG.info('Console token (%s) for instance %s issued to user %s',
                 protocol, instance_uuid, ctxt.user_id)
        return {'token': token, 'expires_at': expires.isoformat() + 'Z',
                'protocol': protocol, 'instance_uuid': instance_uuid}

    @checks.expects(token=TOKEN, consume=f.Boolean())
    def console_token_check(self, ctxt, token, consume):
        """Where the token's session goes: {'instance_uuid',
        'instance_name', 'project_id', 'protocol', 'address', 'port',
        'expires_at'}; ``consume`` uses the token up (exactly one of two
        racing consumers gets it). ConsoleTokenInvalid otherwise."""
        key, now = token_hash(token), db_base.utcnow()
        with self._session() as s:
            row = s.get(T, key)
            if row is None or row.expires_at <= now:
                raise exception.ConsoleTokenInvalid()
            found = dict(instance_uuid=row.instance_uuid,
                         protocol=row.protocol, address=row.address,
                         port=row.port, expires_at=row.expires_at.isoformat()
                         + 'Z')
            try:
                inst = db.instance_read_uuid(s, row.instance_uuid)
            except exception.InstanceNotFound:
                inst = None
            stale = inst is None or inst.host != row.host or \
                inst.vm_state != states.ACTIVE
            # a stale token goes for good (committed, then refused)
            used = (consume or stale) and s.execute(sa.delete(T).where(
                T.token_hash == key, T.expires_at > now)).rowcount == 1
        if stale or (consume and not used):
            raise exception.ConsoleTokenInvalid()
        if consume:
            LOG.info('Console token (%s) for instance %s used',
                     found['protocol'], found['instance_uuid'])
        return dict(found, instance_name=inst.name,
                    project_id=inst.project_id)
