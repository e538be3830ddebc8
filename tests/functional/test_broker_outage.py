"""RabbitMQ stopped for OUTAGE_SECONDS, then started again, under the three
real services (conductor, scheduler, compute agent with the fake driver).

The broker is a private node (tests/fixtures/private_broker.py): the
machine's shared one serves other tests and is never stopped. While it is
away (``rabbitmqctl stop_app``) the agent logs the loss once, within
``[oslo_messaging_rabbit] heartbeat_timeout_threshold`` (HEARTBEAT_TIMEOUT,
set small here), the guest keeps running (the agent's /metrics, which does
not need the bus, says so), the resource report fails and is retried one
log line per attempt, and every service shows down in the database. After
``start_app`` the agent consumes its queue again within RECONNECT_LIMIT
seconds, the report it kept retrying arrives at once, everything is up
again, and none of CASTS casts sent after recovery is lost. The figures
are printed (run with -s) for docs/reliability.md.

A cast the conductor sends after a broker restart but before the agent has
re-declared its queue (the agent frozen with SIGSTOP meanwhile) is sent
again until the queue is there, not dropped by the broker.
"""
import re
import signal
import threading
import time

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.db import api as db
from agent.db import session as db_session
from agent.db import to_objects
from agent.objects import states
from tests.fixtures import deployment
from tests.fixtures.deployment import settle
from tests.fixtures.waiting import assert_stays
from tests.fixtures.waiting import wait_until
from tests.functional import prometheus

pytestmark = pytest.mark.functional

OUTAGE_SECONDS = 30         # the issue: RabbitMQ stopped 30 s
# [oslo_messaging_rabbit] heartbeat_timeout_threshold, small here
HEARTBEAT_TIMEOUT = 10
RECONNECT_LIMIT = 10        # consuming again within 10 s of the return
REPORT_INTERVAL = 5         # [DEFAULT] report_interval (heartbeats, reports)
SERVICE_DOWN_TIME = 12      # [DEFAULT] service_down_time
REPORT_RETRY_MAX = 2        # [compute] report_retry_max_interval
CASTS = 20                  # boots after recovery, each a cast to the agent
AGENT_PAUSE = 5             # agent frozen (SIGSTOP) across a broker restart
HOST = 'hvtest-outage'
COMPUTE_QUEUE = 'compute.%s' % HOST


class Watch:
    """Reads the conductor's database directly: the bus is down, so no
    RPC can ask the conductor while the broker is away."""

    def __init__(self, db_url):
        self.engine = sa.create_engine(db_url)

    def services(self):
        with db_session.session_scope(self.engine) as s:
            return {r.binary: to_objects.service(r, SERVICE_DOWN_TIME).up
                    for r in db.service_list(s)}

    def reported_at(self):
        with db_session.session_scope(self.engine) as s:
            return {n.host: n.reported_at
                    for n in db.compute_node_list(s)}.get(HOST)


def guest_states(port):
    """{uuid: power state} the agent's driver reports on /metrics."""
    text = prometheus.scrape('http://127.0.0.1:%d/metrics' % port)
    return {s.labels['uuid']: s.labels['state']
            for fam in text_string_to_metric_families(text.decode())
            if fam.name == 'hvagent_domain_state'
            for s in fam.samples if s.value == 1}


def seconds_until(predicate, timeout, what, step=0.1):
    """Poll ``predicate`` until it is truthy; return the seconds taken."""
    t0 = time.monotonic()
    wait_until(predicate, timeout, interval=step, message='no %s' % what)
    return time.monotonic() - t0


@pytest.fixture
def cloud(tmp_path, private_broker, rpc_client_transport):
    db_url = 'sqlite:///%s' % (tmp_path / 'hv.sqlite')
    metrics_port = prometheus.free_port()
    dep = deployment.Deployment(tmp_path, private_broker.url, db_url,
                                host=HOST, extra={
        'DEFAULT': {'report_interval': REPORT_INTERVAL,
                    'service_down_time': SERVICE_DOWN_TIME},
        'compute': {'report_retry_max_interval': REPORT_RETRY_MAX},
        'oslo_messaging_rabbit': {
            'heartbeat_timeout_threshold': HEARTBEAT_TIMEOUT},
        'metrics': {'enabled': True, 'compute_port': metrics_port,
                    'conductor_port': prometheus.free_port(),
                    'scheduler_port': prometheus.free_port()}})
    try:
        dep.start()
        rpc_client_transport(private_broker.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.broker, dep.watch = private_broker, Watch(db_url)
        dep.metrics_port = metrics_port
        seconds_until(lambda: all(dep.watch.services().get(b)
                             for b in deployment.SERVICES), 60,
                 'services up')
        yield dep
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


def boot(cloud, name):
    return cloud.conductor.boot_instance(
        cloud.ctxt, name=name, flavor='m1.tiny', image_ref='cirros',
        availability_zone=None, hints={}, metadata={}, networks=[])


def outage_lines(log, start):
    """Lines logged by a service since offset ``start`` about the bus."""
    return [line for line in log[start:].splitlines()
            if re.search(r'unreachable|Connection failed|Resource report|'
                         r'message bus|Traceback', line)]


def test_broker_outage(cloud):
    broker, watch = cloud.broker, cloud.watch
    inst = settle(cloud, boot(cloud, 'survivor').uuid)
    assert (inst.vm_state, inst.power_state) == (states.ACTIVE,
                                                 states.RUNNING)
    assert broker.consumers().get(COMPUTE_QUEUE) == 1
    marks = {name: len(cloud.log(name)) for name in deployment.SERVICES}
    figures = {'broker start (s)': broker.start_seconds}

    # ---- the broker goes away
    broker.stop_app()
    t_stop = time.monotonic()
    figures['agent noticed (s)'] = seconds_until(
        lambda: outage_lines(cloud.log('hvagent-compute'),
                             marks['hvagent-compute']),
        HEARTBEAT_TIMEOUT, 'log line about the lost bus in the agent')
    seen_down = {}

    def holding_up():
        for binary, up in watch.services().items():
            if not up:
                seen_down.setdefault(binary, time.monotonic() - t_stop)
        # the guest keeps running: the driver, not the bus, says so
        return (guest_states(cloud.metrics_port)[inst.uuid] == 'running'
                and all(p.poll() is None for p in cloud.procs.values()))
    assert_stays(holding_up, max(0, OUTAGE_SECONDS - (time.monotonic()
                                                      - t_stop)),
                 interval=1, message=lambda: 'the guest running, no service '
                 'dead during the outage: %s, exit codes %s' % (
                     guest_states(cloud.metrics_port),
                     {n: p.poll() for n, p in cloud.procs.items()}))
    assert set(seen_down) == set(deployment.SERVICES), seen_down
    figures.update({'%s down after (s)' % b: t for b, t in seen_down.items()})
    reported_before = watch.reported_at()

    # ---- the broker comes back
    broker.ctl('start_app')
    t_start = time.monotonic()
    figures['agent consuming after (s)'] = seconds_until(
        lambda: broker.consumers().get(COMPUTE_QUEUE), RECONNECT_LIMIT,
        'consumer on %s after start_app' % COMPUTE_QUEUE)
    figures['conductor consuming after (s)'] = time.monotonic() - t_start \
        + seconds_until(lambda: broker.consumers().get('conductor'),
                   RECONNECT_LIMIT, 'consumer on conductor')
    figures['first report after (s)'] = time.monotonic() - t_start \
        + seconds_until(lambda: watch.reported_at() != reported_before,
                   RECONNECT_LIMIT, 'resource report after start_app')
    figures['all services up after (s)'] = time.monotonic() - t_start \
        + seconds_until(lambda: all(watch.services().values()),
                   RECONNECT_LIMIT + REPORT_INTERVAL, 'services up again')

    # one clear line per kind of trouble, no traceback; the report is
    # retried one line per attempt and then delivered
    compute_log = cloud.log('hvagent-compute')[marks['hvagent-compute']:]
    assert 'Traceback' not in compute_log
    assert len(re.findall('is unreachable', compute_log)) == 1, compute_log
    retries = re.findall(r'Resource report to the conductor failed '
                         r'\(attempt (\d+)', compute_log)
    assert len(retries) >= 2 and retries == [
        str(n) for n in range(1, len(retries) + 1)], compute_log
    assert re.search(r'Resource report delivered to the conductor on '
                     r'attempt %d' % (len(retries) + 1), compute_log), \
        compute_log
    for name in ('hvagent-conductor', 'hvagent-scheduler'):
        log = cloud.log(name)[marks[name]:]
        assert 'Traceback' not in log, log
        assert log.count('cannot reach its own queue') == 1, log
        assert 'message bus back after' in log, log

    # ---- the guest ran through it; the conductor serves calls again
    inst = settle(cloud, inst.uuid)
    assert (inst.vm_state, inst.power_state) == (states.ACTIVE,
                                                 states.RUNNING)
    assert guest_states(cloud.metrics_port)[inst.uuid] == 'running'
    hosts = cloud.conductor.host_list(cloud.ctxt)
    assert all(h['service'].up for h in hosts), hosts

    # ---- no cast sent after recovery is lost
    t0 = time.monotonic()
    uuids = [boot(cloud, 'after-%d' % i).uuid for i in range(CASTS)]
    cloud.conductor.instance_action(cloud.ctxt, ref=inst.uuid,
                                    action='stop', volume_id=None,
                                    connection_info={})
    ends = [settle(cloud, u, timeout=60) for u in uuids]
    assert [(i.vm_state, i.power_state) for i in ends] == \
        [(states.ACTIVE, states.RUNNING)] * CASTS
    assert settle(cloud, inst.uuid).vm_state == states.STOPPED
    figures['casts after recovery sent/processed'] = '%d/%d in %.1f s' % (
        CASTS + 1, sum(i.vm_state == states.ACTIVE for i in ends) + 1,
        time.monotonic() - t0)
    print('\nbroker outage of %d s: %s' % (OUTAGE_SECONDS, '; '.join(
        '%s: %s' % (k, '%.1f' % v if isinstance(v, float) else v)
        for k, v in figures.items())))


def test_cast_before_the_agent_is_back_is_not_lost(cloud):
    broker = cloud.broker
    inst = settle(cloud, boot(cloud, 'late').uuid)
    agent = cloud.procs['hvagent-compute']
    mark = len(cloud.log('hvagent-conductor'))
    agent.send_signal(signal.SIGSTOP)
    try:
        broker.stop_app()
        broker.ctl('start_app')
        seconds_until(lambda: broker.consumers().get('conductor'),
                 RECONNECT_LIMIT, 'consumer on conductor')
        # the queue went with the broker; the frozen agent cannot make it
        assert COMPUTE_QUEUE not in broker.consumers()
        threading.Timer(AGENT_PAUSE, agent.send_signal,
                        (signal.SIGCONT,)).start()
        t0 = time.monotonic()
        cloud.conductor.instance_action(cloud.ctxt, ref=inst.uuid,
                                        action='stop', volume_id=None,
                                        connection_info={})
        held = time.monotonic() - t0
    finally:
        agent.send_signal(signal.SIGCONT)
    # the conductor kept sending the cast until the agent's queue took it
    assert held >= AGENT_PAUSE - 1, held
    inst = settle(cloud, inst.uuid)
    assert (inst.vm_state, inst.power_state) == (states.STOPPED,
                                                 states.SHUTDOWN)
    log = cloud.log('hvagent-conductor')[mark:]
    assert 'stop_instance to %s: no such queue yet' % COMPUTE_QUEUE in log
    assert 'Traceback' not in log, log
    print('\ncast held by the conductor for %.1f s until the agent '
          're-declared %s' % (held, COMPUTE_QUEUE))
