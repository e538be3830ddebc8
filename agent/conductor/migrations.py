"""Moving instances between hosts, as operators ask for it (topic
``conductor_api``, admins only): live migration, its abort and forced
completion, and the migration records. What the agents report of each step
is agent.conductor.migration_steps.

``live_migrate`` records the move (status accepted, the instance's
task_state ``migrating``, the action ``live-migration``) in one
transaction, has the scheduler claim a destination for it (the one the
admin named, if any, still checked by every filter; never the source) and
casts ``prepare_live_migration`` to the destination. No host fits: the
move ends at once in error and the caller gets NoValidHost with the
filters' reasons.
"""
import logging
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent import objects
from agent.conductor import endpoint
from agent.conductor import migration_steps as steps
from agent.db import api as db
from agent.db import models
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from agent.scheduler import rpcapi as scheduler_rpcapi

LOG = logging.getLogger(__name__)

REF = f.String(max_length=255)
#: the vm_states a guest may move live in
LIVE_STATES = (S.ACTIVE, S.PAUSED)


def require_admin(ctxt, what):
    if not ctxt.is_admin:
        raise exception.AdminRequired(what=what)


def _active_migration(s, instance_uuid, migration_uuid=None):
    M = models.Migration
    query = sa.select(M).where(M.instance_uuid == instance_uuid,
                               M.status.in_(S.MIGRATION_ACTIVE))
    if migration_uuid:
        query = query.where(M.uuid == migration_uuid)
    row = s.scalar(query.order_by(M.id.desc()).limit(1).with_for_update())
    if row is None:
        raise exception.MigrationNotFound(
            migration=migration_uuid or 'in progress for %s' % instance_uuid)
    if row.migration_type != S.LIVE_MIGRATION:
        raise exception.MigrationInvalidState(
            action='abort or force (only a live migration)',
            migration=row.uuid, status=row.status)
    return row


def begin_move(s, ctxt, row, mig, task_state, action, host, flavor=None):
    """Record the move ``mig`` of instance ``row`` (its task_state set
    by compare and swap, its action started) in the caller's
    transaction; return the RequestSpec that claims its destination
    (``host``, if the admin named one; never the source) for the
    instance's resources (``flavor``'s, a resize's new one, if given)."""
    size = flavor or row
    s.add(mig)
    db.instance_update(s, row.uuid, {'task_state': task_state},
                       expected_task_state=[None], reread=False)
    db.action_start(s, row.uuid, action, ctxt.request_id, ctxt.user_id,
                    ctxt.project_id)
    return objects.RequestSpec(
        instance_uuid=row.uuid, project_id=row.project_id,
        vcpus=size.vcpus, memory_mb=size.memory_mb, root_gb=size.root_gb,
        availability_zone=row.availability_zone, same_host=[],
        different_host=[], ignore_hosts=[row.host], migration_uuid=mig.uuid,
        requested_host=host)


class MigrationManager(endpoint.Endpoint):
    target = messaging.Target(version='1.12')  # see conductor_rpcapi

    def __init__(self, engine=None, scheduler=None, compute=None):
        super().__init__(engine, compute)
        self.scheduler = scheduler or scheduler_rpcapi.SchedulerAPI()

    @checks.expects(ref=REF, host=f.String(max_length=255, nullable=True),
                    block_migration=f.Boolean(nullable=True))
    def live_migrate(self, ctxt, ref, host, block_migration):
        """Start moving the running guest of ``ref`` to ``host`` (None: the
        scheduler picks); ``block_migration`` copies its root disk (None:
        unless the destination shares the instances directory). Return
        the Migration."""
        require_admin(ctxt, 'live-migrate an instance')
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            self._check_movable(row, host)
            mig = models.Migration(
                uuid=str(uuidlib.uuid4()), instance_uuid=row.uuid,
                migration_type='live-migration', status=S.MIGRATION_ACCEPTED,
                source_compute=row.host, block_migration=block_migration
                is not False, request_id=ctxt.request_id,
                user_id=ctxt.user_id, project_id=ctxt.project_id)
            spec = begin_move(s, ctxt, row, mig, S.MIGRATING,
                              'live-migration', host)
            mig_uuid, instance_uuid = mig.uuid, row.uuid
        try:
            dest = self.scheduler.select_destination_for_move(ctxt, spec)
        except Exception as e:
            reason = exception.text(e) if isinstance(
                e, exception.HVAgentError) else 'Scheduling failed: %s: %s' % (
                type(e).__name__, exception.text(e))
            self._end(mig_uuid, 'No destination: ' + reason)
            cancelled = self._migration(mig_uuid)
            if cancelled.status == S.MIGRATION_CANCELLED:
                return cancelled    # aborted while the scheduler claimed
            if isinstance(e, exception.NoValidHost):
                raise
            raise exception.MigrationPreCheckError(
                instance=instance_uuid, reason=reason) from None
        with self._session() as s:
            mig = steps.get(s, mig_uuid, for_update=True)
            try:
                steps.transition(s, mig, 'prepare', S.MIGRATION_PREPARING,
                                 S.MIGRATION_ACCEPTED)
            except exception.MigrationInvalidState:   # aborted meanwhile
                return to_objects.migration(mig)
            out = to_objects.migration(mig)
        LOG.info('Live migration %s of %s: %s -> %s', mig_uuid,
                 instance_uuid, out.source_compute, dest)
        self.compute.prepare_live_migration(ctxt, dest, instance_uuid,
                                            mig_uuid)
        return out

    @staticmethod
    def _check_movable(row, host):
        if row.vm_state not in LIVE_STATES or row.task_state is not None:
            raise exception.InstanceInvalidState(
                action='live-migrate', instance=row.uuid,
                vm_state=row.vm_state, task_state=row.task_state)
        if not row.host:
            raise exception.MigrationPreCheckError(
                instance=row.uuid, reason='it is on no host')
        if host == row.host:
            raise exception.MigrationPreCheckError(
                instance=row.uuid, reason='it runs on %s already' % host)

    def _end(self, migration_uuid, reason, cancelled=False,
             from_=S.MIGRATION_ACTIVE):
        """End a move that has not reached the source: the claim (if any)
        released, the instance's task cleared. Return the host to roll
        back (the destination, if it was told to prepare)."""
        with self._session() as s:
            mig = steps.get(s, migration_uuid, for_update=True)
            if mig.status not in S.MIGRATION_ACTIVE:
                return None             # ended meanwhile (cancelled)
            instance = db.instance_get(s, mig.instance_uuid, for_update=True)
            return steps.fail(s, mig, instance, reason, cancelled,
                              from_=from_)

    @checks.expects(ref=REF, migration_uuid=f.UUID(nullable=True))
    def migration_abort(self, ctxt, ref, migration_uuid):
        """Cancel the instance's move in progress: the guest stays on (or
        goes back to) the source, nothing is left on the destination."""
        require_admin(ctxt, 'abort a live migration')
        with self._session() as s:
            instance = db.instance_get_by_ref(s, ref)
            mig = _active_migration(s, instance.uuid, migration_uuid)
            mig_uuid, status = mig.uuid, mig.status
            source = mig.source_compute
        rollback = None
        if status != S.MIGRATION_RUNNING:
            # not copying yet: ended here, in a compare and swap that a
            # racing live_migration_prepared cannot also win
            try:
                rollback = self._end(mig_uuid, 'Cancelled by %s before it '
                                     'started' % (ctxt.user_id or 'an admin'),
                                     cancelled=True, from_=(
                                         S.MIGRATION_ACCEPTED,
                                         S.MIGRATION_PREPARING))
            except exception.MigrationInvalidState as e:
                status = e.kwargs['status']     # the copy began meanwhile
        if status == S.MIGRATION_RUNNING:
            # the source's hypervisor cancels; the source reports it
            self.compute.live_migration_abort(ctxt, source, instance.uuid,
                                              mig_uuid)
        elif rollback and status == S.MIGRATION_PREPARING:
            self.compute.rollback_live_migration(ctxt, rollback,
                                                 instance.uuid, mig_uuid)
        return self._migration(mig_uuid)

    @checks.expects(ref=REF, migration_uuid=f.UUID(nullable=True))
    def migration_force_complete(self, ctxt, ref, migration_uuid):
        """Pause the guest so its running migration finishes (the
        destination resumes it)."""
        require_admin(ctxt, 'force a live migration to complete')
        with self._session() as s:
            instance = db.instance_get_by_ref(s, ref)
            mig = _active_migration(s, instance.uuid, migration_uuid)
            if mig.status != S.MIGRATION_RUNNING:
                raise exception.MigrationInvalidState(
                    action='force to complete', migration=mig.uuid,
                    status=mig.status)
            mig_uuid, source = mig.uuid, mig.source_compute
        self.compute.live_migration_force_complete(ctxt, source,
                                                   instance.uuid, mig_uuid)
        return self._migration(mig_uuid)

    def _migration(self, migration_uuid):
        with self._session() as s:
            return to_objects.migration(steps.get(s, migration_uuid))

    @checks.expects(migration_uuid=f.UUID())
    def migration_show(self, ctxt, migration_uuid):
        require_admin(ctxt, 'see migrations')
        return self._migration(migration_uuid)

    @checks.expects(ref=f.String(max_length=255, nullable=True),
                    host=f.String(max_length=255, nullable=True),
                    status=f.Enum(S.MIGRATION_STATUSES, nullable=True),
                    limit=f.Integer(min=1, max=1000, default=100))
    def migration_list(self, ctxt, ref, host, status, limit):
        """The newest ``limit`` migrations, of one instance, touching one
        host (as source or destination) and in one status if given."""
        require_admin(ctxt, 'see migrations')
        M = models.Migration
        query = sa.select(M)
        with self._session() as s:
            if ref:
                query = query.where(M.instance_uuid ==
                                    db.instance_get_by_ref(s, ref).uuid)
            if host:
                query = query.where(sa.or_(M.source_compute == host,
                                           M.dest_compute == host))
            if status:
                query = query.where(M.status == status)
            rows = s.scalars(query.order_by(M.id.desc()).limit(limit)).all()
            return [to_objects.migration(r) for r in rows]
