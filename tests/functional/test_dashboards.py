"""Every Grafana panel's PromQL, run by a real Prometheus over the real
services.

conductor, scheduler and compute agent (fake driver) run as in
test_metrics.py, with guests booted; a Prometheus scrapes the three
endpoints every second. Each target of each dashboard in etc/grafana, with
the template variables substituted (``$host``: the agent's scrape address,
as the dashboard's variable query finds it), must be accepted by the HTTP
API, and every hvagent metric it names must be in a live exposition and in
Prometheus: renaming a metric breaks this test. The fake driver's guests
have NICs only on real networks (bridges, dnsmasq), so the per-NIC names
are looked up in the exposition the agent's own GuestCollector renders for
a guest with a NIC.
"""
import json
import re

import pytest
from prometheus_client import parser

from agent import exception
from agent.metrics import exposition
from agent.metrics import guests
from agent.metrics import registry
from tests.functional import prometheus
from tests.functional import test_metrics
from tools import grafana
from virt import driver

pytestmark = pytest.mark.functional

cloud = test_metrics.cloud
METRIC = re.compile(r'\b(hvagent_[a-z0-9_]+|up)\b(?!\s*\()')
#: a few scrapes at 1 s: what $__rate_interval is on a 1 s scrape interval
RATE_INTERVAL = '10s'


def sample_names(text):
    return {s.name for fam in parser.text_string_to_metric_families(
        text.decode()) for s in fam.samples}


class _OneGuestWithANic:
    @staticmethod
    def get_guest_stats():
        return [driver.GuestStats(
            uuid='u1', name='vm', project_id='p1', power_state='running',
            vcpus=1, vcpu_time_ns=(1,), disks=(driver.BlockStats('vda'),),
            interfaces=(driver.InterfaceStats('tap0', rx_bytes=1),))]


def nic_exposition():
    """What hvagent-compute serves for a guest with a NIC."""
    reg = registry.new('hvagent-compute', guests.GuestCollector(
        _OneGuestWithANic(), 'FakeDriver'))
    return exposition.render(reg)


def targets():
    """[(dashboard, panel title, expr)] of every dashboard."""
    return [(name, p['title'], t['expr'])
            for name in sorted(grafana.dashboards())
            for p in json.loads((grafana.OUT / name).read_text())['panels']
            for t in p.get('targets', [])]


def test_every_panel_query_runs_on_real_metrics(cloud, tmp_path):
    test_metrics.boot(cloud, 2)
    # an RPC error answer, for the RPC errors panel
    with pytest.raises(exception.InstanceNotFound):
        cloud.conductor.instance_show(cloud.ctxt, ref='no-such-server')
    exposed = set()
    for url in cloud.urls.values():
        exposed |= sample_names(prometheus.scrape(url))
    live = set(exposed)
    exposed |= sample_names(nic_exposition())
    jobs = {'hvagent-' + n: '127.0.0.1:%d' % p
            for n, p in cloud.ports.items()}
    with prometheus.PrometheusServer(str(tmp_path), jobs) as prom:
        # a few scrapes of every target within the rate window: rates answer
        prom.wait_for('count(count_over_time(up{job=~"hvagent.*"}[%s]) >= 4)'
                      % RATE_INTERVAL, lambda r: r and r[0][1] == len(jobs))
        variable = grafana.HOST_VARIABLE['query']['query']
        [(series, _)] = prom.query(
            re.fullmatch(r'label_values\((.*), instance\)', variable)[1])
        host = series['instance']
        assert host == jobs['hvagent-compute']

        empty = []
        for board, title, expr in targets():
            promql = expr.replace('$__rate_interval', RATE_INTERVAL) \
                .replace('$host', host)
            assert '$' not in promql, (board, title, promql)
            names = set(METRIC.findall(promql))
            assert names, (board, title, promql)
            missing = names - exposed - {'up'}   # up: Prometheus' own
            assert not missing, ('%s / %s names metrics no service exposes: '
                                 '%s' % (board, title, sorted(missing)))
            for name in names & live:
                assert prom.query('count({__name__="%s"})' % name), name
            if not prom.query(promql):   # asserts status success
                empty.append((title, names <= live))
        # the conductor counts the booted instances by vm_state
        [(_, active)] = prom.query(
            'max by (vm_state) (hvagent_instances{vm_state="active"})')
        assert active == 2
        # on this live cloud every panel has data but the guest NIC ones
        assert empty == [('Guest network receive', False),
                         ('Guest network transmit', False)], empty
