"""Live migration's control flow on each database backend, fake driver.

The real conductor endpoints (MigrationManager for the admin,
MigrationSteps + AgentManager for the agents), the real scheduler and two
real ComputeManagers with FakeDrivers, "node1" and "node2", in this process.
Casts go to the named host's manager in a thread of their own, as the
bus would deliver them; each agent's calls to the conductor carry its
compute principal, so the conductor confines them as it does on the bus.
What crosses no process boundary here is the transport: the two-host
libvirt tests (test_libvirt_migration*.py) move real guests.
"""
import concurrent.futures
import datetime
import time

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import context
from agent import exception
from agent.compute import manager as manager_mod
from agent.conductor import evacuations
from agent.conductor import migration_steps
from agent.conductor import migrations
from agent.db import models
from agent.objects import states as S
from agent.security import bus_auth
from tests.fixtures.conductor import Cloud
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import InProcessScheduler
from tests.fixtures.conductor import call
from tests.fixtures.waiting import wait_until
from virt import fake

CONF = cfg.CONF
HOSTS = ('node1', 'node2')


class MoveScheduler(InProcessScheduler):
    def select_destination_for_move(self, ctxt, spec):
        return self.manager.select(spec)


class AsHost:
    """The conductor as one compute node reaches it: every call carries
    that node's principal (what bus_auth admits a signed message as)."""

    def __init__(self, host, endpoints):
        self.host, self.endpoints = host, endpoints

    def __getattr__(self, name):
        method = getattr(self.endpoints, name)

        def confined(ctxt, **kw):
            scoped = context.RequestContext(
                request_id=ctxt.request_id, user_id=ctxt.user_id,
                project_id=ctxt.project_id,
                principal=bus_auth.compute_principal(self.host))
            return method(scoped, **kw)
        return confined


class Router:
    """The agents' queues: a cast runs on the named host's manager in a
    thread of its own; ``errors`` collects what a cast raised."""

    def __init__(self):
        self.managers = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(8)
        self.futures, self.errors = [], []

    def __getattr__(self, method):
        def cast(ctxt, host, *args, **kw):
            manager = self.managers.get(host)
            if manager is None:
                return          # a host with no agent here: dropped
            if args:
                kw = dict(zip(('instance_uuid', 'migration_uuid'), args))
            self.futures.append(self.pool.submit(
                self._run, getattr(manager, method), ctxt, kw))
        return cast

    def _run(self, method, ctxt, kw):
        try:
            call(method, ctxt, **kw)
        except Exception as e:       # a cast's error is only logged
            self.errors.append(e)

    def drain(self, timeout=30):
        deadline = time.monotonic() + timeout
        while any(not f.done() for f in self.futures):
            assert time.monotonic() < deadline, 'casts still running'
            time.sleep(0.01)


@pytest.fixture
def cloud(db_url):
    CONF.set_override('migration_seconds', 0.2, group='fake_driver')
    CONF.set_override('progress_interval', 0.1, group='migration')
    c = Cloud(db_url)
    c.router = Router()
    c.tasks._compute = c.router
    c.tasks.scheduler = MoveScheduler(c.engine)
    c.conductor._compute = c.router
    c.steps = migration_steps.MigrationSteps(c.engine, c.router)
    c.moves = migrations.MigrationManager(c.engine, c.tasks.scheduler,
                                          c.router)
    c.evacuations = evacuations.EvacuationManager(
        c.engine, c.tasks.scheduler, c.router)
    c.admin = context.RequestContext(user_id='admin', project_id='admin',
                                     is_admin=True)
    agents = Endpoints(c.conductor, c.steps)
    c.drivers = {}
    for host in HOSTS:
        c.report(host)
        c.drivers[host] = fake.FakeDriver()
        c.drivers[host].init_host(host)
        c.router.managers[host] = manager_mod.ComputeManager(
            c.drivers[host], AsHost(host, agents), host)
    yield c
    c.router.drain()
    c.router.pool.shutdown()
    c.engine.dispose()
    CONF.clear_override('migration_seconds', group='fake_driver')
    CONF.clear_override('progress_interval', group='migration')


def boot(c, name='vm'):
    inst = c.boot(name=name)
    c.router.drain()
    inst = call(c.tasks.instance_show, c.ctxt, ref=inst.uuid)
    assert inst.vm_state == S.ACTIVE, inst
    return inst


def migrate(c, inst, **kw):
    return call(c.moves.live_migrate, c.admin, ref=inst.uuid,
                host=kw.get('host'), block_migration=None)


def settled(c, uuid):
    def done():
        inst = call(c.tasks.instance_show, c.ctxt, ref=uuid)
        return inst if inst.task_state is None else None
    inst = wait_until(done, 30, interval=0.02)
    c.router.drain()
    return inst


def usage(c):
    return {h: (c.node(h).vcpus_used, c.node(h).running_vms) for h in HOSTS}


def test_live_migration_moves_the_guest_and_its_claim(cloud):
    inst = boot(cloud)
    source = inst.host
    dest = ({'node1', 'node2'} - {source}).pop()
    cpus = inst.flavor.vcpus
    assert usage(cloud)[source] == (cpus, 1)
    mig = migrate(cloud, inst)
    assert (mig.status, mig.source_compute) == (S.MIGRATION_PREPARING, source)
    inst = settled(cloud, inst.uuid)
    assert (inst.host, inst.vm_state, inst.power_state) == (
        dest, S.ACTIVE, S.RUNNING)
    mig = call(cloud.moves.migration_show, cloud.admin,
               migration_uuid=mig.uuid)
    assert (mig.status, mig.dest_compute) == (S.MIGRATION_COMPLETED, dest)
    assert mig.memory_total == mig.memory_processed == \
        inst.flavor.memory_mb << 20
    assert usage(cloud) == {source: (0, 0), dest: (cpus, 1)}
    assert inst.uuid not in cloud.drivers[source].list_guests()
    assert 'migrated in' in cloud.drivers[dest].get_console_output(
        inst.uuid, 4096)
    (action,) = [a for a in call(cloud.tasks.action_list, cloud.ctxt,
                                 ref=inst.uuid)
                 if a.action == 'live-migration']
    assert action.result == 'Success'
    # finish (destination) and cleanup (source) run at the same time
    assert sorted((e.event, e.host, e.result) for e in action.events) == [
        ('compute_cleanup_live_migration', source, 'Success'),
        ('compute_finish_live_migration', dest, 'Success'),
        ('compute_live_migration', source, 'Success'),
        ('compute_prepare_live_migration', dest, 'Success')]
    assert not cloud.router.errors
    # and back, to the host the admin names
    call(cloud.moves.live_migrate, cloud.admin, ref=inst.uuid, host=source,
         block_migration=None)
    assert settled(cloud, inst.uuid).host == source
    assert usage(cloud) == {source: (cpus, 1), dest: (0, 0)}


def test_refusals_leave_nothing_behind(cloud):
    inst = boot(cloud)
    with pytest.raises(exception.AdminRequired):
        call(cloud.moves.live_migrate, cloud.ctxt, ref=inst.uuid, host=None,
             block_migration=None)
    with pytest.raises(exception.MigrationPreCheckError, match='already'):
        migrate(cloud, inst, host=inst.host)
    with pytest.raises(exception.NoValidHost, match='requested_host'):
        migrate(cloud, inst, host='node9')
    inst = call(cloud.tasks.instance_show, cloud.ctxt, ref=inst.uuid)
    assert inst.task_state is None
    (failed,) = call(cloud.moves.migration_list, cloud.admin, ref=inst.uuid,
                     host=None, status=None)
    assert failed.status == S.MIGRATION_ERROR
    assert 'requested_host' in failed.error
    assert sum(u[1] for u in usage(cloud).values()) == 1


def test_abort_leaves_the_guest_on_the_source(cloud):
    CONF.set_override('migration_seconds', 30, group='fake_driver')
    inst = boot(cloud)
    source = inst.host
    mig = migrate(cloud, inst)
    wait_until(lambda: call(cloud.moves.migration_show, cloud.admin,
                            migration_uuid=mig.uuid).memory_total, 10)
    call(cloud.moves.migration_abort, cloud.admin, ref=inst.uuid,
         migration_uuid=None)
    inst = settled(cloud, inst.uuid)
    assert (inst.host, inst.vm_state) == (source, S.ACTIVE)
    mig = call(cloud.moves.migration_show, cloud.admin,
               migration_uuid=mig.uuid)
    assert mig.status == S.MIGRATION_CANCELLED
    assert usage(cloud)[source] == (inst.flavor.vcpus, 1)
    assert sum(u[1] for u in usage(cloud).values()) == 1
    dest = mig.dest_compute
    assert not cloud.drivers[dest]._incoming
    assert inst.uuid in cloud.drivers[source].list_guests()


def test_force_complete_finishes_and_the_guest_runs(cloud):
    CONF.set_override('migration_seconds', 30, group='fake_driver')
    inst = boot(cloud)
    mig = migrate(cloud, inst)
    wait_until(lambda: call(cloud.moves.migration_show, cloud.admin,
                            migration_uuid=mig.uuid).status ==
               S.MIGRATION_RUNNING, 10)
    started = time.monotonic()
    call(cloud.moves.migration_force_complete, cloud.admin, ref=inst.uuid,
         migration_uuid=mig.uuid)
    inst = settled(cloud, inst.uuid)
    assert time.monotonic() - started < 20
    assert (inst.host, inst.power_state) == (mig.dest_compute
                                             or inst.host, S.RUNNING)


def test_a_failed_prepare_is_recorded_and_the_guest_stays(cloud):
    inst = boot(cloud)
    for d in cloud.drivers.values():
        d.fail_next('prepare_incoming',
                    exception.DiskFull(path='/x', what='the overlay'))
    migrate(cloud, inst)
    after = settled(cloud, inst.uuid)
    assert (after.host, after.vm_state) == (inst.host, S.ACTIVE)
    (mig,) = call(cloud.moves.migration_list, cloud.admin, ref=inst.uuid,
                  host=None, status=None)
    assert (mig.status, mig.error) == (
        S.MIGRATION_ERROR, 'No space left on device at /x (the overlay)')
    (action,) = [a for a in call(cloud.tasks.action_list, cloud.ctxt,
                                 ref=inst.uuid)
                 if a.action == 'live-migration']
    assert (action.result, action.message) == ('Error', mig.error)
    assert sum(u[1] for u in usage(cloud).values()) == 1


def test_agents_act_only_on_their_own_side(cloud):
    """A compute node cannot report another host's step, read a move it
    is not part of, or send the source anywhere but an address."""
    CONF.set_override('migration_seconds', 30, group='fake_driver')
    inst = boot(cloud)
    source = inst.host
    dest = ({'node1', 'node2'} - {source}).pop()
    mig = migrate(cloud, inst)
    wait_until(lambda: call(cloud.moves.migration_show, cloud.admin,
                            migration_uuid=mig.uuid).status ==
               S.MIGRATION_RUNNING, 10)
    steps = Endpoints(cloud.steps)
    for host, method, kw in [
            ('node3', 'migration_step_start',
             {'event': 'compute_live_migration'}),
            (dest, 'live_migration_completed', {'progress': {}}),
            (source, 'live_migration_finished', {'power_state': 'running'}),
            ('node3', 'migration_ports', {}),
            (dest, 'live_migration_failed',
             {'event': 'compute_live_migration', 'reason': 'x'})]:
        with pytest.raises((exception.MigrationNotFound,
                            exception.BusNotTrusted)):
            getattr(AsHost(host, steps), method)(
                cloud.admin, migration_uuid=mig.uuid, host=host, **kw)
    with pytest.raises(exception.InvalidRPCPayload, match='address'):
        AsHost(dest, steps).live_migration_prepared(
            cloud.admin, migration_uuid=mig.uuid, host=dest,
            address='x/system?command=/bin/sh', shared_storage=False)
    call(cloud.moves.migration_abort, cloud.admin, ref=inst.uuid,
         migration_uuid=None)
    assert settled(cloud, inst.uuid).host == source


def test_two_moves_of_one_instance_cannot_overlap(cloud):
    CONF.set_override('migration_seconds', 30, group='fake_driver')
    inst = boot(cloud)
    migrate(cloud, inst)
    with pytest.raises(exception.InstanceInvalidState):
        migrate(cloud, inst)
    call(cloud.moves.migration_abort, cloud.admin, ref=inst.uuid,
         migration_uuid=None)
    settled(cloud, inst.uuid)


def host_down(c, host):
    """As if ``host``'s agent stopped beating an hour ago."""
    with c.engine.begin() as conn:
        conn.execute(sa.update(models.Service.__table__).where(
            models.Service.host == host).values(
            last_seen_up=models.utcnow() - datetime.timedelta(hours=1)))


def test_evacuate_rebuilds_elsewhere_and_the_dead_host_cleans_up(cloud):
    inst = boot(cloud)
    source = inst.host
    dest = ({'node1', 'node2'} - {source}).pop()
    with pytest.raises(exception.MigrationPreCheckError, match='is up'):
        call(cloud.evacuations.evacuate, cloud.admin, ref=inst.uuid,
             host=None)
    with pytest.raises(exception.AdminRequired):
        call(cloud.evacuations.evacuate, cloud.ctxt, ref=inst.uuid,
             host=None)
    host_down(cloud, source)
    dead = cloud.router.managers.pop(source)     # its queue goes nowhere
    mig = call(cloud.evacuations.evacuate, cloud.admin, ref=inst.uuid,
               host=None)
    assert (mig.migration_type, mig.dest_compute) == ('evacuation', dest)
    after = settled(cloud, inst.uuid)
    assert (after.host, after.vm_state, after.power_state) == (
        dest, S.ACTIVE, S.RUNNING)
    assert call(cloud.moves.migration_show, cloud.admin,
                migration_uuid=mig.uuid).status == S.MIGRATION_COMPLETED
    assert usage(cloud) == {source: (0, 0), dest: (inst.flavor.vcpus, 1)}
    assert 'fake-bios' in cloud.drivers[dest].get_console_output(
        inst.uuid, 4096)
    # the dead host comes back: its old guest goes, not started again
    assert inst.uuid in cloud.drivers[source].list_guests()
    cloud.router.managers[source] = dead
    dead.init_host(cloud.admin)
    assert inst.uuid not in cloud.drivers[source].list_guests()
    assert call(cloud.moves.migration_list, cloud.admin, ref=inst.uuid,
                host=source, status=None)[0].status == S.MIGRATION_COMPLETED
    again = call(cloud.steps.migrations_by_host, cloud.admin, host=source)
    assert again == []      # nothing left to clean up there
    assert settled(cloud, inst.uuid).host == dest
