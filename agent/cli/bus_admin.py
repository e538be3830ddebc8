"""Commands a controller answers from its configuration alone (no bus):
the keys and broker permissions of the bus's users."""
import shlex

from oslo_config import cfg

from agent.security import broker_perms
from agent.security import bus_auth

CONF = cfg.CONF


def host_key(_b, args, out):
    out(bus_auth.host_key_hex(args.host))
    return 0


def broker_permissions(_b, args, out):
    perms = broker_perms.controller() if args.controller else \
        broker_perms.compute(args.compute_host, CONF.control_exchange)
    for argv in broker_perms.rabbitmqctl_commands(
            args.user, args.vhost, CONF.control_exchange, perms):
        out(' '.join(shlex.quote(a) for a in argv))
    return 0
