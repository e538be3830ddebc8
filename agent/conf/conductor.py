"""[conductor] options of hvagent-conductor."""
from oslo_config import cfg

group = cfg.OptGroup('conductor', title='Conductor options')

opts = [
    cfg.IntOpt(
        'schedule_attempts', default=3, min=1,
        help='How often the conductor asks the scheduler again when the '
             'chosen host is lost between the claim and the cast.'),
    cfg.IntOpt(
        'default_console_length', default=100, min=1,
        help='Console lines returned when the caller gives no length.'),
    cfg.IntOpt(
        'max_concurrent_password_checks', default=2, min=1,
        help='Password hashes (argon2id, [api] argon2_memory_kib each) '
             'the conductor computes at once, for logins, password '
             'changes and new users alike: it bounds the memory and CPU '
             'unauthenticated callers can make it spend.'),
    cfg.FloatOpt(
        'password_check_wait', default=5.0, min=0.1,
        help='Seconds a password check waits for one of the '
             'max_concurrent_password_checks slots before it is refused '
             '(hvagent-api answers 503 with Retry-After). Keep it well '
             'under rpc_response_timeout.'),
    cfg.IntOpt(
        'sweep_interval', default=60, min=0,
        help='Seconds between two sweeps for boots a stopped conductor or '
             'scheduler left in task scheduling (agent.conductor.'
             'failed_builds); 0 disables the sweep. Every conductor sweeps; '
             'one of them settles each stuck boot.'),
    cfg.IntOpt(
        'scheduling_timeout', default=600, min=1,
        help='Seconds a boot placed on a host may wait for that host\'s '
             'agent to start it before the sweep ends it in error (its '
             'build request was lost, or the host stayed away); a boot no '
             'scheduler placed is ended sooner, after twice '
             'rpc_call_timeout (a live conductor gives up on the scheduler '
             'after one). Keep it above the longest wait of a build queued '
             'on a busy host ([compute] max_concurrent_builds).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
