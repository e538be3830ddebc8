"""[bus] options: who a service is on the message bus
(agent/security/bus_auth.py)."""
from oslo_config import cfg

group = cfg.OptGroup('bus', title='Message bus trust options')

opts = [
    cfg.StrOpt(
        'secret_file', default='$state_path/bus.secret',
        help='Controllers only (conductor, scheduler, hvagent-api, hvctl): '
             'the bus master secret. Every RPC message is signed with a '
             'key derived from it, and every service checks the signature '
             'before it acts. hvagent-conductor creates the file (mode 0600) '
             'on its first start; copy it to the other controllers. Never '
             'put it on a compute node: give each compute node its own '
             'host key instead (host_key_file).'),
    cfg.StrOpt(
        'host_key_file', default=None,
        help='Compute nodes: this host\'s bus key (64 hex digits), printed '
             'for a host by "hvctl bus-host-key HOST" on a controller. With '
             'it the agent can sign only as compute:<host> and read only '
             'messages meant for its own queue. Unset: the key is derived '
             'from secret_file when that is readable (an all-in-one node); '
             'else the agent refuses to start.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
