"""Scheduler claims against real databases: SQLite, MariaDB, PostgreSQL."""
import datetime
import threading
import uuid

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import context
from agent import exception
from agent import objects
from agent.db import api as db_api
from agent.db import models
from agent.db import session as db_session
from agent.scheduler import Settings
from agent.scheduler import claim
from agent.scheduler import manager

NODES, SERVICES = models.ComputeNode.__table__, models.Service.__table__
INSTANCES = models.Instance.__table__
FRESH = Settings(host_state_refresh_interval=0.0)


@pytest.fixture
def engine(db_url):
    engine = db_session.get_engine(db_url)
    with engine.begin() as conn:
        engine.flavor_id = conn.execute(sa.insert(
            models.Flavor.__table__).values(
            name='sched-test', vcpus=1, memory_mb=1, root_gb=0)
        ).inserted_primary_key[0]
    return engine


def add_host(engine, host, vcpus=16, memory_mb=4096, local_gb=100,
             seen_ago=0, disabled=False):
    seen = models.utcnow() - datetime.timedelta(seconds=seen_ago)
    with engine.begin() as conn:
        conn.execute(sa.insert(NODES).values(
            uuid=str(uuid.uuid4()), host=host, hypervisor_type='fake',
            vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
            vcpus_used=0, memory_mb_used=0, local_gb_used=0, running_vms=0,
            generation=1))
        conn.execute(sa.insert(SERVICES).values(
            host=host, binary='hvagent-compute', topic='compute',
            disabled=disabled, report_count=1, last_seen_up=seen))


def add_instance(engine, vcpus=1, memory_mb=1024, root_gb=10, **hints):
    u = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(sa.insert(INSTANCES).values(
            uuid=u, name='vm-' + u[:8], project_id='p', user_id='u',
            flavor_id=engine.flavor_id, vcpus=vcpus, memory_mb=memory_mb,
            root_gb=root_gb, vm_state='building', task_state='scheduling',
            deleted=0, claimed=False))
    return objects.RequestSpec(instance_uuid=u, project_id='p', vcpus=vcpus,
                               memory_mb=memory_mb, root_gb=root_gb, **hints)


def node(engine, host):
    with engine.connect() as conn:
        return conn.execute(sa.select(NODES).where(NODES.c.host == host)).one()


def instance(engine, spec):
    with engine.connect() as conn:
        return conn.execute(sa.select(INSTANCES).where(
            INSTANCES.c.uuid == spec.instance_uuid)).one()


def usage(row):
    return (row.vcpus_used, row.memory_mb_used, row.local_gb_used,
            row.running_vms)


def test_claim_updates_usage_and_instance(engine):
    add_host(engine, 'small', memory_mb=2048)
    add_host(engine, 'big', memory_mb=8192)
    spec = add_instance(engine, vcpus=2, memory_mb=1024, root_gb=20)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    assert sched.select_destination(context.RequestContext(),
                                    spec=spec.to_primitive()) == 'big'
    row = node(engine, 'big')
    assert usage(row) == (2, 1024, 20, 1) and row.generation == 2
    assert usage(node(engine, 'small')) == (0, 0, 0, 0)
    inst = instance(engine, spec)
    assert (inst.host, inst.node, inst.claimed) == ('big', 'big', True)


def test_lost_claim_leaves_nothing(engine):
    add_host(engine, 'h1', memory_mb=2048)
    spec = add_instance(engine, memory_mb=1024)
    row = node(engine, 'h1')
    with engine.begin() as conn:    # another scheduler filled the host
        conn.execute(sa.update(NODES).values(memory_mb_used=1536,
                                             generation=2))
    assert not claim.claim(engine, row.id, 'h1', spec, FRESH)
    after = node(engine, 'h1')
    assert usage(after) == (0, 1536, 0, 0) and after.generation == 2
    inst = instance(engine, spec)
    assert (inst.host, inst.node, inst.claimed) == (None, None, False)


def test_manager_moves_on_after_a_lost_race(engine):
    add_host(engine, 'first', memory_mb=8192)
    add_host(engine, 'second', memory_mb=4096)
    sched = manager.SchedulerManager(engine, settings=Settings(
        host_state_refresh_interval=3600, enabled_weighers=('RAMWeigher',)))
    assert sched.select(add_instance(engine)) == 'first'
    with engine.begin() as conn:    # unseen by the cache: 'first' is full
        conn.execute(sa.update(NODES).where(NODES.c.host == 'first').values(
            memory_mb_used=8192, generation=NODES.c.generation + 1))
    assert sched.select(add_instance(engine)) == 'second'
    assert sched.hosts.free_ram_mb[sched.hosts.index['first']] == 0
    assert usage(node(engine, 'first'))[1] == 8192


def test_claim_of_a_claimed_instance_fails_and_rolls_back(engine):
    add_host(engine, 'h1')
    spec = add_instance(engine)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    sched.select(spec)
    with pytest.raises(exception.ClaimFailed,
                       match='deleted, claimed or no longer being sched'):
        claim.claim(engine, node(engine, 'h1').id, 'h1', spec, FRESH)
    assert usage(node(engine, 'h1')) == (1, 1024, 10, 1)


def test_release_is_idempotent(engine):
    add_host(engine, 'h1')
    spec = add_instance(engine, vcpus=2, memory_mb=2048, root_gb=30)
    manager.SchedulerManager(engine, settings=FRESH).select(spec)
    for expected in (True, False):
        with db_session.session_scope(engine) as s:
            row = s.scalars(sa.select(models.Instance).where(
                models.Instance.uuid == spec.instance_uuid)).one()
            assert claim.release(s, row) is expected
            assert row.claimed is False
    after = node(engine, 'h1')
    assert usage(after) == (0, 0, 0, 0) and after.generation == 3
    assert instance(engine, spec).claimed is False


def _instance_row(s, spec):
    return s.scalars(sa.select(models.Instance).where(
        models.Instance.uuid == spec.instance_uuid)).one()


def test_a_suspended_instance_gives_back_vcpus_and_ram_once(engine):
    """Suspended: the host's vCPUs and RAM are free for others (its disk
    and its place stay claimed); a second release gives nothing; a
    resume takes them back; the delete of one still suspended gives
    back only what it holds."""
    add_host(engine, 'h1', memory_mb=4096)
    spec = add_instance(engine, vcpus=2, memory_mb=3072, root_gb=30)
    manager.SchedulerManager(engine, settings=FRESH).select(spec)
    assert usage(node(engine, 'h1')) == (2, 3072, 30, 1)
    for expected in (True, False):
        with db_session.session_scope(engine) as s:
            assert claim.release_compute(s, _instance_row(s, spec)) \
                is expected
    assert usage(node(engine, 'h1')) == (0, 0, 30, 1)
    assert instance(engine, spec).compute_released is True
    other = add_instance(engine, vcpus=1, memory_mb=2048, root_gb=10)
    assert manager.SchedulerManager(engine, settings=FRESH).select(
        other) == 'h1'                     # placed in the freed RAM
    with pytest.raises(exception.NoRoomToResume,
                       match='has not the 2 vCPUs and 3072 MiB'):
        with db_session.session_scope(engine) as s:
            claim.reclaim_compute(s, _instance_row(s, spec), FRESH)
    assert instance(engine, spec).compute_released is True   # rolled back
    assert usage(node(engine, 'h1')) == (1, 2048, 40, 2)
    with db_session.session_scope(engine) as s:     # the other one goes
        claim.release(s, _instance_row(s, other))
    with db_session.session_scope(engine) as s:
        claim.reclaim_compute(s, _instance_row(s, spec), FRESH)
        claim.reclaim_compute(s, _instance_row(s, spec), FRESH)  # no-op
    assert usage(node(engine, 'h1')) == (2, 3072, 30, 1)
    with db_session.session_scope(engine) as s:
        claim.release_compute(s, _instance_row(s, spec))
    with db_session.session_scope(engine) as s:
        assert claim.release(s, _instance_row(s, spec)) is True
    assert usage(node(engine, 'h1')) == (0, 0, 0, 0)


def test_two_schedulers_racing_never_overcommit(engine):
    slots = {'h1': 4, 'h2': 3, 'h3': 2}     # 1 GB instances by RAM
    for host, n in slots.items():
        add_host(engine, host, vcpus=64, memory_mb=1024 * n, local_gb=1000)
    specs = [[add_instance(engine) for _ in range(12)] for _ in range(2)]
    barrier, placed = threading.Barrier(2), [[], []]
    stale = Settings(host_state_refresh_interval=3600)

    def run(k):
        sched = manager.SchedulerManager(engine, settings=stale)
        sched.hosts.refresh()
        barrier.wait()
        try:
            for spec in specs[k]:
                placed[k].append(sched.select(spec))
        except exception.NoValidHost:
            pass
    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(placed[0]) + len(placed[1]) == sum(slots.values())
    with engine.connect() as conn:
        claims = {host: n for host, n in conn.execute(sa.select(
            INSTANCES.c.host, sa.func.count()).where(
            INSTANCES.c.claimed == sa.true()).group_by(INSTANCES.c.host))}
    assert claims == slots
    for host, n in slots.items():
        assert usage(node(engine, host)) == (n, 1024 * n, 10 * n, n)


def test_down_or_disabled_hosts_are_skipped(engine):
    add_host(engine, 'stale', memory_mb=65536, seen_ago=120)
    add_host(engine, 'off', memory_mb=65536, disabled=True)
    add_host(engine, 'ok', memory_mb=2048)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    assert sched.select(add_instance(engine, memory_mb=2048)) == 'ok'
    unplaced = add_instance(engine, memory_mb=1024)
    with pytest.raises(exception.NoValidHost) as err:
        sched.select(unplaced)
    assert str(err.value) == (
        'No valid host: 3 hosts; ComputeFilter rejected 2 (down or '
        'disabled), RamFilter rejected 1 (need 1024 MB RAM)')
    assert instance(engine, unplaced).claimed is False
    assert usage(node(engine, 'stale')) == (0, 0, 0, 0)


def test_refresh_sees_other_writers(engine):
    add_host(engine, 'a', memory_mb=8192)
    add_host(engine, 'b', memory_mb=4096)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    assert sched.select(add_instance(engine)) == 'a'
    with db_session.session_scope(engine) as s:   # an operator disables a
        svc = s.scalars(sa.select(models.Service).where(
            models.Service.host == 'a')).one()
        svc.disabled = True
    assert sched.select(add_instance(engine)) == 'b'
    add_host(engine, 'c', memory_mb=16384)        # a new host reports
    assert sched.select(add_instance(engine)) == 'c'
    with engine.begin() as conn:                  # b reports more RAM
        conn.execute(sa.update(NODES).where(NODES.c.host == 'b').values(
            memory_mb=65536, generation=NODES.c.generation + 1))
    assert sched.select(add_instance(engine)) == 'b'
    with engine.begin() as conn:                  # b's node row goes away
        conn.execute(sa.delete(NODES).where(NODES.c.host == 'b'))
    assert sched.select(add_instance(engine)) == 'c'
    assert not sched.hosts.present[sched.hosts.index['b']]


def test_same_and_different_host_hints(engine):
    add_host(engine, 'a', memory_mb=8192)
    add_host(engine, 'b', memory_mb=8192)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    first = add_instance(engine)
    home = sched.select(first)
    other = ({'a', 'b'} - {home}).pop()
    assert sched.select(add_instance(
        engine, same_host=[first.instance_uuid])) == home
    assert sched.select(add_instance(
        engine, different_host=[first.instance_uuid])) == other
    u = first.instance_uuid
    with pytest.raises(exception.NoValidHost) as err:
        sched.select(add_instance(engine, same_host=[u], different_host=[u]))
    assert str(err.value) == (
        'No valid host: 2 hosts; SameHostFilter rejected 1 (not running any '
        'of %s), DifferentHostFilter rejected 1 (running one of %s)' % (u, u))


@pytest.fixture
def conf_overrides():
    overrides = []

    def override(name, value, group='scheduler'):
        cfg.CONF.set_override(name, value, group)
        overrides.append((name, group))
    yield override
    for name, group in overrides:
        cfg.CONF.clear_override(name, group)


def test_configuration_is_read_at_each_refresh(engine, conf_overrides):
    add_host(engine, 'full', memory_mb=4096)
    add_host(engine, 'empty', memory_mb=8192)
    with engine.begin() as conn:
        conn.execute(sa.update(NODES).where(NODES.c.host == 'full').values(
            memory_mb_used=2048, running_vms=2, vcpus_used=2,
            local_gb_used=20))
    conf_overrides('host_state_refresh_interval', 0.0)
    sched = manager.SchedulerManager(engine)
    assert sched.select(add_instance(engine)) == 'empty'
    conf_overrides('placement_policy', 'pack')
    assert sched.select(add_instance(engine)) == 'full'
    assert sched.settings.placement_policy == 'pack'
    conf_overrides('enabled_filters', ['RamFilter', 'NoSuchFilter'])
    with pytest.raises(exception.HVAgentError, match='NoSuchFilter'):
        manager.SchedulerManager(engine)


def test_a_quiet_refresh_reads_one_row_of_node_figures(engine):
    """Between refreshes nothing changed but our own claims and reports
    of the same capacity: the refresh reads the nodes' count and sums,
    not every node's generation; another writer's claim makes it read
    them, and the host that changed again."""
    for host in ('a', 'b', 'c'):
        add_host(engine, host)
    sched = manager.SchedulerManager(engine, settings=FRESH)
    sched.hosts.refresh()
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(' '.join(statement.split()))
    sa.event.listen(engine, 'before_cursor_execute', record)
    try:
        sched.select(add_instance(engine))           # our own claim
        with db_session.session_scope(engine) as s:  # same capacity
            row = node(engine, 'b')
            db_api.compute_node_report(s, row.uuid, 'b', dict(
                hypervisor_type='fake', availability_zone=None, vcpus=16,
                memory_mb=4096, local_gb=100, free_ram_mb=1, free_disk_gb=1,
                cpu_load=0.3), models.utcnow())
        del seen[:]
        assert sched.hosts.refresh(force=True)
        quiet = list(seen)
        other = add_instance(engine)                  # another scheduler
        assert claim.claim(engine, row.id, 'b', other, FRESH)
        del seen[:]
        assert sched.hosts.refresh(force=True)
    finally:
        sa.event.remove(engine, 'before_cursor_execute', record)

    def scans(statements):
        return [s for s in statements
                if s.startswith('SELECT compute_nodes.id, '
                                'compute_nodes.generation FROM')]
    assert not scans(quiet), quiet
    assert any('sum(' in s.lower() for s in quiet), quiet
    assert scans(seen), seen
    assert sched.hosts.running_vms[sched.hosts.index['b']] == \
        node(engine, 'b').running_vms
