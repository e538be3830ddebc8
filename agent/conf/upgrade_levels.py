"""[upgrade_levels] options: the newest RPC version each client may send,
for rolling upgrades (see agent/rpc/clients.py)."""
from oslo_config import cfg

group = cfg.OptGroup('upgrade_levels', title='RPC version caps for '
                     'rolling upgrades')

_HELP = ('The newest RPC version this node sends to %s, e.g. "1.7" while '
         'some of them still run an older release. A message that needs a '
         'newer version is refused with an error naming it, instead of '
         'being sent to a service that would drop it. Unset: no cap. Set '
         'it before upgrading the first node, unset it once all %s run '
         'the new release.')
opts = [
    cfg.StrOpt('compute', regex=r'^\d+\.\d+$',
               help=_HELP % ('hvagent-compute agents', 'agents')),
    cfg.StrOpt('conductor', regex=r'^\d+\.\d+$',
               help=_HELP % ('hvagent-conductor', 'conductors')),
    cfg.StrOpt('scheduler', regex=r'^\d+\.\d+$',
               help=_HELP % ('hvagent-scheduler', 'schedulers')),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
