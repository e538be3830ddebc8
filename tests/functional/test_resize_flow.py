"""Resize and cold migration's control flow on each database backend,
fake driver: the real conductor endpoints (ResizeManager for the
requests, ResizeSteps + MigrationSteps + AgentManager for the agents),
the real scheduler and two real ComputeManagers, "node1" and "node2", as
in test_live_migration_flow (whose fixture this extends)."""
import pytest
import sqlalchemy as sa

from agent import context
from agent import exception
from agent.compute import manager as manager_mod
from agent.conductor import resize_steps
from agent.conductor import resizes
from agent.db import api_models
from agent.db import models
from agent.objects import states as S
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.waiting import wait_until
from tests.functional.test_live_migration_flow import HOSTS
from tests.functional.test_live_migration_flow import AsHost
from tests.functional.test_live_migration_flow import boot
from tests.functional.test_live_migration_flow import cloud  # noqa: F401
from tests.functional.test_live_migration_flow import usage
from virt import fake

SMALL, MEDIUM, TINY = 'm1.small', 'm1.medium', 'm1.tiny'


@pytest.fixture
def rc(cloud):  # noqa: F811
    """The cloud of test_live_migration_flow with the resize endpoints;
    its agents reach them too."""
    cloud.resizes = resizes.ResizeManager(cloud.engine, cloud.tasks.scheduler,
                                          cloud.router)
    cloud.rsteps = resize_steps.ResizeSteps(cloud.engine, cloud.router)
    cloud.steps._compute = cloud.router
    cloud.agents = Endpoints(cloud.conductor, cloud.steps, cloud.rsteps)
    for host in HOSTS:
        restart(cloud, host)
    return cloud


def restart(c, host):
    """A new agent on ``host`` (its driver kept: the hypervisor lives
    on), started as the service starts it."""
    c.router.managers[host] = manager = manager_mod.ComputeManager(
        c.drivers[host], AsHost(host, c.agents), host)
    return manager


def resize(c, inst, flavor=MEDIUM, ctxt=None):
    return call(c.resizes.resize, ctxt or c.ctxt, ref=inst.uuid,
                flavor=flavor)


def show(c, uuid):
    return call(c.tasks.instance_show, c.ctxt, ref=uuid)


def settled(c, uuid):
    wait_until(lambda: show(c, uuid).task_state is None, 30, interval=0.02)
    c.router.drain()
    return show(c, uuid)


def migration(c, mig):
    return call(c.moves.migration_show, c.admin, migration_uuid=mig.uuid)


def events(c, uuid, action):
    (found,) = [a for a in call(c.tasks.action_list, c.ctxt, ref=uuid)
                if a.action == action]
    return found, sorted((e.event, e.host, e.result) for e in found.events)


def other(host):
    return ({'node1', 'node2'} - {host}).pop()


def test_resize_then_confirm(rc):
    inst = boot(rc)
    source, dest = inst.host, other(inst.host)
    mig = resize(rc, inst)
    assert (mig.migration_type, mig.dest_compute) == ('resize', dest)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.power_state,
            after.flavor.name) == (dest, S.RESIZED, S.RUNNING, MEDIUM)
    assert migration(rc, mig).status == S.MIGRATION_FINISHED
    # VERIFY_RESIZE: both hosts hold a claim (old flavor, new flavor)
    assert usage(rc) == {source: (1, 1), dest: (2, 1)}
    assert rc.drivers[source].get_info(inst.uuid).power_state == S.SHUTDOWN
    assert rc.drivers[dest].get_info(inst.uuid).power_state == S.RUNNING
    action, steps = events(rc, inst.uuid, 'resize')
    assert action.result == 'Success'
    assert steps == [('compute_finish_resize', dest, 'Success'),
                     ('compute_resize_instance', source, 'Success')]
    call(rc.resizes.resize_confirm, rc.ctxt, ref=inst.uuid)
    after = settled(rc, inst.uuid)
    assert (after.vm_state, after.host) == (S.ACTIVE, dest)
    assert migration(rc, mig).status == S.MIGRATION_CONFIRMED
    assert usage(rc) == {source: (0, 0), dest: (2, 1)}
    assert inst.uuid not in rc.drivers[source].list_guests()
    action, steps = events(rc, inst.uuid, 'confirmResize')
    assert action.result == 'Success'
    assert steps == [('compute_confirm_resize', source, 'Success')]
    assert call(rc.steps.migrations_by_host, rc.admin, host=source) == []
    assert not rc.router.errors


def test_resize_then_revert_a_stopped_instance(rc):
    inst = boot(rc)
    call(rc.tasks.instance_action, rc.ctxt, ref=inst.uuid, action='stop',
         volume_id=None, connection_info={})
    settled(rc, inst.uuid)
    source, dest = inst.host, other(inst.host)
    mig = resize(rc, inst)
    after = settled(rc, inst.uuid)
    # it did not run before: it does not run after
    assert (after.vm_state, after.power_state) == (S.RESIZED, S.SHUTDOWN)
    call(rc.resizes.resize_revert, rc.ctxt, ref=inst.uuid)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.flavor.name) == (
        source, S.STOPPED, SMALL)
    assert migration(rc, mig).status == S.MIGRATION_REVERTED
    assert usage(rc) == {source: (1, 1), dest: (0, 0)}
    assert inst.uuid not in rc.drivers[dest].list_guests()
    assert rc.drivers[source].get_info(inst.uuid).power_state == S.SHUTDOWN
    action, steps = events(rc, inst.uuid, 'revertResize')
    assert action.result == 'Success'
    assert steps == [('compute_finish_revert_resize', source, 'Success'),
                     ('compute_revert_resize', dest, 'Success')]


def test_revert_restarts_a_running_guest_on_the_source(rc):
    inst = boot(rc)
    resize(rc, inst)
    settled(rc, inst.uuid)
    call(rc.resizes.resize_revert, rc.ctxt, ref=inst.uuid)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.power_state) == (
        inst.host, S.ACTIVE, S.RUNNING)
    assert 'resize reverted' in rc.drivers[inst.host].get_console_output(
        inst.uuid, 4096)


def test_cold_migration_is_admins_and_keeps_the_flavor(rc):
    inst = boot(rc)
    with pytest.raises(exception.AdminRequired):
        call(rc.resizes.migrate, rc.ctxt, ref=inst.uuid, host=None)
    with pytest.raises(exception.MigrationPreCheckError, match='already'):
        call(rc.resizes.migrate, rc.admin, ref=inst.uuid, host=inst.host)
    mig = call(rc.resizes.migrate, rc.admin, ref=inst.uuid, host=None)
    assert mig.migration_type == 'migration'
    after = settled(rc, inst.uuid)
    assert (after.vm_state, after.flavor.name, after.host) == (
        S.RESIZED, SMALL, other(inst.host))
    call(rc.resizes.resize_confirm, rc.admin, ref=inst.uuid)
    assert settled(rc, inst.uuid).vm_state == S.ACTIVE
    events(rc, inst.uuid, 'migrate')


def test_refusals(rc):
    inst = boot(rc)
    with pytest.raises(exception.ResizeRefused, match='already'):
        resize(rc, inst, SMALL)
    with pytest.raises(exception.ResizeRefused, match='smaller disk'):
        resize(rc, inst, TINY)
    with pytest.raises(exception.FlavorNotFound):
        resize(rc, inst, 'm1.nope')
    for method in (rc.resizes.resize_confirm, rc.resizes.resize_revert):
        with pytest.raises(exception.InstanceInvalidState,
                           match='vm_state=active'):
            call(method, rc.ctxt, ref=inst.uuid)
    # another project's member finds no such instance
    stranger = context.RequestContext(user_id='u2', project_id='p2')
    with pytest.raises(exception.InstanceNotFound):
        resize(rc, inst, ctxt=stranger)
    resize(rc, inst)
    settled(rc, inst.uuid)
    for method in (rc.resizes.resize_confirm, rc.resizes.resize_revert):
        with pytest.raises(exception.InstanceNotFound):
            call(method, stranger, ref=inst.uuid)
    # a resize is not a live migration: no abort, no force complete
    with pytest.raises(exception.MigrationNotFound):
        call(rc.moves.migration_abort, rc.admin, ref=inst.uuid,
             migration_uuid=None)
    assert show(rc, inst.uuid).vm_state == S.RESIZED
    assert sum(u[1] for u in usage(rc).values()) == 2


def test_no_host_fits_and_nothing_is_left(rc):
    inst = boot(rc)
    with pytest.raises(exception.NoValidHost):
        resize(rc, inst, 'm1.xlarge')     # 8 vCPUs: no node has them
    after = show(rc, inst.uuid)
    assert (after.vm_state, after.task_state, after.host) == (
        S.ACTIVE, None, inst.host)
    (failed,) = call(rc.moves.migration_list, rc.admin, ref=inst.uuid,
                     host=None, status=None)
    assert failed.status == S.MIGRATION_ERROR
    assert usage(rc)[inst.host] == (1, 1)
    assert sum(u[1] for u in usage(rc).values()) == 1


def test_resize_up_over_quota_is_refused(rc):
    inst = boot(rc)
    with rc.engine.begin() as conn:
        conn.execute(sa.insert(models.Project.__table__).values(
            id='p1', name='p1', enabled=True, created_at=models.utcnow()))
        conn.execute(sa.insert(api_models.Quota.__table__).values(
            project_id='p1', resource='cores', hard_limit=1))
    with pytest.raises(exception.QuotaExceeded, match='cores'):
        resize(rc, inst)
    assert show(rc, inst.uuid).task_state is None
    assert call(rc.moves.migration_list, rc.admin, ref=inst.uuid, host=None,
                status=None) == []


def test_source_refuses_and_the_guest_runs_where_it_was(rc):
    """A driver that cannot resize (libvirt, for now): the migration
    ends in error, the guest runs on the source, no claim is left."""
    inst = boot(rc)
    rc.drivers[inst.host].capabilities = dict(
        fake.FakeDriver.capabilities, supports_cold_migration=False)
    mig = resize(rc, inst)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.power_state,
            after.flavor.name) == (inst.host, S.ACTIVE, S.RUNNING, SMALL)
    mig = migration(rc, mig)
    assert mig.status == S.MIGRATION_ERROR
    assert 'cannot resize instance' in mig.error
    assert usage(rc) == {inst.host: (1, 1), other(inst.host): (0, 0)}
    assert rc.drivers[inst.host].get_info(inst.uuid).power_state == S.RUNNING


def test_a_failed_finish_goes_back_to_the_source(rc):
    inst = boot(rc)
    dest = other(inst.host)
    rc.drivers[dest].fail_next('finish_migration',
                               exception.DiskFull(path='/x', what='disk'))
    mig = resize(rc, inst)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.power_state,
            after.flavor.name) == (inst.host, S.ACTIVE, S.RUNNING, SMALL)
    mig = migration(rc, mig)
    assert mig.status == S.MIGRATION_ERROR
    assert mig.error == 'No space left on device at /x (disk)'
    assert usage(rc) == {inst.host: (1, 1), dest: (0, 0)}
    assert inst.uuid not in rc.drivers[dest].list_guests()
    action, steps = events(rc, inst.uuid, 'resize')
    assert (action.result, action.message) == ('Error', mig.error)


def test_agents_act_only_on_their_own_side(rc):
    inst = boot(rc)
    source, dest = inst.host, other(inst.host)
    rc.router.managers.pop(dest)    # the cast to finish waits
    mig = resize(rc, inst)
    wait_until(lambda: migration(rc, mig).status == S.MIGRATION_SWITCHED, 10)
    steps = Endpoints(rc.rsteps)
    for host, method, kw in [
            (source, 'resize_finished', {'power_state': 'running'}),
            (dest, 'resize_migrated', {}),
            ('node3', 'resize_finished', {'power_state': 'running'}),
            (source, 'resize_failed',
             {'event': 'compute_finish_resize', 'reason': 'x',
              'traceback': None})]:
        with pytest.raises((exception.MigrationNotFound,
                            exception.BusNotTrusted)):
            getattr(AsHost(host, steps), method)(
                rc.admin, migration_uuid=mig.uuid, host=host, **kw)
    assert migration(rc, mig).status == S.MIGRATION_SWITCHED


@pytest.mark.parametrize('down', ['source', 'dest'])
def test_a_restarted_agent_carries_on(rc, down):
    """The agent whose step is due was down when its cast came: started
    again, it finds the migration and does its step."""
    inst = boot(rc)
    host = inst.host if down == 'source' else other(inst.host)
    rc.router.managers.pop(host)
    mig = resize(rc, inst)
    expected = S.MIGRATION_RUNNING if down == 'source' \
        else S.MIGRATION_SWITCHED
    wait_until(lambda: migration(rc, mig).status == expected, 10)
    rc.router.drain()
    restart(rc, host).init_host(rc.admin)
    after = settled(rc, inst.uuid)
    assert (after.vm_state, after.host) == (S.RESIZED, other(inst.host))
    # confirm while the source is down: done at its next start
    rc.router.managers.pop(inst.host)
    call(rc.resizes.resize_confirm, rc.ctxt, ref=inst.uuid)
    assert inst.uuid in rc.drivers[inst.host].list_guests()
    restart(rc, inst.host).init_host(rc.admin)
    assert inst.uuid not in rc.drivers[inst.host].list_guests()
    assert migration(rc, mig).status == S.MIGRATION_CONFIRMED
    assert call(rc.steps.migrations_by_host, rc.admin, host=inst.host) == []


def test_a_revert_waits_for_a_destination_that_is_down(rc):
    """The guest never runs on both hosts: the source starts it only once
    the destination removed its own, after the destination's restart."""
    inst = boot(rc)
    dest = other(inst.host)
    mig = resize(rc, inst)
    settled(rc, inst.uuid)
    rc.router.managers.pop(dest)
    call(rc.resizes.resize_revert, rc.ctxt, ref=inst.uuid)
    rc.router.drain()
    waiting = show(rc, inst.uuid)
    assert (waiting.host, waiting.task_state) == (inst.host,
                                                  S.RESIZE_REVERTING)
    assert rc.drivers[inst.host].get_info(inst.uuid).power_state == \
        S.SHUTDOWN
    # the claims moved back already: the destination's is released
    assert usage(rc) == {inst.host: (1, 1), dest: (0, 0)}
    restart(rc, dest).init_host(rc.admin)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.power_state) == (
        inst.host, S.ACTIVE, S.RUNNING)
    assert inst.uuid not in rc.drivers[dest].list_guests()
    assert migration(rc, mig).status == S.MIGRATION_REVERTED


def test_deleting_a_resized_instance_confirms_it_first(rc):
    inst = boot(rc)
    mig = resize(rc, inst)
    settled(rc, inst.uuid)
    call(rc.tasks.instance_action, rc.ctxt, ref=inst.uuid, action='delete',
         volume_id=None, connection_info={})
    rc.router.drain()
    wait_until(lambda: sum(u[1] for u in usage(rc).values()) == 0, 10)
    assert migration(rc, mig).status == S.MIGRATION_CONFIRMED
    assert not any(inst.uuid in d.list_guests() for d in rc.drivers.values())
    assert usage(rc) == {h: (0, 0) for h in HOSTS}


def test_a_source_that_cannot_start_the_guest_at_a_revert(rc):
    inst = boot(rc)
    mig = resize(rc, inst)
    settled(rc, inst.uuid)
    rc.drivers[inst.host].fail_next(
        'finish_revert_migration', exception.DiskFull(path='/y', what='x'))
    call(rc.resizes.resize_revert, rc.ctxt, ref=inst.uuid)
    after = settled(rc, inst.uuid)
    assert (after.host, after.vm_state, after.flavor.name) == (
        inst.host, S.ERROR, SMALL)
    assert after.fault.message == 'No space left on device at /y (x)'
    assert migration(rc, mig).status == S.MIGRATION_ERROR
    # its claim is the instance's on the source; none is left elsewhere
    assert usage(rc) == {inst.host: (1, 1), other(inst.host): (0, 0)}
    action, steps = events(rc, inst.uuid, 'revertResize')
    assert action.result == 'Error'


def test_a_confirm_whose_source_cannot_clean_up_is_retried(rc):
    inst = boot(rc)
    mig = resize(rc, inst)
    settled(rc, inst.uuid)
    rc.drivers[inst.host].fail_next('destroy', OSError('busy'))
    call(rc.resizes.resize_confirm, rc.ctxt, ref=inst.uuid)
    rc.router.drain()
    assert show(rc, inst.uuid).vm_state == S.ACTIVE
    assert inst.uuid in rc.drivers[inst.host].list_guests()
    assert usage(rc)[inst.host] == (0, 0)   # released at the confirm
    (left,) = call(rc.steps.migrations_by_host, rc.admin, host=inst.host)
    assert (left.uuid, left.cleanup_host) == (mig.uuid, inst.host)
    restart(rc, inst.host).init_host(rc.admin)
    assert inst.uuid not in rc.drivers[inst.host].list_guests()
    assert call(rc.steps.migrations_by_host, rc.admin, host=inst.host) == []


@pytest.mark.parametrize('address', [
    'h1/system?socket=/tmp/x', 'qemu+ssh://evil', 'a b', '-oProxy=x',
    '', 'x' * 300])
def test_the_source_address_is_checked(rc, address):
    """A source's address ends up in the destination's libvirt URI: only
    an IP address or a host name is taken, and nothing changes else."""
    inst = boot(rc)
    rc.router.managers.pop(inst.host)      # the source's step waits
    mig = resize(rc, inst)
    wait_until(lambda: migration(rc, mig).status == S.MIGRATION_RUNNING, 10)
    steps = Endpoints(rc.rsteps)
    with pytest.raises(exception.InvalidRPCPayload):
        AsHost(inst.host, steps).resize_migrated(
            rc.admin, migration_uuid=mig.uuid, host=inst.host,
            address=address)
    assert migration(rc, mig).status == S.MIGRATION_RUNNING
    AsHost(inst.host, steps).resize_migrated(
        rc.admin, migration_uuid=mig.uuid, host=inst.host,
        address='192.0.2.9')
    assert migration(rc, mig).source_address == '192.0.2.9'
