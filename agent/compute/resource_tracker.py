"""Reports this host's resources and the service heartbeat to the conductor.

Capacity is what the driver offers minus the [compute] reserved_host_*
options; free RAM, free disk (at the instances path) and the load average
come from the host itself (psutil); usage is summed from the guests the
driver runs. The ``*_used`` columns in the database belong to the
scheduler's claims, so what is reported here is informational for them.
"""
import logging
import threading
import time

import psutil
import tenacity
from oslo_config import cfg

from agent import objects
from agent.metrics import host as host_metrics
from agent.rpc import outage

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
MiB = 1024 * 1024
GiB = 1024 * MiB


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
        # set when the agent stops: a report being retried gives up quietly
        self.stopping = threading.Event()

    def report(self, ctxt, raise_errors=False):
        """Send the resource report and the heartbeat; return the node.

        With ``raise_errors`` (the start-up report) one attempt is made and
        its failure raised. Otherwise a report the conductor did not get
        (message bus or conductor down) is retried with random, growing
        waits up to ``[compute] report_retry_max_interval``, one log line
        per attempt, for up to ``report_retry_timeout`` seconds; then None
        is returned and the next periodic report starts over.
        """
        with self._lock:
            if raise_errors:
                return self._send(ctxt)
            opts = CONF.compute
            retrying = tenacity.Retrying(
                retry=tenacity.retry_if_exception_type(outage.BUS_ERRORS),
                wait=tenacity.wait_random_exponential(
                    multiplier=0.5, max=opts.report_retry_max_interval),
                stop=(tenacity.stop_after_delay(opts.report_retry_timeout) |
                      tenacity.stop_when_event_set(self.stopping)),
                sleep=self.stopping.wait,
                before_sleep=self._log_retry, reraise=True)
            try:
                node = retrying(self._send, ctxt, periodic=True)
            except Exception as e:
                if self.stopping.is_set():
                    LOG.info('Resource report not delivered (%s): the agent '
                             'is stopping', outage.error_text(e))
                    return None
                LOG.error('Resource report to the conductor failed: %s; %s',
                          outage.error_text(e),
                          'retried for %ss, giving up until the next '
                          'periodic report' % opts.report_retry_timeout
                          if isinstance(e, outage.BUS_ERRORS)
                          else 'will retry at the next periodic report')
                return None
            attempts = retrying.statistics.get('attempt_number', 1)
            if attempts > 1:
                LOG.info('Resource report delivered to the conductor on '
                         'attempt %d, %.1f s after the first one failed',
                         attempts, retrying.statistics.get(
                             'delay_since_first_attempt', 0.0))
                outage.bus_restored()
            return node

    def _send(self, ctxt, periodic=False):
        node = self.build_node()
        # the conductor records the heartbeat with the report; a periodic
        # one is a cast that conductors read in batches (report_queue)
        self.conductor.compute_node_update(ctxt, node=node,
                                           periodic=periodic)
        self.last_report_time = time.monotonic()
        self.last_node = node
        return node

    def _log_retry(self, state):
        if self.stopping.is_set():
            return
        e = state.outcome.exception()
        LOG.warning('Resource report to the conductor failed (attempt %d, '
                    '%s); guests are not affected; next attempt in %.1f s',
                    state.attempt_number, outage.error_text(e),
                    state.next_action.sleep)

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
            path = host_metrics.nearest_existing(CONF.compute.instances_path)
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
