"""The agent's own metrics: RPC messages (@expects), operation durations
and builds in flight (ComputeManager), the scheduler's placements, the
conductor's service up/down, and the HTTP endpoint itself."""
import contextlib
import datetime
import socket
import threading
import urllib.request

import oslo_messaging as messaging
import prometheus_client as prom
import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent.db import models
from agent.metrics import controller as controller_metrics
from agent.metrics import registry
from agent.metrics import server as metrics_server
from agent.objects import fields as f
from agent.rpc import checks
from tests.fixtures.fakes import ctxt
from tests.unit.test_compute_manager import BlockingDriver
from tests.unit.test_compute_manager import make_env

CONF = cfg.CONF


def value(metric, **labels):
    reg = prom.CollectorRegistry()
    reg.register(metric)
    name = metric._name + ('_total' if metric._type == 'counter' else '')
    return reg.get_sample_value(name, labels) or 0


class Endpoint:
    @checks.expects(name=f.String(max_length=8))
    def metrics_probe(self, ctxt, name):
        if name == 'missing':
            raise exception.InstanceNotFound(instance=name)
        if name == 'bug':
            raise KeyError(name)
        return name


@pytest.mark.parametrize('name,result', [
    ('ok', 'success'), ('missing', 'error'), ('bug', 'exception'),
    ('far-too-long', 'invalid')])
def test_rpc_messages_counted_by_method_and_result(name, result):
    counter = registry.RPC_MESSAGES
    before = value(counter, method='metrics_probe', result=result)
    with pytest.raises((messaging.ExpectedException, KeyError)) \
            if name != 'ok' else contextlib.nullcontext():
        Endpoint().metrics_probe({'request_id': 'r'}, name=name)
    assert value(counter, method='metrics_probe', result=result) == \
        before + 1


def test_operation_durations_by_operation_and_result(conf):
    env = make_env()
    hist = env.mgr.metrics.duration
    ok = env.conductor.add_instance()
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=ok.uuid)
    bad = env.conductor.add_instance()
    env.driver.fail_next('spawn', RuntimeError('disk full'))
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=bad.uuid)
    # a redelivered build for the active instance is skipped: not timed
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=ok.uuid)
    reg = prom.CollectorRegistry()
    reg.register(hist)
    get = reg.get_sample_value
    build = {'operation': 'build_and_run_instance'}
    assert get('hvagent_operation_duration_seconds_count',
               dict(build, result='success')) == 1
    assert get('hvagent_operation_duration_seconds_count',
               dict(build, result='error')) == 1
    assert get('hvagent_operation_duration_seconds_bucket',
               dict(build, result='success', le='+Inf')) == 1
    assert 0 < get('hvagent_operation_duration_seconds_sum',
                   dict(build, result='success')) < 10


def test_builds_in_flight(conf):
    env = make_env(BlockingDriver())
    gauge = env.mgr.metrics.builds
    insts = [env.conductor.add_instance() for _ in range(2)]
    threads = [threading.Thread(
        target=env.mgr.build_and_run_instance, args=(ctxt(),),
        kwargs={'instance_uuid': i.uuid}) for i in insts]
    for t in threads:
        t.start()
    for _ in threads:
        assert env.driver.started.acquire(timeout=10)
    assert value(gauge) == 2
    env.driver.release.set()
    for t in threads:
        t.join(10)
    assert value(gauge) == 0


def test_scheduler_placements_and_no_valid_host():
    m = controller_metrics.SchedulerMetrics()
    with m.placing():
        pass
    with pytest.raises(exception.NoValidHost):
        with m.placing():
            raise exception.NoValidHost(reason='no host')
    with pytest.raises(RuntimeError):
        with m.placing():
            raise RuntimeError('db gone')
    assert value(m.placements) == 1 and value(m.no_valid_host) == 1
    reg = prom.CollectorRegistry()
    reg.register(m.duration)
    for result in ('placed', 'no_valid_host', 'error'):
        assert reg.get_sample_value('hvagent_scheduler_duration_seconds_count',
                                    {'result': result}) == 1


def test_service_status_from_the_services_table(tmp_path, conf):  # noqa
    conf('service_down_time', 60, group=None)
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'db.sqlite'))
    models.Base.metadata.create_all(engine)
    now = models.utcnow()
    with engine.begin() as c:
        c.execute(sa.insert(models.Service.__table__), [
            dict(host='n1', binary='hvagent-compute', disabled=False,
                 report_count=1, last_seen_up=now, created_at=now),
            dict(host='n2', binary='hvagent-compute', disabled=True,
                 report_count=1, created_at=now,
                 last_seen_up=now - datetime.timedelta(seconds=300)),
            dict(host='n3', binary='hvagent-scheduler', disabled=False,
                 report_count=0, last_seen_up=None, created_at=now)])
    reg = prom.CollectorRegistry()
    registry.add(reg, controller_metrics.ServiceStatusCollector(engine))
    get = reg.get_sample_value
    n1 = {'host': 'n1', 'binary': 'hvagent-compute'}
    n2 = {'host': 'n2', 'binary': 'hvagent-compute'}
    n3 = {'host': 'n3', 'binary': 'hvagent-scheduler'}
    assert get('hvagent_database_up') == 1
    assert (get('hvagent_service_up', n1), get('hvagent_service_up', n2),
            get('hvagent_service_up', n3)) == (1, 0, 0)
    assert get('hvagent_service_disabled', n2) == 1
    assert 295 <= get('hvagent_service_heartbeat_age_seconds', n2) < 400
    assert get('hvagent_service_heartbeat_age_seconds', n3) is None
    engine.dispose()


def test_instances_by_vm_state(tmp_path):
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'db.sqlite'))
    models.Base.metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(sa.insert(models.Flavor.__table__), [dict(
            id=1, name='m1.tiny', vcpus=1, memory_mb=512, root_gb=1)])
        c.execute(sa.insert(models.Instance.__table__), [
            dict(uuid='u%d' % i, name='vm', project_id='p', user_id='u',
                 flavor_id=1, vcpus=1, memory_mb=512, root_gb=1,
                 vm_state=state, deleted=deleted)
            for i, (state, deleted) in enumerate([
                ('active', 0), ('active', 0), ('error', 0), ('building', 0),
                ('deleted', 5)])])
    reg = prom.CollectorRegistry()
    registry.add(reg, controller_metrics.ServiceStatusCollector(engine))
    got = {s.labels['vm_state']: s.value for f in reg.collect()
           if f.name == 'hvagent_instances' for s in f.samples}
    assert got == {'active': 2, 'error': 1, 'building': 1}
    engine.dispose()


def test_service_status_with_the_database_gone(tmp_path):
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'no' / 'db'))
    reg = prom.CollectorRegistry()
    registry.add(reg, controller_metrics.ServiceStatusCollector(engine))
    assert reg.get_sample_value('hvagent_database_up') == 0
    assert reg.get_sample_value('hvagent_service_up',
                                {'host': 'n1', 'binary': 'x'}) is None


# -------------------------------------------------------------- endpoint
def test_registry_has_process_build_info_and_rpc():
    reg = registry.new('hvagent-test')
    names = {f.name for f in reg.collect()}
    assert {'process_cpu_seconds', 'python_info',
            'python_gc_objects_collected', 'hvagent_build_info',
            'hvagent_rpc_messages'} <= names
    assert reg.get_sample_value('hvagent_build_info', {
        'version': registry.version(), 'service': 'hvagent-test'}) == 1


def test_disabled_by_default_serves_nothing(conf):
    assert CONF.metrics.enabled is False
    assert metrics_server.serve('hvagent-test', 'compute_port') is None


def test_serves_over_http_and_fails_clearly_on_a_taken_port(conf):  # noqa
    conf('enabled', True, group='metrics')
    conf('compute_port', 0, group='metrics')
    srv = metrics_server.serve('hvagent-test', 'compute_port')
    try:
        assert srv.host == '127.0.0.1' and srv.port > 0
        body = urllib.request.urlopen(srv.url, timeout=10).read()
        assert b'hvagent_build_info{service="hvagent-test"' in body
        with pytest.raises(metrics_server.MetricsServerError,
                           match=r'cannot serve metrics on '
                                 r'127\.0\.0\.1 port %d: Address already in '
                                 r'use' % srv.port):
            metrics_server.MetricsServer(srv.registry, '127.0.0.1', srv.port,
                                         'hvagent-test')
    finally:
        srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', srv.port), timeout=2)


def test_build_with_metrics_closes_the_endpoint_if_the_build_fails(
        conf):
    conf('enabled', True, group='metrics')
    conf('compute_port', 0, group='metrics')
    seen = []

    def build(metrics):
        seen.append(metrics)
        raise exception.HVAgentError('conductor unreachable')
    with pytest.raises(exception.HVAgentError):
        metrics_server.build_with_metrics('hvagent-test', 'compute_port',
                                          build)
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', seen[0].port), timeout=2)
