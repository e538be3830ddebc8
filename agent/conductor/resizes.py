"""Resize and cold migration, as users and operators ask for them (topic
``conductor_api``; nova's resize, migrate, confirmResize, revertResize).

``resize`` (the instance's project, or an admin) moves the instance to
another host with a new flavor; ``migrate`` (admins only) is a resize to
the same flavor. Either records the move (a migration of type ``resize``
or ``migration``, the instance's task_state ``resize_prep``, the action
``resize`` or ``migrate``) in one transaction, has the scheduler claim a
destination for the new flavor (never the source: nova's
allow_resize_to_same_host=False) and casts ``resize_instance`` to the
source; agent.conductor.resize_steps has the rest. Refused at once: the
same flavor, a smaller disk, over the project's quota (cores, ram), an
instance that is not active or stopped with no task. No host fits: the
move ends in error and the caller gets NoValidHost.

The guest then waits on the destination (vm_state ``resized``) for
``resize_confirm`` (the source's claim released, its guest removed) or
``resize_revert`` (back to the source with the old flavor).
"""
import logging
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import migration_steps as steps
from agent.conductor import migrations
from agent.conductor import quota
from agent.conductor import resize_steps
from agent.db import api as db
from agent.db import models
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from agent.scheduler import claim
from agent.scheduler import rpcapi as scheduler_rpcapi

LOG = logging.getLogger(__name__)

REF = migrations.REF
#: the vm_states an instance may be resized or cold-migrated in
RESIZABLE = (S.ACTIVE, S.STOPPED)


def _instance(s, ctxt, ref):
    """The instance ``ref``, for update; another project's is not found
    (the API resolves it in the caller's scope first; this is the
    conductor's own check)."""
    scope = None if ctxt.is_admin else ctxt.project_id
    row = db.instance_get_by_ref(s, ref, project_id=scope)
    return db.instance_get(s, row.uuid, for_update=True)


def check_resizable(row, flavor, action):
    """Refuse a resize of ``row`` to ``flavor`` that cannot be."""
    if row.vm_state not in RESIZABLE or row.task_state is not None:
        raise exception.InstanceInvalidState(
            action=action, instance=row.uuid, vm_state=row.vm_state,
            task_state=row.task_state)
    if not row.host:
        raise exception.ResizeRefused(instance=row.uuid,
                                      reason='it is on no host')
    if action == 'resize' and flavor.id == row.flavor_id:
        raise exception.ResizeRefused(
            instance=row.uuid, reason='it has flavor %s already (to move '
            'it to another host with the same flavor, an admin migrates '
            'it)' % flavor.name)
    if flavor.root_gb < row.root_gb:
        raise exception.ResizeRefused(
            instance=row.uuid, reason='flavor %s has a smaller disk (%d GB) '
            'than the instance (%d GB): disks are never shrunk' % (
                flavor.name, flavor.root_gb, row.root_gb))


def _flavor(s, ref):
    """A flavor by name, or by id (nova's flavorRef)."""
    try:
        return db.flavor_get_by_name(s, ref)
    except exception.FlavorNotFound:
        row = s.get(models.Flavor, int(ref)) if ref.isdigit() else None
        if row is None:
            raise
        return row


#: the actions on a resize waiting for them, as a refusal names them
VERIFY_ACTIONS = {'confirmResize': 'confirm the resize of',
                  'revertResize': 'revert the resize of'}


def _finished(s, instance_uuid):
    """The instance's resize waiting for confirm or revert, or None."""
    M = models.Migration
    return s.scalar(sa.select(M).where(
        M.instance_uuid == instance_uuid, M.status == S.MIGRATION_FINISHED,
        M.migration_type.in_(S.RESIZE_TYPES)).order_by(
        M.id.desc()).limit(1).with_for_update())


def _confirm(s, row, mig):
    """Confirm ``mig`` in the caller's transaction: the source's claim
    released, the source to clean up."""
    steps.transition(s, mig, 'confirm', S.MIGRATION_CONFIRMED,
                     S.MIGRATION_FINISHED)
    claim.release_source(s, mig, s.get(models.Flavor, mig.old_flavor_id))
    row.vm_state = mig.old_vm_state
    mig.cleanup_host = mig.source_compute


def confirm_if_resized(s, row):
    """Deleting a resized instance confirms its resize first (nova's
    _confirm_resize_on_deleting), in the caller's transaction, where it
    read ``row``: return (source, migration uuid) to cast confirm_resize
    with once that commits, or None if it waits for no confirmation."""
    if row.vm_state != S.RESIZED or row.task_state is not None:
        return None
    mig = _finished(s, row.uuid)
    if mig is None:
        return None
    _confirm(s, db.instance_get(s, row.uuid, for_update=True), mig)
    return mig.source_compute, mig.uuid


def _waiting(s, ctxt, ref, action):
    """(instance, migration) of a resize waiting for confirm or revert."""
    row = _instance(s, ctxt, ref)
    if row.vm_state != S.RESIZED or row.task_state is not None:
        raise exception.InstanceInvalidState(
            action=VERIFY_ACTIONS[action], instance=row.uuid,
            vm_state=row.vm_state, task_state=row.task_state)
    mig = _finished(s, row.uuid)
    if mig is None:
        raise exception.MigrationNotFound(
            migration='waiting for confirmation for %s' % row.uuid)
    # the steps that follow are events of this request's action
    mig.request_id = ctxt.request_id
    db.action_start(s, row.uuid, action, ctxt.request_id, ctxt.user_id,
                    ctxt.project_id)
    return row, mig


class ResizeManager(endpoint.Endpoint):
    target = messaging.Target(version='1.13')  # see conductor_rpcapi

    def __init__(self, engine=None, scheduler=None, compute=None):
        super().__init__(engine, compute)
        self.scheduler = scheduler or scheduler_rpcapi.SchedulerAPI()

    @checks.expects(ref=REF, flavor=f.String(max_length=255))
    def resize(self, ctxt, ref, flavor):
        """Move ``ref`` to another host with ``flavor`` (a name or an
        id); return the Migration."""
        with self._session() as s:
            row = _instance(s, ctxt, ref)
            new = _flavor(s, flavor)
            check_resizable(row, new, 'resize')
            quota.check(s, row.project_id, {
                k: v for k, v in (('cores', new.vcpus - row.vcpus),
                                  ('ram', new.memory_mb - row.memory_mb))
                if v > 0})
            mig_uuid, spec = self._begin(s, ctxt, row, new, S.RESIZE, None)
        return self._schedule(ctxt, mig_uuid, spec)

    @checks.expects(ref=REF, host=f.String(max_length=255, nullable=True))
    def migrate(self, ctxt, ref, host):
        """Move ``ref`` to ``host`` (None: the scheduler picks), stopped
        on the way, its flavor unchanged; admins only."""
        migrations.require_admin(ctxt, 'migrate an instance')
        with self._session() as s:
            row = _instance(s, ctxt, ref)
            check_resizable(row, row.flavor, 'migrate')
            if host == row.host:
                raise exception.MigrationPreCheckError(
                    instance=row.uuid, reason='it runs on %s already' % host)
            mig_uuid, spec = self._begin(s, ctxt, row, row.flavor,
                                         S.COLD_MIGRATION, host)
        return self._schedule(ctxt, mig_uuid, spec)

    @staticmethod
    def _begin(s, ctxt, row, flavor, kind, host):
        mig = models.Migration(
            uuid=str(uuidlib.uuid4()), instance_uuid=row.uuid,
            migration_type=kind, status=S.MIGRATION_ACCEPTED,
            source_compute=row.host, block_migration=False,
            request_id=ctxt.request_id, user_id=ctxt.user_id,
            project_id=ctxt.project_id, old_flavor_id=row.flavor_id,
            new_flavor_id=flavor.id, old_vm_state=row.vm_state)
        spec = migrations.begin_move(
            s, ctxt, row, mig, S.RESIZE_PREP,
            'resize' if kind == S.RESIZE else 'migrate', host, flavor)
        return mig.uuid, spec

    def _schedule(self, ctxt, mig_uuid, spec):
        """Claim the destination, then tell the source to begin."""
        try:
            self.scheduler.select_destination_for_move(ctxt, spec)
        except Exception as e:
            reason = exception.text(e) if isinstance(
                e, exception.HVAgentError) else 'Scheduling failed: %s: %s' % (
                type(e).__name__, exception.text(e))
            self._fail(mig_uuid, 'No destination: ' + reason)
            if isinstance(e, exception.NoValidHost):
                raise
            raise exception.MigrationPreCheckError(
                instance=spec.instance_uuid, reason=reason) from None
        with self._session() as s:
            mig = steps.get(s, mig_uuid, for_update=True)
            steps.transition(s, mig, 'start', S.MIGRATION_RUNNING,
                             S.MIGRATION_ACCEPTED)
            db.instance_update(s, mig.instance_uuid,
                               {'task_state': S.RESIZE_MIGRATING},
                               expected_task_state=[S.RESIZE_PREP],
                               reread=False)
            out = to_objects.migration(mig)
        LOG.info('%s %s of %s: %s -> %s', out.migration_type.capitalize(),
                 mig_uuid, out.instance_uuid, out.source_compute,
                 out.dest_compute)
        self.compute.resize_instance(ctxt, out.source_compute,
                                     out.instance_uuid, mig_uuid)
        return out

    def _fail(self, mig_uuid, reason):
        with self._session() as s:
            steps.fail_unstarted(s, mig_uuid, reason)

    @checks.expects(ref=REF)
    def resize_confirm(self, ctxt, ref):
        """Keep the resized guest: the source's claim is released now,
        its guest and ports removed by its agent (retried at its next
        start if it cannot). Return the Migration."""
        with self._session() as s:
            row, mig = _waiting(s, ctxt, ref, 'confirmResize')
            _confirm(s, row, mig)
            out = to_objects.migration(mig)
        self.compute.confirm_resize(ctxt, out.source_compute,
                                    out.instance_uuid, out.uuid)
        return out

    @checks.expects(ref=REF)
    def resize_revert(self, ctxt, ref):
        """Go back: the instance is the source's again with its old
        flavor; the destination removes its guest, then the source
        starts it again if it ran before. Return the Migration."""
        with self._session() as s:
            row, mig = _waiting(s, ctxt, ref, 'revertResize')
            peers = resize_steps.switch_back(s, mig, row)
            dest = mig.dest_compute
            out = to_objects.migration(mig)
        self.compute.revert_resize(ctxt, dest, out.instance_uuid, out.uuid)
        self.refresh_hosts(ctxt, peers - {dest})
        return out
