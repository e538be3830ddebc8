"""[migration] options: how a compute agent moves guests live (as the
source; what a destination offers is its driver's, e.g. [libvirt]
live_migration_inbound_addr)."""
from oslo_config import cfg

group = cfg.OptGroup('migration', title='Live migration options')

opts = [
    cfg.StrOpt(
        'peer_uri', default='qemu+tls://%s/system',
        help='How this host\'s hypervisor reaches a destination\'s, as a URI '
             'in which %s stands for the address the destination reported '
             '(an IP address or host name, checked by the conductor). '
             'Operator configuration only: no URI is ever taken from the '
             'message bus. qemu+tls needs libvirt\'s TLS certificates on both '
             'hosts; qemu+tcp has no encryption or authentication unless '
             'libvirtd adds it.'),
    cfg.IntOpt(
        'max_downtime_ms', default=500, min=10,
        help='The longest the guest may stand still at the switch-over.'),
    cfg.IntOpt(
        'completion_timeout', default=800, min=0,
        help='Seconds a live migration may take before the timeout action '
             'is taken (0: no limit).'),
    cfg.StrOpt(
        'timeout_action', default='abort',
        choices=[('abort', 'cancel it: the guest stays on the source'),
                 ('force_complete', 'pause the guest so it finishes')],
        help='What to do with a live migration that reached '
             'completion_timeout.'),
    cfg.IntOpt(
        'bandwidth', default=0, min=0,
        help='Most MiB/s one live migration may use (0: no limit).'),
    cfg.BoolOpt(
        'native_tls', default=False,
        help='Encrypt the migration stream with the hypervisor\'s own TLS '
             '(libvirt VIR_MIGRATE_TLS; needs its certificates on both '
             'hosts).'),
    cfg.FloatOpt(
        'progress_interval', default=1.0, min=0.1,
        help='Seconds between the progress reports of a running migration.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
