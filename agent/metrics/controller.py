"""Metrics of the central services: the scheduler's placements and the
conductor's view of every service's heartbeat."""
import contextlib
import datetime
import logging
import time

import prometheus_client as prom
from oslo_config import cfg
from prometheus_client import core

from agent import exception
from agent.db import api as db
from agent.db import models
from agent.db import session as db_session

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

SCHEDULING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                      0.5, 1, 2.5, 5, float('inf'))


class SchedulerMetrics:
    """Owned by a SchedulerManager; registered in the scheduler registry."""

    def __init__(self):
        self.placements = prom.Counter(
            'hvagent_scheduler_placements', 'Instances this scheduler '
            'placed (host claimed).', registry=None)
        self.no_valid_host = prom.Counter(
            'hvagent_scheduler_no_valid_host', 'Requests no host could '
            'take (the instance ends in error).', registry=None)
        self.duration = prom.Histogram(
            'hvagent_scheduler_duration_seconds', 'Time to place one '
            'instance (filter, weigh, claim), by result (placed, '
            'no_valid_host, error).', ['result'], buckets=SCHEDULING_BUCKETS,
            registry=None)

    def collectors(self):
        return [self.placements, self.no_valid_host, self.duration]

    @contextlib.contextmanager
    def placing(self):
        t0 = time.monotonic()
        result = 'error'
        try:
            yield
            result = 'placed'
            self.placements.inc()
        except exception.NoValidHost:
            result = 'no_valid_host'
            self.no_valid_host.inc()
            raise
        finally:
            self.duration.labels(result).observe(time.monotonic() - t0)


class ServiceStatusCollector:
    """``hvagent_service_up{host, binary}`` (1 if the service's heartbeat
    is younger than service_down_time), ``hvagent_service_disabled`` and
    ``hvagent_service_heartbeat_age_seconds``, read from the services table
    at scrape time, and ``hvagent_instances{vm_state}`` (live instances by
    state, one GROUP BY); ``hvagent_database_up`` says whether that
    worked."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        try:
            with db_session.session_scope(self.engine) as s:
                rows = [(r.host, r.binary, bool(r.disabled), r.last_seen_up)
                        for r in db.service_list(s)]
                by_state = db.instance_count_by_vm_state(s)
        except Exception as e:
            LOG.warning('Service metrics: the database did not answer: '
                        '%s: %s', type(e).__name__, e)
            rows = None
        yield core.GaugeMetricFamily(
            'hvagent_database_up', 'Whether the conductor could read the '
            'database for this scrape.', 0 if rows is None else 1)
        if rows is None:
            return
        labels = ['host', 'binary']
        up = core.GaugeMetricFamily(
            'hvagent_service_up', 'Whether the service\'s last heartbeat is '
            'younger than service_down_time.', labels=labels)
        disabled = core.GaugeMetricFamily(
            'hvagent_service_disabled', 'Whether the service is disabled.',
            labels=labels)
        age = core.GaugeMetricFamily(
            'hvagent_service_heartbeat_age_seconds', 'Seconds since the '
            'service\'s last heartbeat.', labels=labels)
        now = models.utcnow()
        down_after = datetime.timedelta(seconds=CONF.service_down_time)
        for host, binary, is_disabled, seen in rows:
            alive = seen is not None and now - seen <= down_after
            up.add_metric([host, binary], int(alive))
            disabled.add_metric([host, binary], int(is_disabled))
            if seen is not None:
                age.add_metric([host, binary],
                               max((now - seen).total_seconds(), 0))
        yield up
        yield disabled
        yield age
        instances = core.GaugeMetricFamily(
            'hvagent_instances', 'Instances in the database (not deleted), '
            'by vm_state.', labels=['vm_state'])
        for state, count in sorted(by_state.items()):
            instances.add_metric([state], count)
        yield instances
