"""Guest metrics from the virt driver's bulk statistics, read at scrape time.

One ``driver.get_guest_stats()`` per scrape. Names are those of the
established libvirt exporters (``libvirt_domain_info_cpu_time_seconds_total``,
``libvirt_domain_block_stats_read_bytes_total``...) with the ``hvagent_``
prefix instead of ``libvirt_``, so their dashboards port by a prefix
rewrite; every guest series carries ``uuid``, ``name`` (the instance's
display name) and ``project`` (its project id).
"""
import logging
import time

from prometheus_client import core

from agent.metrics.exposition import GuestFamily
from agent.metrics.exposition import GuestLabels

LOG = logging.getLogger(__name__)
P = 'hvagent_domain_'

_INFO = (   # (metric, help, GuestStats attribute, scale, counter?)
    ('info_virtual_cpus', 'Number of virtual CPUs of the guest.', 'vcpus',
     1, False),
    ('info_maximum_memory_bytes', 'Maximum memory of the guest.',
     'memory_max_bytes', 1, False),
    ('info_memory_usage_bytes', 'Current (balloon) memory of the guest.',
     'memory_bytes', 1, False),
    ('info_cpu_time_seconds', 'CPU time used by the guest (vCPUs and '
     'emulator).', 'cpu_time_ns', 1e-9, True),
)
_BLOCK = (
    ('read_bytes', 'Bytes read from a guest block device.', 'read_bytes'),
    ('read_requests', 'Read requests on a guest block device.',
     'read_requests'),
    ('write_bytes', 'Bytes written to a guest block device.', 'write_bytes'),
    ('write_requests', 'Write requests on a guest block device.',
     'write_requests'),
)
_NET = tuple(
    ('%s_%s' % (way, what), '%s %s on a guest network interface.' % (
        desc, unit), '%s_%s' % (short, attr))
    for way, short, desc in (('receive', 'rx', 'Received'),
                             ('transmit', 'tx', 'Transmitted'))
    for what, attr, unit in (('bytes', 'bytes', 'bytes'),
                             ('packets', 'packets', 'packets'),
                             ('errors', 'errors', 'errors'),
                             ('drops', 'drops', 'drops')))


class GuestCollector:
    """``hvagent_hypervisor_up``, ``hvagent_domains`` and the per-guest
    families; a failing driver gives ``hvagent_hypervisor_up 0`` only."""

    def __init__(self, driver, driver_name):
        self.driver = driver
        self.driver_name = driver_name

    def collect(self):
        t0 = time.perf_counter()
        try:
            guests = self.driver.get_guest_stats()
        except Exception as e:
            LOG.warning('Guest metrics unavailable: %s: %s',
                        type(e).__name__, e)
            guests = None
        up = core.GaugeMetricFamily(
            'hvagent_hypervisor_up', 'Whether the virt driver answered the '
            'last scrape (for libvirt: the connection is up).',
            labels=['driver'])
        up.add_metric([self.driver_name], 0 if guests is None else 1)
        yield up
        if guests is None:
            return
        yield core.GaugeMetricFamily(
            'hvagent_domains', 'Guests the hypervisor has for hvagent.',
            len(guests))
        yield from guest_families(guests)
        yield core.GaugeMetricFamily(
            'hvagent_domain_stats_collect_seconds', 'Time the last scrape '
            'took to read the guest statistics and build their series.',
            time.perf_counter() - t0)


def guest_families(guests):
    """The per-guest metric families of a list of GuestStats."""
    state = GuestFamily(P + 'state', 'Power state of the guest (1 for its '
                        'current state).', 'gauge', 'state')
    info = [GuestFamily(P + name, doc, 'counter' if counter else 'gauge')
            for name, doc, _a, _s, counter in _INFO]
    vcpu = GuestFamily(P + 'vcpu_time_seconds', 'CPU time used by each '
                       'vCPU of the guest.', 'counter', 'vcpu')
    block = [GuestFamily(P + 'block_stats_' + name, doc, 'counter',
                         'target_device') for name, doc, _a in _BLOCK]
    net = [GuestFamily(P + 'interface_stats_' + name, doc, 'counter',
                       'target_device') for name, doc, _a in _NET]
    info_attrs = [(fam, attr, scale) for fam, (_n, _d, attr, scale, _c)
                  in zip(info, _INFO)]
    for g in guests:
        labels = GuestLabels(g.uuid, g.name or '', g.project_id or '')
        state.add(labels, 1, g.power_state)
        for fam, attr, scale in info_attrs:
            fam.add(labels, getattr(g, attr) * scale)
        for i, ns in enumerate(g.vcpu_time_ns):
            vcpu.add(labels, ns * 1e-9, str(i))
        _devices(block, _BLOCK, g.disks, labels)
        _devices(net, _NET, g.interfaces, labels)
    yield state
    yield from info
    yield vcpu
    yield from block
    yield from net


def _devices(families, table, devices, labels):
    pairs = [(fam, attr) for fam, (_n, _d, attr) in zip(families, table)]
    for dev in devices:
        for fam, attr in pairs:
            fam.add(labels, getattr(dev, attr), dev.device)
