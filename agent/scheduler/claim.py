"""The atomic claim of a host's resources, and its release.

A claim is one transaction of two conditional UPDATEs:

1. ``instances``: host/node := the host, claimed := true, where the
   instance is alive, not claimed yet and still being scheduled (else
   ClaimFailed: nothing to place; a boot the conductor's sweeper ended,
   agent.conductor.failed_builds, can no longer take a claim);
2. ``compute_nodes``: the request is added to the ``*_used`` columns,
   ``running_vms`` and ``generation`` go up by one - where the new usage
   stays within capacity x allocation ratio and running_vms is below the
   maximum. No row updated means another scheduler got there first: the
   transaction rolls back and the caller tries its next host.

The database evaluates the condition against the row it locks (SQLite
serialises writers; PostgreSQL and MariaDB re-check the WHERE on the newest
row version under READ COMMITTED), so racing schedulers never over-commit,
whatever their caches said. Both tables are touched in the same order as in
``release`` (instance first), so a claim and a release cannot deadlock.

The statements are built once with SQLAlchemy Core. The claim, the hot
path, runs them precompiled on the DBAPI connection; the release runs in
the conductor's session like any other statement.
"""
import weakref

import sqlalchemy as sa
from sqlalchemy.orm import attributes

from agent import exception
from agent.db import models

_N, _I = models.ComputeNode.__table__, models.Instance.__table__
_M = models.Migration.__table__
_p = sa.bindparam


def _ratio(name):
    return _p(name, type_=sa.Float)


_ZERO, _ONE = sa.literal_column('0'), sa.literal_column('1')

_CLAIM_INSTANCE = sa.update(_I).where(
    _I.c.uuid == _p('i_uuid'), _I.c.deleted == _ZERO,
    _I.c.claimed == sa.false(),
    _I.c.task_state == sa.literal_column("'scheduling'"),
).values(host=_p('i_host'), node=_p('i_host'), claimed=sa.true())

_CLAIM_NODE = sa.update(_N).where(
    _N.c.id == _p('n_id'),
    _N.c.vcpus_used + _p('d_vcpus') <= _N.c.vcpus * _ratio('cpu_ratio'),
    _N.c.memory_mb_used + _p('d_ram') <= _N.c.memory_mb * _ratio('ram_ratio'),
    _N.c.local_gb_used + _p('d_disk') <= _N.c.local_gb * _ratio('disk_ratio'),
    _N.c.running_vms < _p('max_vms'),
).values(vcpus_used=_N.c.vcpus_used + _p('d_vcpus'),
         memory_mb_used=_N.c.memory_mb_used + _p('d_ram'),
         local_gb_used=_N.c.local_gb_used + _p('d_disk'),
         running_vms=_N.c.running_vms + _ONE,
         generation=_N.c.generation + _ONE)

# a move's claim: the migration holds the destination's share, not the
# instance (still claimed on its source until the switch-over)
_CLAIM_MIGRATION = sa.update(_M).where(
    _M.c.uuid == _p('m_uuid'), _M.c.dest_claimed == sa.false(),
    _M.c.status == sa.literal_column("'accepted'"),
).values(dest_compute=_p('m_host'), dest_claimed=sa.true())

_RELEASE_MIGRATION = sa.update(_M).where(
    _M.c.uuid == _p('m_uuid'), _M.c.dest_claimed == sa.true(),
).values(dest_claimed=sa.false())

# a resize's source claim (old flavor), the migration's from the switch
# until the resize is confirmed (released) or reverted (the instance's)
_HOLD_SOURCE = sa.update(_M).where(
    _M.c.uuid == _p('m_uuid'), _M.c.source_claimed == sa.false(),
).values(source_claimed=sa.true())

_RELEASE_SOURCE = sa.update(_M).where(
    _M.c.uuid == _p('m_uuid'), _M.c.source_claimed == sa.true(),
).values(source_claimed=sa.false())

_RELEASE_INSTANCE = sa.update(_I).where(
    _I.c.uuid == _p('i_uuid'), _I.c.claimed == sa.true(),
).values(claimed=sa.false())

_RELEASE_NODE = sa.update(_N).where(_N.c.host == _p('n_host')).values(
    vcpus_used=_N.c.vcpus_used - _p('d_vcpus'),
    memory_mb_used=_N.c.memory_mb_used - _p('d_ram'),
    local_gb_used=_N.c.local_gb_used - _p('d_disk'),
    running_vms=_N.c.running_vms - 1,
    generation=_N.c.generation + 1)


class _Precompiled:
    """A Core statement compiled once per dialect and run straight on the
    DBAPI cursor: that skips SQLAlchemy's per-execution work, which would
    cost as much as the database itself. The values are plain ints, floats
    and strings; only the ``updated_at`` that the models set on every
    update needs the dialect's conversion."""

    def __init__(self, stmt, names):
        self.stmt, self.names = stmt, frozenset(names) | {'updated_at'}
        self._by_dialect = weakref.WeakKeyDictionary()

    def _compiled(self, dialect):
        found = self._by_dialect.get(dialect)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            order = compiled.positiontup if compiled.positional else None
            assert set(order or compiled.binds) <= self.names, \
                compiled.binds
            to_db = sa.DateTime().dialect_impl(dialect).bind_processor(
                dialect) or (lambda v: v)
            found = self._by_dialect[dialect] = (compiled.string, order,
                                                 to_db)
        return found

    def execute(self, cursor, dialect, params):
        """Run with ``params`` (a dict); return the rowcount."""
        sql, order, to_db = self._compiled(dialect)
        params['updated_at'] = to_db(models.utcnow())
        cursor.execute(sql, [params[k] for k in order] if order else params)
        return cursor.rowcount


_CLAIM_INSTANCE_SQL = _Precompiled(_CLAIM_INSTANCE, ('i_uuid', 'i_host'))
_CLAIM_MIGRATION_SQL = _Precompiled(_CLAIM_MIGRATION, ('m_uuid', 'm_host'))
_CLAIM_NODE_SQL = _Precompiled(_CLAIM_NODE, (
    'n_id', 'd_vcpus', 'd_ram', 'd_disk', 'cpu_ratio', 'ram_ratio',
    'disk_ratio', 'max_vms'))


def claim(engine, node_id, host, spec, settings):
    """Claim ``spec`` on compute node ``node_id`` (named ``host``) and set
    the instance's host, in one transaction.

    Return True if the claim holds, False if the host no longer has room
    (a lost race); raise ClaimFailed if the instance is gone or claimed.
    """
    cpu, ram, disk = settings.ratios
    dialect = engine.dialect
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        if spec.migration_uuid:
            placed = _CLAIM_MIGRATION_SQL.execute(cursor, dialect, {
                'm_uuid': spec.migration_uuid, 'm_host': host}) == 1
        else:
            placed = _CLAIM_INSTANCE_SQL.execute(cursor, dialect, {
                'i_uuid': spec.instance_uuid, 'i_host': host}) == 1
        won = placed and _CLAIM_NODE_SQL.execute(cursor, dialect, {
            'n_id': node_id, 'd_vcpus': spec.vcpus, 'd_ram': spec.memory_mb,
            'd_disk': spec.root_gb, 'cpu_ratio': cpu, 'ram_ratio': ram,
            'disk_ratio': disk,
            'max_vms': settings.max_instances_per_host}) == 1
        if won:
            conn.commit()
        else:
            conn.rollback()
        cursor.close()
    except BaseException:
        try:
            conn.rollback()    # the pool does not (session.create_engine)
        except Exception:      # the connection is gone: not back in the pool
            conn.invalidate()
        raise
    finally:
        conn.close()
    if not placed:
        raise exception.ClaimFailed(host=host, reason=(
            'migration %s is not waiting for a claim' % spec.migration_uuid
            if spec.migration_uuid else
            'instance %s is deleted, claimed or no longer being scheduled'
            % spec.instance_uuid))
    return won


def _release_node(session_or_conn, host, instance_row):
    # a suspended instance's vCPUs and RAM were given back already
    compute = not getattr(instance_row, 'compute_released', False)
    session_or_conn.execute(_RELEASE_NODE, {
        'n_host': host, 'd_vcpus': instance_row.vcpus if compute else 0,
        'd_ram': instance_row.memory_mb if compute else 0,
        'd_disk': instance_row.root_gb})


def release_migration(session, migration_row, instance_row):
    """Give back the destination's share a move claimed (the move failed
    or was cancelled), once; return whether anything was released."""
    if session.execute(_RELEASE_MIGRATION, {
            'm_uuid': migration_row.uuid}).rowcount != 1:
        return False
    _release_node(session, migration_row.dest_compute, instance_row)
    attributes.set_committed_value(migration_row, 'dest_claimed', False)
    return True


def _guarded(session, stmt, migration_row, flag):
    """Run a guarded flip of ``migration_row``'s ``flag``; ClaimFailed
    if it was not in the state the flip expects (done already)."""
    if session.execute(stmt, {'m_uuid': migration_row.uuid}).rowcount != 1:
        raise exception.ClaimFailed(
            host=migration_row.dest_compute,
            reason='migration %s: %s is not %s' % (
                migration_row.uuid, flag, not getattr(migration_row, flag)))
    attributes.set_committed_value(migration_row, flag,
                                   not getattr(migration_row, flag))


def switch_over(session, migration_row, instance_row, keep_source=False):
    """The move is done: the destination's claim becomes the instance's,
    the source's is released (``keep_source``: becomes the migration's,
    a resize waiting to be confirmed) and the instance is the
    destination's, in the caller's transaction. ClaimFailed if the
    migration holds no claim (switched already, or released)."""
    _guarded(session, _RELEASE_MIGRATION, migration_row, 'dest_claimed')
    if instance_row.claimed and instance_row.host:
        if keep_source:
            _guarded(session, _HOLD_SOURCE, migration_row, 'source_claimed')
        else:
            _release_node(session, instance_row.host, instance_row)
    instance_row.host = instance_row.node = migration_row.dest_compute
    instance_row.claimed = True
    instance_row.compute_released = False   # the destination's is whole


def release_source(session, migration_row, old_flavor):
    """A resize is confirmed: give back the source's claim (``old_flavor``'s
    resources) the migration holds, once; return whether it did."""
    if session.execute(_RELEASE_SOURCE, {
            'm_uuid': migration_row.uuid}).rowcount != 1:
        return False
    _release_node(session, migration_row.source_compute, old_flavor)
    attributes.set_committed_value(migration_row, 'source_claimed', False)
    return True


def switch_back(session, migration_row, instance_row):
    """A resize is reverted: the destination's claim (the instance's,
    its new flavor) is released and the source's (the migration's) is the
    instance's again, with the instance back on the source; the caller
    puts the old flavor back. ClaimFailed if the migration holds no
    source claim (reverted or confirmed already)."""
    _guarded(session, _RELEASE_SOURCE, migration_row, 'source_claimed')
    _release_node(session, instance_row.host, instance_row)
    instance_row.host = instance_row.node = migration_row.source_compute


# a suspend gives the vCPUs and RAM back, a resume takes them again (on
# the same host, where the saved guest is: no room there is a refusal)
_COMPUTE_RELEASED = sa.update(_I).where(
    _I.c.uuid == _p('i_uuid'), _I.c.claimed == sa.true(),
    _I.c.compute_released == sa.false(),
).values(compute_released=sa.true())

_COMPUTE_RECLAIMED = sa.update(_I).where(
    _I.c.uuid == _p('i_uuid'), _I.c.compute_released == sa.true(),
).values(compute_released=sa.false())

_GIVE_COMPUTE = sa.update(_N).where(_N.c.host == _p('n_host')).values(
    vcpus_used=_N.c.vcpus_used - _p('d_vcpus'),
    memory_mb_used=_N.c.memory_mb_used - _p('d_ram'),
    generation=_N.c.generation + 1)

_TAKE_COMPUTE = sa.update(_N).where(
    _N.c.host == _p('n_host'),
    _N.c.vcpus_used + _p('d_vcpus') <= _N.c.vcpus * _ratio('cpu_ratio'),
    _N.c.memory_mb_used + _p('d_ram') <= _N.c.memory_mb * _ratio('ram_ratio'),
).values(vcpus_used=_N.c.vcpus_used + _p('d_vcpus'),
         memory_mb_used=_N.c.memory_mb_used + _p('d_ram'),
         generation=_N.c.generation + 1)


def release_compute(session, instance_row):
    """A suspended instance gives its host's share of vCPUs and RAM back
    (its disk stays claimed), once, in the caller's transaction; return
    whether anything was released."""
    if session.execute(_COMPUTE_RELEASED, {
            'i_uuid': instance_row.uuid}).rowcount != 1:
        return False
    session.execute(_GIVE_COMPUTE, {
        'n_host': instance_row.host, 'd_vcpus': instance_row.vcpus,
        'd_ram': instance_row.memory_mb})
    return True


def reclaim_compute(session, instance_row, settings):
    """Take back what ``release_compute`` gave, on the instance's host,
    in the caller's transaction; NoRoomToResume (the caller rolls back)
    if the host has no room for it now. An instance that released
    nothing takes nothing."""
    if session.execute(_COMPUTE_RECLAIMED, {
            'i_uuid': instance_row.uuid}).rowcount != 1:
        return
    cpu, ram, _disk = settings.ratios
    if session.execute(_TAKE_COMPUTE, {
            'n_host': instance_row.host, 'd_vcpus': instance_row.vcpus,
            'd_ram': instance_row.memory_mb, 'cpu_ratio': cpu,
            'ram_ratio': ram}).rowcount != 1:
        raise exception.NoRoomToResume(
            instance=instance_row.uuid, host=instance_row.host,
            vcpus=instance_row.vcpus, memory_mb=instance_row.memory_mb)


def release(session_or_conn, instance_row):
    """Give back the resources claimed for ``instance_row`` (an Instance
    row or any object with uuid, host, vcpus, memory_mb, root_gb, read in
    the caller's transaction), in that transaction.

    Only a claimed instance is released, and the flag is cleared in the
    same guarded UPDATE, so a second release is a no-op. Return whether
    anything was released.
    """
    if session_or_conn.execute(_RELEASE_INSTANCE, {
            'i_uuid': instance_row.uuid}).rowcount != 1:
        return False
    if instance_row.host:
        _release_node(session_or_conn, instance_row.host, instance_row)
    if isinstance(instance_row, models.Instance):
        # keep the ORM object true without flushing another UPDATE
        attributes.set_committed_value(instance_row, 'claimed', False)
    return True
