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
    cfg.ListOpt(
        'image_url_allowlist', default=[],
        help='URL prefixes (scheme://host[:port][/path]) images, kernels '
             'and ramdisks may be downloaded from besides hvagent-api\'s own '
             'images (which are given by id). Checked by hvagent-api and '
             'the conductor (a boot naming any other URL is refused with '
             '400 before anything is recorded) and again by the agent, on '
             'every redirect too: set it alike everywhere. Empty (the '
             'default): only images of hvagent-api, by id.'),
    cfg.IntOpt(
        'console_output_max_bytes', default=64 * 1024, min=1024,
        help='Upper bound of the console output returned by one request.'),
    cfg.IntOpt(
        'image_cache_manager_interval', default=2400, min=0,
        help='Seconds between passes of the driver\'s image cache cleaner '
             '(see [libvirt] remove_unused_base_images_age); 0 turns it '
             'off.'),
    cfg.FloatOpt(
        'report_retry_max_interval', default=5.0, min=0.1,
        help='A resource report the conductor did not get (message bus or '
             'conductor down) is retried at once after random, growing '
             'waits up to this many seconds, each attempt logged in one '
             'line, so the report (and the heartbeat it carries) arrives '
             'within this long of the bus coming back rather than at the '
             'next report_interval.'),
    cfg.IntOpt(
        'report_retry_timeout', default=600, min=1,
        help='Seconds a failed resource report is retried before the agent '
             'gives up on it with an error; the next periodic report starts '
             'over.'),
    cfg.IntOpt(
        'graceful_shutdown_timeout', default=60, min=0,
        help='Seconds a stop waits for the guest to power off before it is '
             'destroyed.'),
    cfg.IntOpt(
        'sync_power_state_interval', default=600, min=0,
        help='Seconds between passes that read every guest\'s power state '
             'from the hypervisor (lifecycle events catch most changes at '
             'once; this catches missed ones); 0 turns the pass off.'),
    cfg.IntOpt(
        'network_resync_interval', default=60, min=0,
        help='Seconds between passes that rebuild this host\'s DHCP, '
             'security group rules and NAT from the conductor\'s view of '
             'its ports (the conductor tells the agent at once of every '
             'change; this catches a lost message); 0 turns the pass off.'),
    cfg.StrOpt(
        'stopped_instance_running_action', default='stop',
        choices=[('stop', 'power the guest off again (Nova\'s policy: the '
                          'instance was stopped by its owner)'),
                 ('adopt', 'record the instance as active'),
                 ('log', 'only log it')],
        help='What to do with a guest found running (started outside '
             'hvagent) whose instance is stopped. A guest found shut down '
             'whose instance is active always makes the instance stopped: '
             'the hypervisor is the truth for power.'),
    cfg.StrOpt(
        'running_deleted_instance_action', default='reap',
        choices=[('reap', 'destroy the guest and its disks'),
                 ('shutdown', 'power the guest off, keep it defined'),
                 ('log', 'only log it')],
        help='What to do with a guest whose instance was deleted on this '
             'host, found on start and by the power-state pass. Guests the '
             'database never recorded are only reported.'),
    cfg.BoolOpt(
        'resume_guests_state_on_host_boot', default=False,
        help='On start, power on the guests of instances that are active '
             'but whose guest is shut off (the host rebooted), after their '
             'networks are wired. When false such instances become '
             'stopped.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
