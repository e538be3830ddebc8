"""RabbitMQ permissions for hvagent's broker users, as rabbitmqctl commands.

Controllers (conductor, scheduler, hvagent-api, hvctl) get the whole vhost.
A compute node's user gets only what its agent needs (see bus_auth for the
other half, the signatures):

* its own queues: ``compute.<host>`` and the shared ``compute`` queue
  oslo.messaging declares beside it (no hvagent message is ever sent
  there), its fanout queue and its reply queues, named
  ``reply_<host>_<32 hex>`` (rpc.init names them so);
* publishing on the topic exchange only with the routing keys
  ``conductor`` (the agents' conductor topic), ``conductor_reports`` (its
  periodic resource reports) and ``compute.<host>`` (its own liveness
  probe): never ``conductor_api``, ``identity``,
  ``scheduler`` or another host's queue;
* binding only its own routing keys, so it cannot copy other queues'
  messages into its own;
* the default exchange, to answer calls (oslo sends replies there). That
  exchange reaches any queue by name, which is why every server checks
  signatures: a compute node can put a message in another queue, but
  not one its server will act on.

What a compute user can still do and is not a breach: delete or redeclare
the shared exchange (denial of service for every service until they
reconnect), which needs the configure permission kombu's declarations
require.
"""
import dataclasses
import re

#: a reply queue's name after its prefix (rpc._ReplyQueueNames)
REPLY_SUFFIX = '_[0-9a-f]{32}'


@dataclasses.dataclass(frozen=True)
class Permissions:
    """One user's rights in one vhost: resource regexes (configure,
    write, read) and the topic exchange's routing-key regexes."""
    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str


def _quote(host):
    """``host`` as a literal in an Erlang (PCRE) regex."""
    return re.sub(r'([^A-Za-z0-9_-])', r'\\\1', host)


def _any(*names):
    return '^(%s)$' % '|'.join(names)


def controller():
    return Permissions('.*', '.*', '.*', '.*', '.*')


def compute(host, exchange):
    """What the compute agent of ``host`` needs on ``exchange`` (oslo's
    control_exchange)."""
    h, x = _quote(host), _quote(exchange)
    own = ('compute\\.' + h, 'compute', 'reply_' + h + REPLY_SUFFIX)
    fanout = ('compute_fanout', 'compute_fanout_[0-9a-f]{32}')
    return Permissions(
        configure=_any(x, *own, *fanout),
        write=_any(x, 'amq\\.default', *own, *fanout[1:]),
        read=_any(x, *own, *fanout),
        topic_write=_any('conductor', 'conductor_reports',
                         'compute\\.' + h),
        topic_read=_any('compute', 'compute\\.' + h))


def rabbitmqctl_commands(user, vhost, exchange, perms):
    """argv lists that give ``user`` exactly ``perms`` in ``vhost``."""
    return [
        ['rabbitmqctl', 'set_permissions', '-p', vhost, user,
         perms.configure, perms.write, perms.read],
        ['rabbitmqctl', 'set_topic_permissions', '-p', vhost, user,
         exchange, perms.topic_write, perms.topic_read],
    ]
