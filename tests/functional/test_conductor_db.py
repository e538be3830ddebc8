"""The conductor's endpoints against real databases (SQLite, MariaDB,
PostgreSQL): boot bookkeeping, compare-and-swap state changes, claims and
releases, resource reports, heartbeats, actions."""
import datetime
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent import objects
from agent.db import models
from agent.objects import states
from tests.fixtures.conductor import call

CONF = cfg.CONF


def test_boot_claims_records_and_casts(db_cloud):
    db_cloud.report()
    inst = db_cloud.boot(metadata={'a': 'b'})
    assert (inst.vm_state, inst.task_state, inst.host) == \
        (states.BUILDING, states.SCHEDULING, 'node1')
    assert inst.metadata == {'a': 'b'}
    assert db_cloud.compute.casts == [('build_and_run_instance', 'node1',
                                    inst.uuid, {})]
    node = db_cloud.node()
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used,
            node.running_vms) == (1, 2048, 20, 1)
    (action,) = call(db_cloud.tasks.action_list, db_cloud.ctxt, ref=inst.uuid)
    assert (action.action, action.request_id, action.user_id) == \
        ('create', db_cloud.ctxt.request_id, 'u1')


def test_no_valid_host_ends_in_error_with_reasons(db_cloud):
    db_cloud.report(memory_mb=1024)
    inst = db_cloud.boot(flavor='m1.medium')
    assert inst.vm_state == states.ERROR and inst.task_state is None
    assert inst.fault.message.startswith('No valid host')
    assert 'RamFilter' in inst.fault.message
    assert db_cloud.compute.casts == []
    assert db_cloud.node().memory_mb_used == 0
    (action,) = call(db_cloud.tasks.action_list, db_cloud.ctxt, ref=inst.uuid)
    assert action.result == 'Error'
    with pytest.raises(exception.FlavorNotFound):
        db_cloud.boot(flavor='m1.nope')
    # it never reached a host: the conductor deletes it alone, at once
    gone = call(db_cloud.tasks.instance_action, db_cloud.ctxt, ref=inst.uuid,
                action='delete', volume_id=None, connection_info={})
    assert gone.vm_state == states.DELETED and db_cloud.compute.casts == []
    with db_cloud.engine.connect() as conn:
        rows = conn.execute(sa.select(
            models.InstanceAction.action, models.InstanceAction.result).where(
            models.InstanceAction.instance_uuid == inst.uuid)).all()
    assert sorted(rows) == [('create', 'Error'), ('delete', 'Success')]


def test_report_keeps_claims_and_guards_identity(db_cloud):
    node = db_cloud.report()
    db_cloud.boot()
    db_cloud.report(vcpus=8)          # a fresh report must not erase the claim
    row = db_cloud.node()
    assert (row.vcpus, row.vcpus_used) == (8, 1)
    with pytest.raises(exception.HVAgentError, match='already registered'):
        db_cloud.report(node_uuid=str(uuid.uuid4()))
    renamed = objects.ComputeNode(uuid=node.uuid, host='other', vcpus=1,
                                  hypervisor_type='fake', memory_mb=1,
                                  local_gb=1)
    with pytest.raises(exception.HVAgentError, match='belongs to host'):
        call(db_cloud.conductor.compute_node_update, db_cloud.ctxt, node=renamed)


def test_state_changes_are_compare_and_swap(db_cloud):
    db_cloud.report()
    inst = db_cloud.boot()
    c = db_cloud.conductor
    call(c.instance_update, db_cloud.ctxt, instance_uuid=inst.uuid,
         updates={'vm_state': 'active', 'task_state': None,
                  'power_state': 'running'},
         expected_task_state=['scheduling', 'spawning'])
    with pytest.raises(exception.UnexpectedTaskState):
        call(c.instance_update, db_cloud.ctxt, instance_uuid=inst.uuid,
             updates={'task_state': None}, expected_task_state=['spawning'])
    results = []

    def stop():
        try:
            call(db_cloud.tasks.instance_action, db_cloud.ctxt, ref=inst.uuid,
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
    assert [c[0] for c in db_cloud.compute.casts].count('stop_instance') == 1


def test_delete_releases_once(db_cloud):
    db_cloud.report()
    inst = db_cloud.boot()
    call(db_cloud.tasks.instance_action, db_cloud.ctxt, ref=inst.uuid,
         action='delete', volume_id=None, connection_info={})
    call(db_cloud.conductor.instance_destroy, db_cloud.ctxt,
         instance_uuid=inst.uuid)
    call(db_cloud.conductor.instance_destroy, db_cloud.ctxt,
         instance_uuid=inst.uuid)
    node = db_cloud.node()
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == \
        (0, 0, 0)
    with pytest.raises(exception.InstanceNotFound):
        call(db_cloud.tasks.instance_show, db_cloud.ctxt, ref=inst.uuid)


def test_actions_and_events_are_recorded(db_cloud):
    db_cloud.report()
    inst = db_cloud.boot()
    c, rid = db_cloud.conductor, db_cloud.ctxt.request_id
    call(c.action_event_start, db_cloud.ctxt, instance_uuid=inst.uuid,
         request_id=rid, event='compute_build_and_run_instance', host='node1')
    call(c.action_event_finish, db_cloud.ctxt, instance_uuid=inst.uuid,
         request_id=rid, event='compute_build_and_run_instance',
         result='Error', traceback='Traceback...')
    call(c.instance_fault_create, db_cloud.ctxt, instance_uuid=inst.uuid,
         message='disk full', details='', host='node1')
    call(c.instance_update, db_cloud.ctxt, instance_uuid=inst.uuid,
         updates={'vm_state': 'error', 'task_state': None},
         expected_task_state=None)
    (action,) = call(db_cloud.tasks.action_list, db_cloud.ctxt, ref=inst.uuid)
    assert (action.result, action.message) == ('Error', 'Error')
    assert [(e.event, e.result, e.host) for e in action.events] == \
        [('compute_build_and_run_instance', 'Error', 'node1')]
    shown = call(db_cloud.tasks.instance_show, db_cloud.ctxt, ref='vm')
    assert shown.fault.message == 'disk full'


def test_operations_guard_host_and_task_state_and_record_events(db_cloud):
    db_cloud.report()
    inst = db_cloud.boot()
    c, ctxt = db_cloud.conductor, db_cloud.ctxt
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
    # sent again, as an agent does when the first answer was lost: the
    # start holds and its event is not opened twice
    call(c.operation_start, ctxt, host='node1', updates=spawning,
         expected_task_state=['scheduling', 'spawning'], **op)
    call(c.operation_finish, ctxt, result='Success', host='node1',
         updates={'vm_state': 'active', 'task_state': None,
                  'power_state': 'running'},
         expected_task_state=['spawning'], fault_message=None,
         traceback=None, **op)
    (action,) = call(db_cloud.tasks.action_list, ctxt, ref=inst.uuid)
    assert (action.result, action.message) == ('Success', None)
    assert action.finish_time is not None
    # the refused starts recorded nothing, the resent one no second
    # event: one event, finished
    assert [(e.event, e.result, e.finish_time is not None)
            for e in action.events] == [
        ('compute_build_and_run_instance', 'Success', True)]
    shown = call(db_cloud.tasks.instance_show, ctxt, ref=inst.uuid)
    assert (shown.vm_state, shown.task_state) == ('active', None)


def test_instance_wait_returns_at_a_change_or_once_settled(db_cloud):
    """Without ``until`` the long poll returns at the first change; with
    it (1.3), only once the instance settles in one of those states."""
    db_cloud.report()
    c, ctxt = db_cloud.conductor, db_cloud.ctxt
    for until, expected in ((None, 'spawning'), (['active'], None)):
        inst = db_cloud.boot(name='vm-%s' % until)
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
        got = call(db_cloud.tasks.instance_wait, ctxt, ref=inst.uuid,
                   seen=seen, timeout=10, until=until)
        worker.join()
        assert got.task_state == expected, until
    with pytest.raises(exception.InstanceNotFound):
        call(db_cloud.tasks.instance_wait, ctxt, ref=str(uuid.uuid4()),
             seen=seen, timeout=1, until=['active'])


def test_service_down_after_missed_heartbeats(db_cloud):
    db_cloud.report()
    hosts = call(db_cloud.tasks.host_list, db_cloud.ctxt)
    assert [(h['service'].host, h['service'].up) for h in hosts] == \
        [('node1', True)]
    old = models.utcnow() - datetime.timedelta(
        seconds=CONF.service_down_time + 5)
    with db_cloud.engine.begin() as conn:
        conn.execute(sa.update(models.Service).values(last_seen_up=old))
    hosts = call(db_cloud.tasks.host_list, db_cloud.ctxt)
    assert hosts[0]['service'].up is False
    inst = db_cloud.boot()
    assert inst.vm_state == states.ERROR
    assert 'ComputeFilter' in inst.fault.message


def _service(db_cloud, host='node1'):
    with db_cloud.engine.connect() as conn:
        return conn.execute(sa.select(models.Service).where(
            models.Service.host == host)).one()


def test_known_nodes_reports_are_written_together(db_cloud):
    """A node's first report is checked and written at once; the next
    ones of every known node are queued and written in one transaction,
    node rows and heartbeats, by the writer thread."""
    reports = db_cloud.conductor.reports
    nodes = [db_cloud.report(host='node%d' % i) for i in range(3)]
    writes, counts = reports.writes, [_service(db_cloud, n.host).report_count
                                      for n in nodes]
    for node in nodes:
        node.vcpus = 16
        call(db_cloud.conductor.compute_node_update, db_cloud.ctxt, node=node)
    deadline = time.monotonic() + 10
    while any(db_cloud.node(n.host).vcpus != 16 for n in nodes):
        assert time.monotonic() < deadline, 'queued reports never written'
        time.sleep(0.01)
    assert 1 <= reports.writes - writes <= 3    # not one each
    assert [_service(db_cloud, n.host).report_count for n in nodes] == \
        [c + 1 for c in counts]


def test_a_report_of_a_vanished_node_is_checked_again(db_cloud):
    """A known node whose row went (an operator removed it) is forgotten
    at the next write; the report after that recreates it the checked
    way, and a node now claimed by another host is refused."""
    node = db_cloud.report()
    with db_cloud.engine.begin() as conn:
        conn.execute(sa.delete(models.ComputeNode))
    db_cloud.report()          # queued: no row to update, forgotten
    assert db_cloud.conductor.reports.accept(node) is False
    db_cloud.report()          # checked: the row is back
    assert db_cloud.node().uuid == node.uuid
    with db_cloud.engine.begin() as conn:
        conn.execute(sa.update(models.ComputeNode).values(host='node2'))
    db_cloud.report()          # queued: the row is another host's now
    with pytest.raises(exception.HVAgentError, match='belongs to host'):
        db_cloud.report()


def test_stopping_writes_the_queued_reports(db_cloud):
    reports = db_cloud.conductor.reports
    node = db_cloud.report()
    node.vcpus = 32
    with reports._cond:        # the writer cannot take it before the stop
        call(db_cloud.conductor.compute_node_update, db_cloud.ctxt,
             node=node)
        reports._stopping = True
    reports.stop()
    assert db_cloud.node().vcpus == 32
    assert reports.accept(node) is False    # stopped: the checked way


@pytest.mark.parametrize('batched', [False, True])
def test_a_report_bumps_the_generation_only_when_capacity_changes(
        db_cloud, batched):
    """Schedulers re-read a node whose generation moved: a report whose
    capacity and zone are the same (free RAM and load always differ)
    leaves it, a report that changes them bumps it, on both write paths
    (the checked one and the writer's batch)."""
    node = db_cloud.report()
    if not batched:            # forget it: the next report is checked
        db_cloud.conductor.reports._known.clear()
    first = db_cloud.node().generation
    node.free_ram_mb, node.cpu_load = 1234, 0.5
    db_cloud.report(node_uuid=node.uuid)
    row = db_cloud.node()
    assert (row.generation, row.reported_at is not None) == (first, True)
    for change in ({'vcpus': 8}, {'memory_mb': 4096}, {'local_gb': 50}):
        if not batched:
            db_cloud.conductor.reports._known.clear()
        db_cloud.report(node_uuid=node.uuid, **change)
        row = db_cloud.node()
        assert row.generation == first + 1, change
        assert getattr(row, *change) == list(change.values())[0]
        first = row.generation
