"""Host metrics of a compute node from psutil, read at every scrape.

Names follow node_exporter's where they overlap (``node_`` becomes
``hvagent_host_``), so dashboards read the same; only what the agent is
about is covered: CPU, memory, the instances file system, NICs, load.
"""
import logging
import os

import psutil
from prometheus_client import core

LOG = logging.getLogger(__name__)
P = 'hvagent_host_'


def nearest_existing(path):
    """``path`` or its nearest existing parent directory."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


class HostCollector:
    """One family at a time, each guarded: a psutil failure loses only its
    own metrics."""

    def __init__(self, instances_path):
        self.instances_path = instances_path

    def collect(self):
        for part in (self._cpu, self._memory, self._disk, self._network,
                     self._load):
            try:
                yield from part()
            except Exception as e:   # psutil/OSError: keep the rest
                LOG.warning('Host metrics: %s failed: %s: %s',
                            part.__name__.strip('_'), type(e).__name__, e)

    @staticmethod
    def _cpu():
        times = psutil.cpu_times()
        cpu = core.CounterMetricFamily(
            P + 'cpu_seconds', 'Seconds all host CPUs spent in each mode.',
            labels=['mode'])
        for mode, seconds in times._asdict().items():
            cpu.add_metric([mode], seconds)
        yield cpu

    @staticmethod
    def _memory():
        mem = psutil.virtual_memory()
        yield core.GaugeMetricFamily(P + 'memory_total_bytes',
                                     'Host physical memory.', mem.total)
        yield core.GaugeMetricFamily(
            P + 'memory_available_bytes', 'Host memory available for new '
            'work without swapping.', mem.available)

    def _disk(self):
        path = nearest_existing(self.instances_path)
        usage = psutil.disk_usage(path)
        for name, what, value in (('size', 'Size', usage.total),
                                  ('free', 'Free space', usage.free)):
            fam = core.GaugeMetricFamily(
                P + 'instances_filesystem_%s_bytes' % name,
                '%s of the file system holding the instances path.' % what,
                labels=['path'])
            fam.add_metric([path], value)
            yield fam

    @staticmethod
    def _network():
        rx = core.CounterMetricFamily(
            P + 'network_receive_bytes', 'Bytes received per host network '
            'interface.', labels=['device'])
        tx = core.CounterMetricFamily(
            P + 'network_transmit_bytes', 'Bytes sent per host network '
            'interface.', labels=['device'])
        for dev, io in psutil.net_io_counters(pernic=True).items():
            rx.add_metric([dev], io.bytes_recv)
            tx.add_metric([dev], io.bytes_sent)
        yield rx
        yield tx

    @staticmethod
    def _load():
        for minutes, value in zip((1, 5, 15), psutil.getloadavg()):
            yield core.GaugeMetricFamily(
                P + 'load%d' % minutes,
                '%d-minute load average of the host.' % minutes, value)
