"""[fake_driver] options of the in-memory virt driver (compute_driver=fake)."""
from oslo_config import cfg

group = cfg.OptGroup('fake_driver', title='Fake virt driver options')

opts = [
    cfg.FloatOpt(
        'spawn_delay', default=0.0, min=0.0,
        help='Seconds each spawn takes, to stand for a slow hypervisor in '
             'tests and demos (a SIGTERM during a build, for instance). The '
             'wait does not hold the driver lock: other guests are served '
             'meanwhile.'),
    cfg.FloatOpt(
        'migration_seconds', default=0.2, min=0.0,
        help='Seconds a fake live migration copies before it switches over '
             '(progress is reported meanwhile; an abort or a forced '
             'completion ends it early).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
