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
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
