"""[scheduler] options: filters, weighers, allocation ratios."""
from oslo_config import cfg

group = cfg.OptGroup('scheduler', title='Scheduler options')

opts = [
    cfg.ListOpt(
        'enabled_filters',
        default=['ComputeFilter', 'AvailabilityZoneFilter', 'RamFilter',
                 'CoreFilter', 'DiskFilter', 'NumInstancesFilter',
                 'SameHostFilter', 'DifferentHostFilter'],
        help='Filters a host must pass, in order.'),
    cfg.ListOpt(
        'enabled_weighers',
        default=['RAMWeigher', 'CPUWeigher', 'DiskWeigher',
                 'NumInstancesWeigher'],
        help='Weighers that rank the hosts that passed the filters.'),
    cfg.StrOpt(
        'placement_policy', default='spread', choices=['spread', 'pack'],
        help='spread: prefer the emptiest host; pack: prefer the fullest '
             'host that still fits.'),
    cfg.FloatOpt('cpu_allocation_ratio', default=4.0, min=0.0,
                 help='Virtual CPUs offered per physical CPU.'),
    cfg.FloatOpt('ram_allocation_ratio', default=1.0, min=0.0,
                 help='Virtual RAM offered per MiB of physical RAM.'),
    cfg.FloatOpt('disk_allocation_ratio', default=1.0, min=0.0,
                 help='Virtual disk offered per GiB of physical disk.'),
    cfg.IntOpt('max_instances_per_host', default=50, min=1,
               help='NumInstancesFilter: most instances on one host.'),
    cfg.FloatOpt('ram_weight_multiplier', default=1.0,
                 help='Weight of free RAM in the ranking.'),
    cfg.FloatOpt('cpu_weight_multiplier', default=1.0,
                 help='Weight of free vCPUs in the ranking.'),
    cfg.FloatOpt('disk_weight_multiplier', default=1.0,
                 help='Weight of free disk in the ranking.'),
    cfg.FloatOpt('num_instances_weight_multiplier', default=1.0,
                 help='Weight of (few) instances in the ranking.'),
    cfg.FloatOpt(
        'host_state_refresh_interval', default=1.0, min=0.0,
        help='Seconds the scheduler trusts its cached host states before it '
             'reads changed rows from the database again.'),
    cfg.IntOpt(
        'claim_attempts', default=5, min=1,
        help='Hosts tried, best first, when a claim loses a race.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
