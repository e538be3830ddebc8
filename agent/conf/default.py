"""[DEFAULT] options shared by every hvagent service."""
import os
import socket

from oslo_config import cfg

opts = [
    cfg.HostAddressOpt(
        'host', default=socket.gethostname(), sample_default='<current hostname>',
        help='Name of this node. The compute agent consumes the RPC queue '
             'compute.<host> and reports its resources under this name.'),
    cfg.StrOpt(
        'state_path', default=os.path.expanduser('~/.local/state/hvagent')
        if os.geteuid() else '/var/lib/hvagent',
        sample_default='/var/lib/hvagent (~/.local/state/hvagent for non-root)',
        help='Directory where hvagent keeps its state (SQLite database of the '
             'conductor, node identity, instance files).'),
    cfg.IntOpt(
        'report_interval', default=10, min=1,
        help='Seconds between service heartbeats and periodic resource '
             'reports sent by a service to the conductor.'),
    cfg.IntOpt(
        'service_down_time', default=60, min=1,
        help='Seconds without a heartbeat after which a service is shown '
             'down and its host is excluded by the scheduler.'),
    cfg.IntOpt(
        'rpc_call_timeout', default=30, min=1,
        help='Seconds an RPC call waits for its answer before failing.'),
]


def register_opts(conf):
    conf.register_opts(opts)
