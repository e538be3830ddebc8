"""/metrics of the real services, checked by Prometheus' own tools.

conductor, scheduler and compute agent (fake driver) run as real processes
over RabbitMQ with [metrics] enabled on free loopback ports; after a few
boots each endpoint must pass ``promtool check metrics`` with no output, a
real Prometheus server scraping the agent every second must answer the
guest count through PromQL, and a taken port must fail the start clearly.
"""
import contextlib
import re
import socket

import pytest
from prometheus_client import parser

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states
from tests.fixtures import deployment
from tests.fixtures.waiting import WaitTimeout
from tests.fixtures.waiting import wait_until
from tests.functional import prometheus

pytestmark = pytest.mark.functional

GUESTS = 3


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in parser.text_string_to_metric_families(text.decode())
            for s in fam.samples}


@pytest.fixture
def cloud(tmp_path, vhost, rpc_client_transport):
    ports = {name: prometheus.free_port()
             for name in ('compute', 'conductor', 'scheduler')}
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        extra={'metrics': dict(enabled=True, **{
            '%s_port' % n: p for n, p in ports.items()})})
    try:
        dep.start()
        rpc_client_transport(vhost.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.ready()
        dep.urls = {n: 'http://127.0.0.1:%d/metrics' % p
                    for n, p in ports.items()}
        dep.ports = ports
        yield dep
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


def boot(dep, n):
    uuids = [dep.conductor.boot_instance(
        dep.ctxt, name='vm-%d' % i, flavor='m1.tiny', image_ref='cirros',
        availability_zone=None, hints={}, metadata={}, networks=[]).uuid
        for i in range(n)]
    wait_until(lambda: all(
        dep.conductor.instance_show(dep.ctxt, ref=u).vm_state ==
        states.ACTIVE for u in uuids), 60, interval=0.05,
        message=lambda: dep.log('hvagent-compute'))
    return uuids


def test_live_scrapes_pass_promtool_and_prometheus_counts_guests(
        cloud, tmp_path):
    prometheus.require('promtool')
    uuids = boot(cloud, GUESTS)
    # the agent counts a message once its handler returns, which is just
    # after the instance shows active: wait for the last count
    built = ('hvagent_rpc_messages_total', frozenset(
        {'method': 'build_and_run_instance', 'result': 'success'}.items()))
    with contextlib.suppress(WaitTimeout):   # the asserts below say why
        wait_until(lambda: samples(prometheus.scrape(
            cloud.urls['compute'])).get(built) == GUESTS, 10, interval=0.05)
    texts = {n: prometheus.scrape(u) for n, u in cloud.urls.items()}
    for name, text in texts.items():
        code, out = prometheus.promtool_check(text)
        assert (code, out) == (0, ''), (name, out)

    compute = samples(texts['compute'])
    assert compute[('hvagent_domains', frozenset())] == GUESTS
    labels = frozenset({'uuid': uuids[0], 'name': 'vm-0', 'project': 'p1',
                        'state': 'running'}.items())
    assert compute[('hvagent_domain_state', labels)] == 1
    assert compute[built] == GUESTS
    assert compute[('hvagent_operation_duration_seconds_count', frozenset(
        {'operation': 'build_and_run_instance',
         'result': 'success'}.items()))] == GUESTS
    assert compute[('hvagent_hypervisor_up',
                    frozenset({'driver': 'FakeDriver'}.items()))] == 1
    assert 0 <= compute[('hvagent_resource_report_age_seconds',
                         frozenset())] < 30
    assert compute[('hvagent_host_memory_total_bytes', frozenset())] > 0
    assert any(n == 'process_cpu_seconds_total' for n, _ in compute)

    scheduler = samples(texts['scheduler'])
    assert scheduler[('hvagent_scheduler_placements_total',
                      frozenset())] == GUESTS
    assert scheduler[('hvagent_rpc_messages_total', frozenset(
        {'method': 'select_destination', 'result': 'success'}.items()))] \
        == GUESTS
    conductor = samples(texts['conductor'])
    for binary in deployment.SERVICES:
        assert conductor[('hvagent_service_up', frozenset(
            {'host': cloud.host, 'binary': binary}.items()))] == 1
    assert conductor[('hvagent_database_up', frozenset())] == 1

    target = '127.0.0.1:%d' % cloud.ports['compute']
    with prometheus.PrometheusServer(str(tmp_path),
                                     {'hvagent-compute': target}) as prom:
        [(labels, value)] = prom.wait_for(
            'hvagent_domains', lambda r: r and r[0][1] == GUESTS)
        assert labels['job'] == 'hvagent-compute'
        assert labels['instance'] == target
        [(_, up)] = prom.query('up{job="hvagent-compute"}')
        assert up == 1
        # a counter Prometheus can rate: some guest disk read something
        reads = prom.wait_for(
            'sum(hvagent_domain_block_stats_read_bytes_total)',
            lambda r: r and r[0][1] > 0)
        assert reads[0][1] > 0


def test_taken_port_fails_the_start_clearly(tmp_path, vhost):
    with socket.socket() as holder:
        holder.bind(('127.0.0.1', 0))
        holder.listen()
        port = holder.getsockname()[1]
        dep = deployment.Deployment(
            tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
            extra={'metrics': {'enabled': True, 'compute_port': port}})
        dep.start('hvagent-compute')
        proc = dep.procs['hvagent-compute']
        # a configuration refusal: status 78 (no restart by systemd) and
        # one line, no traceback
        assert proc.wait(60) == 78
    log = dep.log('hvagent-compute')
    assert re.fullmatch(r'\S+ \S+ ERROR agent\.daemon\.service: hvagent-compute '
                        r'cannot start: cannot serve metrics on 127\.0\.0\.1 '
                        r'port %d: Address already in use \(.*\)\n'
                        % port, log), log
