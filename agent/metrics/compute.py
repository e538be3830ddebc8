"""The compute agent's own metrics: operations, builds, reports."""
import contextlib
import time

import prometheus_client as prom
from prometheus_client import core

from agent.metrics import guests
from agent.metrics import host

#: instance operations take from milliseconds (fake driver) to minutes (an
#: image download, a soft reboot waiting out its timeout)
OPERATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                     60, 120, 300, 600, float('inf'))


class OperationMetrics:
    """Owned by a ComputeManager; registered in the compute registry."""

    def __init__(self):
        self.duration = prom.Histogram(
            'hvagent_operation_duration_seconds', 'Time instance operations '
            'took on this host (from the conductor\'s start to its finish), '
            'by operation and result (success or error).',
            ['operation', 'result'], buckets=OPERATION_BUCKETS,
            registry=None)
        self.builds = prom.Gauge(
            'hvagent_builds_in_flight', 'Instance builds running now (each '
            'holds one of [compute] max_concurrent_builds).', registry=None)

    def collectors(self):
        return [self.duration, self.builds]

    @contextlib.contextmanager
    def operation(self, name):
        """Time an operation; the body sets ``outcome['ok'] = False`` when
        it failed."""
        outcome = {'ok': True}
        t0 = time.monotonic()
        try:
            yield outcome
        except BaseException:
            outcome['ok'] = False
            raise
        finally:
            self.duration.labels(name, 'success' if outcome['ok']
                                 else 'error').observe(time.monotonic() - t0)

    def build(self):
        return self.builds.track_inprogress()


class ReportAgeCollector:
    """``hvagent_resource_report_age_seconds``: since the tracker's last
    successful report (absent before the first)."""

    def __init__(self, tracker):
        self.tracker = tracker

    def collect(self):
        last = self.tracker.last_report_time
        if last is not None:
            yield core.GaugeMetricFamily(
                'hvagent_resource_report_age_seconds', 'Seconds since the '
                'last successful resource report to the conductor.',
                time.monotonic() - last)


def collectors(driver, operations, tracker, instances_path):
    """Everything hvagent-compute registers besides the common ones."""
    return [host.HostCollector(instances_path),
            guests.GuestCollector(driver, type(driver).__name__),
            ReportAgeCollector(tracker), *operations.collectors()]
