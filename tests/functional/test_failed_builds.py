"""The conductor's sweep for boots a stopped conductor or scheduler left in
``scheduling`` (agent.conductor.failed_builds), on SQLite, MariaDB and
PostgreSQL: an unplaced boot ends in error with a fault; a placed one has
its build sent again, and ends in error (claim given back) only when its
host never starts it; fresh and started boots are left alone; a late
claim or a late start of an ended boot is refused; racing sweepers settle
each boot once."""
import datetime
import threading

import pytest
import sqlalchemy as sa

from agent import exception
from agent import objects
from agent.conductor import failed_builds
from agent.db import models
from agent.objects import states
from agent.scheduler import claim
from tests.fixtures.conductor import call

_I = models.Instance.__table__


class Killed(BaseException):
    """The conductor's process ends mid-request (no handler sees it)."""


class DeadScheduler:
    def select_destination(self, ctxt, spec):
        raise Killed()


@pytest.fixture
def sweeping(db_cloud, conf):
    conf('rpc_call_timeout', 30, group=None)        # unplaced: after 60 s
    conf('scheduling_timeout', 600, group='conductor')
    db_cloud.report()
    return db_cloud


def age(cloud, uuid, seconds, made=None):
    """Make the instance's last change ``seconds`` old (and its boot
    request ``made`` seconds old)."""
    now = models.utcnow()
    values = {'updated_at': now - datetime.timedelta(seconds=seconds)}
    if made is not None:
        values['created_at'] = now - datetime.timedelta(seconds=made)
    with cloud.engine.begin() as conn:
        conn.execute(sa.update(_I).where(_I.c.uuid == uuid).values(**values))


def sweeper(cloud):
    return failed_builds.Sweeper(cloud.engine, cloud.compute)


def unplaced_boot(cloud, name='lost'):
    """A boot whose conductor died while the scheduler was choosing."""
    cloud.tasks.scheduler, alive = DeadScheduler(), cloud.tasks.scheduler
    try:
        with pytest.raises(Killed):
            cloud.boot(name=name)
    finally:
        cloud.tasks.scheduler = alive
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(_I.c.uuid).where(
            _I.c.name == name)).scalar_one()


def row(cloud, uuid):
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(_I).where(_I.c.uuid == uuid)).one()


def faults(cloud, uuid):
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(models.InstanceFault.message).where(
            models.InstanceFault.instance_uuid == uuid)).scalars().all()


def create_result(cloud, uuid):
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(models.InstanceAction.result).where(
            models.InstanceAction.instance_uuid == uuid,
            models.InstanceAction.action == 'create')).scalar_one()


def usage(cloud):
    node = cloud.node()
    return (node.vcpus_used, node.memory_mb_used, node.running_vms)


def test_an_unplaced_boot_is_settled_after_twice_the_call_timeout(sweeping):
    uuid = unplaced_boot(sweeping)
    sweep = sweeper(sweeping).sweep
    age(sweeping, uuid, 50)
    assert sweep() == ([], [])           # a live conductor may answer yet
    assert row(sweeping, uuid).task_state == states.SCHEDULING
    age(sweeping, uuid, 61)
    assert sweep() == ([uuid], [])
    settled = row(sweeping, uuid)
    assert (settled.vm_state, settled.task_state, settled.claimed) == \
        (states.ERROR, None, False)
    (fault,) = faults(sweeping, uuid)
    assert fault.startswith('Scheduling was interrupted: no host was chosen '
                            'within 60 s')
    assert create_result(sweeping, uuid) == 'Error'
    assert sweep() == ([], [])           # once
    # the user sees why, and can delete it like any failed boot
    shown = call(sweeping.tasks.instance_show, sweeping.ctxt, ref=uuid)
    assert shown.vm_state == states.ERROR and 'interrupted' in \
        shown.fault.message


def test_a_placed_boot_is_sent_again_then_ended_if_never_started(
        sweeping):
    inst = sweeping.boot()          # claimed on node1; the cast goes nowhere
    build = ('build_and_run_instance', 'node1', inst.uuid, {})
    assert sweeping.compute.casts == [build]
    assert usage(sweeping) == (1, 2048, 1)
    sweep = sweeper(sweeping).sweep
    age(sweeping, inst.uuid, 50)
    assert sweep() == ([], [])
    # not started 60 s on: its conductor may have died before the cast
    age(sweeping, inst.uuid, 61)
    assert sweep() == ([], [inst.uuid])
    assert sweeping.compute.casts == [build, build]
    assert sweep() == ([], [])              # its clock started over
    assert row(sweeping, inst.uuid).task_state == states.SCHEDULING
    assert usage(sweeping) == (1, 2048, 1)
    # the host stayed away ten minutes: the boot ends, its claim given back
    age(sweeping, inst.uuid, 61, made=601)
    assert sweep() == ([inst.uuid], [])
    assert usage(sweeping) == (0, 0, 0)
    (fault,) = faults(sweeping, inst.uuid)
    assert fault.startswith('Host node1 did not start the build within '
                            '600 s of the boot request')
    assert create_result(sweeping, inst.uuid) == 'Error'
    # a build request turns up after all: the agent's start is refused
    with pytest.raises(exception.UnexpectedTaskState):
        call(sweeping.conductor.instance_update, sweeping.ctxt,
             instance_uuid=inst.uuid,
             updates={'vm_state': states.BUILDING,
                      'task_state': states.SPAWNING},
             expected_task_state=[states.SCHEDULING, states.SPAWNING])
    assert row(sweeping, inst.uuid).vm_state == states.ERROR
    assert usage(sweeping) == (0, 0, 0)


def test_a_build_sent_again_carries_the_boots_request(sweeping):
    """The agent records the build in the boot's own create action."""
    inst = sweeping.boot()
    age(sweeping, inst.uuid, 61)
    sweeping.compute.contexts = []
    original = sweeping.compute.build_and_run_instance
    sweeping.compute.build_and_run_instance = lambda ctxt, host, uuid: (
        sweeping.compute.contexts.append(ctxt), original(ctxt, host, uuid))
    assert sweeper(sweeping).sweep() == ([], [inst.uuid])
    (ctxt,) = sweeping.compute.contexts
    assert (ctxt.request_id, ctxt.user_id, ctxt.project_id) == \
        (sweeping.ctxt.request_id, 'u1', 'p1')


def test_a_swept_boot_cannot_be_claimed_late(sweeping):
    """A slow scheduler answers after the sweep: its claim fails and the
    host's usage is untouched."""
    uuid = unplaced_boot(sweeping)
    age(sweeping, uuid, 61)
    assert sweeper(sweeping).sweep() == ([uuid], [])
    late = objects.RequestSpec(instance_uuid=uuid, project_id='p1', vcpus=1,
                               memory_mb=2048, root_gb=20)
    with pytest.raises(exception.ClaimFailed,
                       match='no longer being scheduled'):
        claim.claim(sweeping.engine, sweeping.node().id, 'node1', late,
                    sweeping.tasks.scheduler.manager.settings)
    assert usage(sweeping) == (0, 0, 0)


def test_started_fresh_and_deleted_boots_are_left_alone(sweeping):
    started = sweeping.boot(name='started')
    call(sweeping.conductor.instance_update, sweeping.ctxt,
         instance_uuid=started.uuid,
         updates={'task_state': states.SPAWNING},
         expected_task_state=[states.SCHEDULING])
    fresh = sweeping.boot(name='fresh')
    gone = unplaced_boot(sweeping, name='gone')
    call(sweeping.tasks.instance_action, sweeping.ctxt, ref=gone,
         action='delete', volume_id=None, connection_info={})
    for uuid in (started.uuid, gone):
        age(sweeping, uuid, 3600, made=3600)
    assert sweeper(sweeping).sweep() == ([], [])
    assert row(sweeping, started.uuid).task_state == states.SPAWNING
    assert row(sweeping, fresh.uuid).task_state == states.SCHEDULING
    assert usage(sweeping) == (2, 4096, 2)


def test_racing_sweepers_settle_each_boot_once(sweeping):
    sweeping.report(vcpus=8, memory_mb=16384)   # room for five boots
    stuck = [sweeping.boot(name='b%d' % i).uuid for i in range(3)] + \
        [unplaced_boot(sweeping, name='u%d' % i) for i in range(3)]
    for uuid in stuck:
        age(sweeping, uuid, 3600, made=3600)
    lost = [sweeping.boot(name='r%d' % i).uuid for i in range(2)]
    for uuid in lost:
        age(sweeping, uuid, 61)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        sweeper(sweeping).sweep())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ended = [u for r in results for u in r[0]]
    resent = [u for r in results for u in r[1]]
    assert sorted(ended) == sorted(stuck)      # each by exactly one
    assert sorted(resent) == sorted(lost)
    for uuid in stuck:
        assert len(faults(sweeping, uuid)) == 1
    assert usage(sweeping) == (2, 4096, 2)
