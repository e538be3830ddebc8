"""[DEFAULT] options shared by every hvagent service."""
import os
import socket

from oslo_config import cfg


def _default_state_path():
    # systemd exports StateDirectory= as $STATE_DIRECTORY (':'-separated)
    state_dir = os.environ.get('STATE_DIRECTORY', '').split(':')[0]
    if state_dir:
        return state_dir
    if os.geteuid():
        return os.path.expanduser('~/.local/state/hvagent')
    return '/var/lib/hvagent'


opts = [
    cfg.HostAddressOpt(
        'host', default=socket.gethostname(), sample_default='<current hostname>',
        help='Name of this node. The compute agent consumes the RPC queue '
             'compute.<host> and reports its resources under this name.'),
    cfg.StrOpt(
        'state_path', default=_default_state_path(),
        sample_default='$STATE_DIRECTORY, else /var/lib/hvagent '
                       '(~/.local/state/hvagent for non-root)',
        help='Directory where hvagent keeps its state (SQLite database of the '
             'conductor, node identity, instance files). Under systemd the '
             'default is the unit\'s StateDirectory (/var/lib/hvagent).'),
    cfg.IntOpt(
        'report_interval', default=10, min=1,
        help='Seconds between service heartbeats and periodic resource '
             'reports sent by a service to the conductor.'),
    cfg.IntOpt(
        'service_down_time', default=60, min=1,
        help='Seconds without a heartbeat after which a service is shown '
             'down and its host is excluded by the scheduler.'),
    cfg.IntOpt(
        'start_wait_timeout', default=150, min=0,
        help='Seconds a starting service waits for what it needs (the '
             'conductor answering on the message bus, the database '
             'migrated to the schema it knows), retrying and saying what '
             'it waits for in the unit\'s status. Past it the service '
             'exits with status 69 and systemd restarts it. Keep it below '
             'the unit\'s TimeoutStartSec (180 s).'),
    cfg.IntOpt(
        'rpc_call_timeout', default=30, min=1,
        help='Seconds an RPC call waits for its answer before failing.'),
    cfg.FloatOpt(
        'bus_idle_poll', default=0.5, min=0.05, max=5,
        help='Seconds a bus listener waits on an idle connection before it '
             'looks whether its service is stopping (oslo.messaging waits '
             'up to 5). A stop waits this long at most for each listener; '
             'every listener wakes this often when idle, which costs little '
             'on a real host (a few wake-ups a second) but adds up when '
             'one process simulates hundreds of hosts (tools.fleet sets 5).'),
    cfg.IntOpt(
        'graceful_shutdown_timeout', default=60, min=0,
        help='Seconds a service given SIGTERM waits for the RPC messages it '
             'is handling (builds, deletes...) to finish after it stopped '
             'taking new ones; running guests are never touched. Past it the '
             'service logs the unfinished operations and exits with status '
             '75. Keep it below the unit\'s TimeoutStopSec.'),
    cfg.BoolOpt(
        'debug', default=False, mutable=True,
        help='Log at DEBUG instead of INFO. Re-read on SIGHUP '
             '(systemctl reload).'),
    cfg.ListOpt(
        'default_log_levels', mutable=True,
        default=['oslo.messaging=WARNING', 'oslo_messaging=WARNING',
                 'kombu=WARNING', 'amqp=WARNING', 'alembic=WARNING',
                 'stevedore=WARNING', 'kombu.connection=ERROR'],
        help='logger=LEVEL pairs applied over the root level (libraries '
             'that are chatty at INFO). Re-read on SIGHUP.'),
]


def register_opts(conf):
    conf.register_opts(opts)
