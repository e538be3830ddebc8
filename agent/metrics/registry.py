"""Registries, the build-info metric, the RPC message counter and Guarded."""
import importlib.metadata
import logging

import prometheus_client as prom
from prometheus_client import core

LOG = logging.getLogger(__name__)

#: every RPC message an endpoint handled; ``result`` is success, error (the
#: endpoint answered with an hvagent error such as InstanceNotFound),
#: invalid (refused by its payload check) or exception (anything else).
#: Process-wide (``agent.rpc.expects`` counts for every endpoint), so it is
#: registered in each service's registry rather than in a global one.
RPC_MESSAGES = prom.Counter(
    'hvagent_rpc_messages', 'RPC messages handled by this service\'s '
    'endpoints, by method and result.', ['method', 'result'], registry=None)


def version():
    try:
        return importlib.metadata.version('hvagent')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


class BuildInfo:
    """``hvagent_build_info{version, service} 1``."""

    def __init__(self, service):
        self.service = service
        self.version = version()

    def collect(self):
        info = core.GaugeMetricFamily(
            'hvagent_build_info', 'hvagent version of this service; '
            'always 1.', labels=['version', 'service'])
        info.add_metric([self.version, self.service], 1)
        yield info


class Guarded:
    """A scrape-time collector that never fails the scrape: an exception is
    logged and what the collector yielded before it is kept."""

    def __init__(self, collector, name=None):
        self.collector = collector
        self.name = name or type(collector).__name__

    def collect(self):
        try:
            yield from self.collector.collect()
        except Exception:
            LOG.exception('Metrics collector %s failed; the scrape goes on '
                          'without the rest of its metrics', self.name)


def new(service, *collectors):
    """A fresh registry for ``service`` with process, platform and GC
    collectors, build info, the RPC counter and ``collectors`` (each
    wrapped in Guarded)."""
    reg = prom.CollectorRegistry()
    prom.ProcessCollector(registry=reg)
    prom.PlatformCollector(registry=reg)
    prom.GCCollector(registry=reg)
    reg.register(BuildInfo(service))
    reg.register(RPC_MESSAGES)
    for collector in collectors:
        add(reg, collector)
    return reg


def add(reg, collector):
    """Register a collector: metric objects as they are, scrape-time
    collectors (objects with only ``collect``) guarded."""
    if isinstance(collector, prom.metrics.MetricWrapperBase):
        reg.register(collector)
    else:
        reg.register(Guarded(collector))
