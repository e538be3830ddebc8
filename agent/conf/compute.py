"""[compute] options of the compute agent (hvagent-compute)."""
from oslo_config import cfg

group = cfg.OptGroup('compute', title='Compute agent options')

opts = [
    cfg.StrOpt(
        'compute_driver', default='fake',
        help='Virt driver to load, by name of its "hvagent.virt" entry point '
             '(fake, libvirt).'),
    cfg.IntOpt(
        'max_concurrent_builds', default=10, min=1,
        help='Maximum number of instance builds run at the same time; further '
             'build requests wait in line.'),
    cfg.IntOpt(
        'reserved_host_memory_mb', default=512, min=0,
        help='Memory (MiB) kept for the host and never offered to guests.'),
    cfg.IntOpt(
        'reserved_host_disk_mb', default=0, min=0,
        help='Disk (MiB) kept for the host at the instances path.'),
    cfg.IntOpt(
        'reserved_host_cpus', default=0, min=0,
        help='Host CPUs never offered to guests.'),
    cfg.StrOpt(
        'instances_path', default='$state_path/instances',
        help='Where instance files live; its file system is the disk the '
             'agent reports.'),
    cfg.IntOpt(
        'console_output_max_bytes', default=64 * 1024, min=1024,
        help='Upper bound of the console output returned by one request.'),
    cfg.IntOpt(
        'image_cache_manager_interval', default=2400, min=0,
        help='Seconds between passes of the driver\'s image cache cleaner '
             '(see [libvirt] remove_unused_base_images_age); 0 turns it '
             'off.'),
    cfg.IntOpt(
        'graceful_shutdown_timeout', default=60, min=0,
        help='Seconds a stop waits for the guest to power off before it is '
             'destroyed.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
