"""The conductor's endpoints against real databases (SQLite, MariaDB,
PostgreSQL): boot bookkeeping, compare-and-swap state changes, claims and
releases, resource reports, heartbeats, actions."""
import datetime
import threading
import time
import uuid

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import context
from agent import exception
from agent import objects
from agent.conductor import agent_calls
from agent.conductor import lifecycle
from agent.db import models
from agent.db import session as db_session
from agent.objects import states
from agent.scheduler import manager as scheduler_manager

CONF = cfg.CONF


def call(method, ctxt, **kwargs):
    """Call an endpoint method directly, re-raising the expected error."""
    try:
        return method(ctxt, **kwargs)
    except messaging.ExpectedException as e:
        raise e.exc_info[1]


class InProcessScheduler:
    def __init__(self, engine):
        self.manager = scheduler_manager.SchedulerManager(engine)

    def select_destination(self, ctxt, spec):
        return self.manager.select(spec)


class RecordingCompute:
    """Stands in for the agent's queue: records each cast."""

    def __init__(self):
        self.casts = []

    def __getattr__(self, method):
        return lambda ctxt, host, uuid_=None, **kw: self.casts.append(
            (method, host, uuid_, kw))


class Cloud:
    def __init__(self, url):
        self.engine = db_session.create_engine(url)
        self.conductor = agent_calls.AgentManager(self.engine)
        self.compute = RecordingCompute()
        self.tasks = lifecycle.LifecycleManager(
            self.engine, InProcessScheduler(self.engine), self.compute)
        self.ctxt = context.RequestContext(user_id='u1', project_id='p1')

    def report(self, host='node1', node_uuid=None, vcpus=4, memory_mb=8192,
               local_gb=100):
        node = objects.ComputeNode(
            uuid=node_uuid or str(uuid.uuid5(uuid.NAMESPACE_DNS, host)),
            host=host, hypervisor_type='fake', vcpus=vcpus,
            memory_mb=memory_mb, local_gb=local_gb)
        call(self.conductor.compute_node_update, self.ctxt, node=node)
        return node

    def boot(self, name='vm', flavor='m1.small', **kw):
        args = dict(name=name, flavor=flavor, image_ref='img',
                    availability_zone=None, hints={}, metadata={},
                    networks=[])
        args.update(kw)
        return call(self.tasks.boot_instance, self.ctxt, **args)

    def node(self, host='node1'):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(models.ComputeNode).where(
                models.ComputeNode.host == host)).one()


@pytest.fixture
def cloud(db_url):
    c = Cloud(db_url)
    yield c
    c.engine.dispose()


def test_boot_claims_records_and_casts(cloud):
    cloud.report()
    inst = cloud.boot(metadata={'a': 'b'})
    assert (inst.vm_state, inst.task_state, inst.host) == \
        (states.BUILDING, states.SCHEDULING, 'node1')
    assert inst.metadata == {'a': 'b'}
    assert cloud.compute.casts == [('build_and_run_instance', 'node1',
                                    inst.uuid, {})]
    node = cloud.node()
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used,
            node.running_vms) == (1, 2048, 20, 1)
    (action,) = call(cloud.tasks.action_list, cloud.ctxt, ref=inst.uuid)
    assert (action.action, action.request_id, action.user_id) == \
        ('create', cloud.ctxt.request_id, 'u1')


def test_no_valid_host_ends_in_error_with_reasons(cloud):
    cloud.report(memory_mb=1024)
    inst = cloud.boot(flavor='m1.medium')
    assert inst.vm_state == states.ERROR and inst.task_state is None
    assert inst.fault.message.startswith('No valid host')
    assert 'RamFilter' in inst.fault.message
    assert cloud.compute.casts == []
    assert cloud.node().memory_mb_used == 0
    (action,) = call(cloud.tasks.action_list, cloud.ctxt, ref=inst.uuid)
    assert action.result == 'Error'
    with pytest.raises(exception.FlavorNotFound):
        cloud.boot(flavor='m1.nope')
    # it never reached a host: the conductor deletes it alone, at once
    gone = call(cloud.tasks.instance_action, cloud.ctxt, ref=inst.uuid,
                action='delete', volume_id=None, connection_info={})
    assert gone.vm_state == states.DELETED and cloud.compute.casts == []
    with cloud.engine.connect() as conn:
        rows = conn.execute(sa.select(
            models.InstanceAction.action, models.InstanceAction.result).where(
            models.InstanceAction.instance_uuid == inst.uuid)).all()
    assert sorted(rows) == [('create', 'Error'), ('delete', 'Success')]


def test_report_keeps_claims_and_guards_identity(cloud):
    node = cloud.report()
    cloud.boot()
    cloud.report(vcpus=8)          # a fresh report must not erase the claim
    row = cloud.node()
    assert (row.vcpus, row.vcpus_used) == (8, 1)
    with pytest.raises(exception.HVAgentError, match='already registered'):
        cloud.report(node_uuid=str(uuid.uuid4()))
    renamed = objects.ComputeNode(uuid=node.uuid, host='other', vcpus=1,
                                  hypervisor_type='fake', memory_mb=1,
                                  local_gb=1)
    with pytest.raises(exception.HVAgentError, match='belongs to host'):
        call(cloud.conductor.compute_node_update, cloud.ctxt, node=renamed)


def test_state_changes_are_compare_and_swap(cloud):
    cloud.report()
    inst = cloud.boot()
    c = cloud.conductor
    call(c.instance_update, cloud.ctxt, instance_uuid=inst.uuid,
         updates={'vm_state': 'active', 'task_state': None,
                  'power_state': 'running'},
         expected_task_state=['scheduling', 'spawning'])
    with pytest.raises(exception.UnexpectedTaskState):
        call(c.instance_update, cloud.ctxt, instance_uuid=inst.uuid,
             updates={'task_state': None}, expected_task_state=['spawning'])
    results = []

    def stop():
        try:
            call(cloud.tasks.instance_action, cloud.ctxt, ref=inst.uuid,
                 action='stop', volume_id=None, connection_info={})
            results.append('ok')
        except exception.HVAgentError as e:
            results.append(type(e).__name__)
    threads = [threading.Thread(target=stop) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count('ok') == 1, results
    assert [c[0] for c in cloud.compute.casts].count('stop_instance') == 1


def test_delete_releases_once(cloud):
    cloud.report()
    inst = cloud.boot()
    call(cloud.tasks.instance_action, cloud.ctxt, ref=inst.uuid,
         action='delete', volume_id=None, connection_info={})
    call(cloud.conductor.instance_destroy, cloud.ctxt,
         instance_uuid=inst.uuid)
    call(cloud.conductor.instance_destroy, cloud.ctxt,
         instance_uuid=inst.uuid)
    node = cloud.node()
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == \
        (0, 0, 0)
    with pytest.raises(exception.InstanceNotFound):
        call(cloud.tasks.instance_show, cloud.ctxt, ref=inst.uuid)


def test_actions_and_events_are_recorded(cloud):
    cloud.report()
    inst = cloud.boot()
    c, rid = cloud.conductor, cloud.ctxt.request_id
    call(c.action_event_start, cloud.ctxt, instance_uuid=inst.uuid,
         request_id=rid, event='compute_build_and_run_instance', host='node1')
    call(c.action_event_finish, cloud.ctxt, instance_uuid=inst.uuid,
         request_id=rid, event='compute_build_and_run_instance',
         result='Error', traceback='Traceback...')
    call(c.instance_fault_create, cloud.ctxt, instance_uuid=inst.uuid,
         message='disk full', details='', host='node1')
    call(c.instance_update, cloud.ctxt, instance_uuid=inst.uuid,
         updates={'vm_state': 'error', 'task_state': None},
         expected_task_state=None)
    (action,) = call(cloud.tasks.action_list, cloud.ctxt, ref=inst.uuid)
    assert (action.result, action.message) == ('Error', 'Error')
    assert [(e.event, e.result, e.host) for e in action.events] == \
        [('compute_build_and_run_instance', 'Error', 'node1')]
    shown = call(cloud.tasks.instance_show, cloud.ctxt, ref='vm')
    assert shown.fault.message == 'disk full'


def test_operations_guard_host_and_task_state_and_record_events(cloud):
    cloud.report()
    inst = cloud.boot()
    c, ctxt = cloud.conductor, cloud.ctxt
    op = dict(instance_uuid=inst.uuid, request_id=ctxt.request_id,
              event='compute_build_and_run_instance')
    spawning = {'vm_state': 'building', 'task_state': 'spawning'}
    with pytest.raises(exception.InstanceNotOnHost):
        call(c.operation_start, ctxt, host='node2', updates=spawning,
             expected_task_state=['scheduling'], **op)
    with pytest.raises(exception.UnexpectedTaskState):
        call(c.operation_start, ctxt, host='node1', updates=spawning,
             expected_task_state=['deleting'], **op)
    started = call(c.operation_start, ctxt, host='node1', updates=spawning,
                   expected_task_state=['scheduling'], **op)
    assert (started.vm_state, started.task_state, started.host) == \
        ('building', 'spawning', 'node1')
    call(c.operation_finish, ctxt, result='Success', host='node1',
         updates={'vm_state': 'active', 'task_state': None,
                  'power_state': 'running'},
         expected_task_state=['spawning'], fault_message=None,
         traceback=None, **op)
    (action,) = call(cloud.tasks.action_list, ctxt, ref=inst.uuid)
    assert (action.result, action.message) == ('Success', None)
    assert action.finish_time is not None
    # the refused starts recorded nothing: one event, finished
    assert [(e.event, e.result, e.finish_time is not None)
            for e in action.events] == [
        ('compute_build_and_run_instance', 'Success', True)]
    shown = call(cloud.tasks.instance_show, ctxt, ref=inst.uuid)
    assert (shown.vm_state, shown.task_state) == ('active', None)


def test_instance_wait_returns_at_a_change_or_once_settled(cloud):
    """Without ``until`` the long poll returns at the first change; with
    it (1.3), only once the instance settles in one of those states."""
    cloud.report()
    c, ctxt = cloud.conductor, cloud.ctxt
    for until, expected in ((None, 'spawning'), (['active'], None)):
        inst = cloud.boot(name='vm-%s' % until)
        seen = [inst.vm_state, inst.task_state, inst.power_state]

        def agent(uuid_=inst.uuid):
            for task, vm_state in (('spawning', 'building'),
                                   (None, 'active')):
                time.sleep(0.3)
                call(c.instance_update, ctxt, instance_uuid=uuid_,
                     updates={'vm_state': vm_state, 'task_state': task},
                     expected_task_state=None)
        worker = threading.Thread(target=agent)
        worker.start()
        got = call(cloud.tasks.instance_wait, ctxt, ref=inst.uuid,
                   seen=seen, timeout=10, until=until)
        worker.join()
        assert got.task_state == expected, until
    with pytest.raises(exception.InstanceNotFound):
        call(cloud.tasks.instance_wait, ctxt, ref=str(uuid.uuid4()),
             seen=seen, timeout=1, until=['active'])


def test_service_down_after_missed_heartbeats(cloud):
    cloud.report()
    hosts = call(cloud.tasks.host_list, cloud.ctxt)
    assert [(h['service'].host, h['service'].up) for h in hosts] == \
        [('node1', True)]
    old = models.utcnow() - datetime.timedelta(
        seconds=CONF.service_down_time + 5)
    with cloud.engine.begin() as conn:
        conn.execute(sa.update(models.Service).values(last_seen_up=old))
    hosts = call(cloud.tasks.host_list, cloud.ctxt)
    assert hosts[0]['service'].up is False
    inst = cloud.boot()
    assert inst.vm_state == states.ERROR
    assert 'ComputeFilter' in inst.fault.message
