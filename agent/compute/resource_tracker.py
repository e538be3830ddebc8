"""Reports this host's resources and the service heartbeat to the conductor.

Capacity is what the driver offers minus the [compute] reserved_host_*
options; free RAM, free disk (at the instances path) and the load average
come from the host itself (psutil); usage is summed from the guests the
driver runs. The ``*_used`` columns in the database belong to the
scheduler's claims, so what is reported here is informational for them.
"""
import logging
import os
import threading
import time

import psutil
from oslo_config import cfg

from agent import objects

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
MiB = 1024 * 1024
GiB = 1024 * MiB


def nearest_existing(path):
    """``path`` or its nearest existing parent directory."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


class ResourceTracker:
    """Builds ComputeNode reports; safe to call from several threads."""

    def __init__(self, driver, conductor, host, node_uuid,
                 binary='hvagent-compute'):
        self.driver = driver
        self.conductor = conductor
        self.host = host
        self.node_uuid = node_uuid
        self.binary = binary
        self.last_report_time = None  # time.monotonic() of the last success
        self.last_node = None
        self._lock = threading.Lock()

    def report(self, ctxt, raise_errors=False):
        """Send the resource report and the heartbeat; return the node.

        A failure is logged in one line and retried on the next call; it is
        raised only with ``raise_errors`` (then None is never returned).
        """
        with self._lock:
            try:
                node = self.build_node()
                # the conductor records the heartbeat with the report
                self.conductor.compute_node_update(ctxt, node=node)
            except Exception as e:
                if raise_errors:
                    raise
                LOG.warning('Resource report to the conductor failed (will '
                            'retry): %s: %s', type(e).__name__, e)
                return None
            self.last_report_time = time.monotonic()
            self.last_node = node
            return node

    def build_node(self):
        """The ComputeNode of this host as of now."""
        res = self.driver.get_host_resources()
        opts = CONF.compute
        reserved_disk_gb = -(-opts.reserved_host_disk_mb // 1024)
        free_ram_mb, free_disk_gb, cpu_load = self._host_facts(res)
        vcpus_used = memory_mb_used = running = 0
        for info in self.driver.list_guest_infos():
            vcpus_used += info.vcpus
            memory_mb_used += info.memory_mb
            running += 1
        return objects.ComputeNode(
            uuid=self.node_uuid, host=self.host,
            hypervisor_type=res.hypervisor_type, availability_zone=None,
            vcpus=max(res.vcpus - opts.reserved_host_cpus, 0),
            memory_mb=max(res.memory_mb - opts.reserved_host_memory_mb, 0),
            local_gb=max(res.local_gb - reserved_disk_gb, 0),
            vcpus_used=vcpus_used, memory_mb_used=memory_mb_used,
            local_gb_used=0, running_vms=running,
            free_ram_mb=_clamp(free_ram_mb, opts.reserved_host_memory_mb),
            free_disk_gb=_clamp(free_disk_gb, reserved_disk_gb),
            cpu_load=cpu_load)

    @staticmethod
    def _host_facts(res):
        """(free RAM MiB, free disk GiB, 1-minute load) of the real host;
        the driver's figures stand in where psutil cannot answer."""
        try:
            free_ram_mb = psutil.virtual_memory().available // MiB
        except (OSError, RuntimeError):
            free_ram_mb = res.free_ram_mb
        try:
            path = nearest_existing(CONF.compute.instances_path)
            free_disk_gb = psutil.disk_usage(path).free // GiB
        except OSError:
            free_disk_gb = res.free_disk_gb
        try:
            cpu_load = round(psutil.getloadavg()[0], 2)
        except (OSError, AttributeError):
            cpu_load = None
        return free_ram_mb, free_disk_gb, cpu_load


def _clamp(free, reserved):
    return None if free is None else max(free - reserved, 0)
