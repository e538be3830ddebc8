"""The steps of a live migration the agents report (topic ``conductor``).

The conductor orchestrates a move; each agent acts only on its own side and
only when the conductor tells it to, and what one agent reports reaches the
other only through here, checked (DESIGN.md, "Moving a guest"):

  destination  migration_step_start(prepare) -> ports plugged, files made
               -> live_migration_prepared(address): checked, recorded,
               ``live_migration`` cast to the source            (running)
  source       migration_step_start(live) -> the hypervisor copies,
               migration_progress ... -> live_migration_completed: in one
               transaction the instance and its ports become the
               destination's, the destination's claim the instance's and the
               source's claim is released; ``finish_live_migration`` cast to
               the destination                           (post-migrating)
               -> its leftovers removed -> migration_cleaned
  destination  migration_step_start(finish) -> live_migration_finished:
               task_state cleared                            (completed)
  either side  live_migration_failed while the move is not switched: the
               destination's claim released, a fault, task_state cleared,
               ``rollback_live_migration`` cast to the destination
                                                    (error | cancelled)

A compute node is admitted only for its own side of a migration (the
source's steps from the source, the destination's from the destination);
anyone else is told the migration does not exist.
"""
import logging

import oslo_messaging as messaging
import sqlalchemy as sa
from sqlalchemy.orm import attributes

from agent import exception
from agent.conductor import agent_calls
from agent.conductor import endpoint
from agent.conductor import networks
from agent.conductor import secgroups
from agent.db import api as db
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from agent.scheduler import claim
from virt import migration as virt_migration

LOG = logging.getLogger(__name__)

UUID = f.UUID()
HOST = f.String()
SOURCE, DEST = 'source', 'destination'
ROLLBACK = 'compute_rollback_live_migration'
CLEANUP = 'compute_cleanup_live_migration'
REBUILD = 'compute_rebuild_instance'
CLEANUP_EVACUATED = 'compute_cleanup_evacuated_instance'
# a resize's (agent.conductor.resize_steps)
RESIZE_INSTANCE, FINISH_RESIZE = ('compute_resize_instance',
                                  'compute_finish_resize')
CONFIRM_RESIZE, REVERT_RESIZE = ('compute_confirm_resize',
                                 'compute_revert_resize')
FINISH_REVERT = 'compute_finish_revert_resize'
#: each agent step's action event and the side that runs it
STEPS = {
    RESIZE_INSTANCE: SOURCE,
    FINISH_RESIZE: DEST,
    CONFIRM_RESIZE: SOURCE,
    REVERT_RESIZE: DEST,
    FINISH_REVERT: SOURCE,
    'compute_prepare_live_migration': DEST,
    'compute_live_migration': SOURCE,
    'compute_finish_live_migration': DEST,
    ROLLBACK: DEST,
    CLEANUP: SOURCE,
    REBUILD: DEST,
    CLEANUP_EVACUATED: SOURCE,
}
PROGRESS = f.Struct({name: f.Integer(min=0) for name in (
    'memory_total', 'memory_processed', 'memory_remaining', 'disk_total',
    'disk_processed', 'disk_remaining')} | {
    'downtime_ms': f.Integer(min=0, nullable=True)}, default=None)
#: how many finished migrations a restarted agent is shown
RECENT = 100


def get(s, migration_uuid, for_update=False):
    query = sa.select(models.Migration).where(
        models.Migration.uuid == migration_uuid)
    if for_update:
        query = query.with_for_update()
    row = s.scalar(query)
    if row is None:
        raise exception.MigrationNotFound(migration=migration_uuid)
    return row


def _side_of(row, host):
    return {row.source_compute: SOURCE, row.dest_compute: DEST}.get(host)


def admit(ctxt, row, host, side):
    """``host`` (the caller's, when a compute node calls) must be the
    migration's ``side``; else the migration does not exist for it."""
    agent_calls.confine(ctxt, host)
    if _side_of(row, host) != side:
        raise exception.MigrationNotFound(migration=row.uuid)


def transition(s, row, action, to, *from_):
    """Move ``row`` from one of ``from_`` to status ``to``: a compare and
    swap in the database, so of two racing steps (an abort and the
    destination's report, say) exactly one wins on every backend; the
    loser gets MigrationInvalidState."""
    M = models.Migration
    if s.execute(sa.update(M).where(M.uuid == row.uuid,
                                    M.status.in_(from_)).values(
            status=to, updated_at=models.utcnow())).rowcount != 1:
        s.refresh(row)
        raise exception.MigrationInvalidState(
            action=action, migration=row.uuid, status=row.status)
    attributes.set_committed_value(row, 'status', to)


def finish_event(s, row, event, result, traceback=None, final=False):
    try:
        db.event_finish(s, row.instance_uuid, row.request_id, event, result,
                        traceback, finish_action=final)
    except exception.NotFound:
        LOG.warning('No action %s on %s to record %s in', row.request_id,
                    row.instance_uuid, event)


def fail_unstarted(s, migration_uuid, reason):
    """End a move no host was found for (nothing was made anywhere), in
    the caller's transaction."""
    mig = get(s, migration_uuid, for_update=True)
    instance = db.instance_get(s, mig.instance_uuid, for_update=True)
    fail(s, mig, instance, reason)
    mig.cleanup_host = None


def fail(s, row, instance, reason, cancelled=False, event=None,
         traceback=None, from_=S.MIGRATION_ACTIVE):
    """End a move that did not switch over, in the caller's transaction:
    the destination's claim released, the instance's task cleared (its
    vm_state unchanged: the guest still runs on the source), a fault and
    the action's error recorded, if its status is one of ``from_`` (else
    MigrationInvalidState). Return the host to roll back (or None)."""
    transition(s, row, 'end', S.MIGRATION_CANCELLED if cancelled
               else S.MIGRATION_ERROR, *from_)
    row.error = reason[:1024]
    if instance is not None:
        claim.release_migration(s, row, claimed_share(s, row, instance))
        if instance.task_state in MOVE_TASKS:
            instance.task_state = None
        db.fault_create(s, instance.uuid, reason, traceback or '',
                        row.source_compute, code=409 if cancelled else 500)
    if event:
        finish_event(s, row, event, 'Error', traceback)
    try:
        db.action_finish(db.action_get(s, row.instance_uuid, row.request_id),
                         'Error', reason)
    except exception.NotFound:
        pass
    row.cleanup_host = row.dest_compute
    return row.dest_compute


#: the task_states a move sets (cleared when it fails)
MOVE_TASKS = (S.MIGRATING, S.REBUILDING, S.RESIZE_PREP, S.RESIZE_MIGRATING)


def claimed_share(s, row, instance):
    """What the move claimed on its destination: the new flavor's
    resources for a resize, else the instance's."""
    if row.new_flavor_id is not None:
        return s.get(models.Flavor, row.new_flavor_id)
    return instance


def _progress(row, progress):
    for key, value in progress.items():
        setattr(row, key, value)


class MigrationSteps(endpoint.Endpoint):
    """What the source and destination agents report of a move."""
    target = messaging.Target(version='1.12')  # see conductor_rpcapi

    @checks.expects(migration_uuid=UUID, host=HOST,
                    event=f.Enum(sorted(STEPS)))
    def migration_step_start(self, ctxt, migration_uuid, host, event):
        """Begin the caller's step ``event``: {'migration', 'instance'}."""
        with self._session() as s:
            row = get(s, migration_uuid)
            admit(ctxt, row, host, STEPS[event])
            instance = db.instance_get(s, row.instance_uuid)
            agent_calls.event_start(s, ctxt, row.instance_uuid,
                                    row.request_id, event, host)
            return {'migration': to_objects.migration(row),
                    'instance': to_objects.add_addresses(
                        s, [to_objects.instance(s, instance)])[0]}

    @checks.expects(migration_uuid=UUID, host=HOST,
                    address=f.String(max_length=255),
                    shared_storage=f.Boolean())
    def live_migration_prepared(self, ctxt, migration_uuid, host, address,
                                shared_storage):
        """The destination is ready at ``address`` (an IP address or a
        host name: it ends up in the source's migration URI)."""
        try:
            address = virt_migration.check_address(address)
        except ValueError as e:
            raise exception.InvalidRPCPayload(
                'migration address: %s' % e) from None
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, DEST)
            transition(s, row, 'start', S.MIGRATION_RUNNING,
                       S.MIGRATION_PREPARING)
            row.dest_address, row.shared_storage = address, shared_storage
            finish_event(s, row, 'compute_prepare_live_migration',
                          'Success')
            source, instance_uuid = row.source_compute, row.instance_uuid
        self.compute.live_migration(ctxt, source, instance_uuid,
                                    migration_uuid)

    @checks.expects(migration_uuid=UUID, host=HOST, progress=PROGRESS)
    def migration_progress(self, ctxt, migration_uuid, host, progress):
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, SOURCE)
            if row.status == S.MIGRATION_RUNNING:
                _progress(row, progress)

    @checks.expects(migration_uuid=UUID, host=HOST, progress=PROGRESS)
    def live_migration_completed(self, ctxt, migration_uuid, host, progress):
        """The guest runs on the destination: switch the instance over."""
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, SOURCE)
            if row.status in (S.MIGRATION_SWITCHED, S.MIGRATION_COMPLETED):
                return to_objects.migration(row)    # a repeated report
            transition(s, row, 'complete', S.MIGRATION_SWITCHED,
                       S.MIGRATION_RUNNING)
            instance = db.instance_get(s, row.instance_uuid, for_update=True)
            claim.switch_over(s, row, instance)
            s.execute(sa.update(N.Port).where(
                N.Port.instance_uuid == row.instance_uuid).values(
                host=row.dest_compute))
            _progress(row, progress)
            row.cleanup_host = host
            finish_event(s, row, 'compute_live_migration', 'Success')
            peers = secgroups.peer_hosts(s, row.instance_uuid)
            dest, out = row.dest_compute, to_objects.migration(row)
        LOG.info('Instance %s switched over from %s to %s',
                 row.instance_uuid, host, dest)
        self.compute.finish_live_migration(ctxt, dest, row.instance_uuid,
                                           migration_uuid)
        self.refresh_hosts(ctxt, peers - {host, dest})
        return out

    @checks.expects(migration_uuid=UUID, host=HOST,
                    power_state=f.Enum(S.POWER_STATES))
    def live_migration_finished(self, ctxt, migration_uuid, host,
                                power_state):
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, DEST)
            if row.status == S.MIGRATION_COMPLETED:
                return
            transition(s, row, 'finish', S.MIGRATION_COMPLETED,
                       S.MIGRATION_SWITCHED)
            db.instance_update(s, row.instance_uuid, {
                'task_state': None, 'power_state': power_state},
                expected_task_state=[S.MIGRATING], reread=False)
            finish_event(s, row, 'compute_finish_live_migration', 'Success',
                          final=True)

    @checks.expects(migration_uuid=UUID, host=HOST, result=agent_calls.RESULT)
    def evacuation_done(self, ctxt, migration_uuid, host, result):
        """The destination rebuilt the evacuated instance (its operation
        recorded the states and any fault): the move is over."""
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, DEST)
            transition(s, row, 'end', S.MIGRATION_COMPLETED if result ==
                       'Success' else S.MIGRATION_ERROR, S.MIGRATION_SWITCHED)

    @checks.expects(migration_uuid=UUID, host=HOST,
                    event=f.Enum(sorted(STEPS)),
                    reason=f.String(max_length=1024),
                    cancelled=f.Boolean(default=False),
                    traceback=f.String(max_length=65535, nullable=True))
    def live_migration_failed(self, ctxt, migration_uuid, host, event, reason,
                              cancelled, traceback):
        """A step before the switch-over failed (on the side that runs
        ``event``); the guest runs on the source."""
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, STEPS[event])
            if row.status not in S.MIGRATION_ACTIVE:
                return      # ended already (cancelled, or a repeat)
            instance = db.instance_get(s, row.instance_uuid, for_update=True)
            rollback = fail(s, row, instance, reason, cancelled, event,
                            traceback)
            instance_uuid = row.instance_uuid
        LOG.warning('Live migration %s of %s %s: %s', migration_uuid,
                    instance_uuid, 'cancelled' if cancelled else 'failed',
                    reason)
        if rollback:
            self.compute.rollback_live_migration(ctxt, rollback,
                                                 instance_uuid,
                                                 migration_uuid)

    @checks.expects(migration_uuid=UUID, host=HOST,
                    event=f.Enum([ROLLBACK, CLEANUP, CLEANUP_EVACUATED,
                                  CONFIRM_RESIZE, REVERT_RESIZE]),
                    result=agent_calls.RESULT,
                    traceback=f.String(max_length=65535, nullable=True))
    def migration_cleaned(self, ctxt, migration_uuid, host, event, result,
                          traceback):
        """``host`` removed what the move left there (``result``
        'Success'), or could not (it tries again at its next start)."""
        with self._session() as s:
            row = get(s, migration_uuid, for_update=True)
            admit(ctxt, row, host, STEPS[event])
            if row.cleanup_host == host and result == 'Success':
                row.cleanup_host = None
            # a confirm is over once the source is clean
            finish_event(s, row, event, result, traceback,
                         final=event == CONFIRM_RESIZE)
            # a revert's destination is clean: the source starts the guest
            # (not before: it never runs on both hosts)
            source = row.source_compute if (
                event == REVERT_RESIZE and result == 'Success' and
                row.status == S.MIGRATION_REVERTING) else None
            instance_uuid = row.instance_uuid
        if source:
            self.compute.finish_revert_resize(ctxt, source, instance_uuid,
                                              migration_uuid)

    @checks.expects(host=HOST)
    def migrations_by_host(self, ctxt, host):
        """The moves ``host`` takes part in that are not over for it: not
        ended, or with its leftovers still to remove (a restarted agent
        resumes them)."""
        agent_calls.confine(ctxt, host)
        M = models.Migration
        with self._session() as s:
            rows = s.scalars(sa.select(M).where(sa.or_(
                sa.and_(sa.or_(M.source_compute == host,
                               M.dest_compute == host),
                        M.status.in_(S.MIGRATION_ACTIVE + (
                            S.MIGRATION_SWITCHED, S.MIGRATION_REVERTING))),
                M.cleanup_host == host)).order_by(M.id.desc()).limit(
                RECENT)).all()
            return [to_objects.migration(r) for r in reversed(rows)]

    @checks.expects(migration_uuid=UUID, host=HOST)
    def migration_ports(self, ctxt, migration_uuid, host):
        """The ports of the migrating instance, as its agents wire them
        (to unplug them from the side that gives the guest up)."""
        with self._session() as s:
            row = get(s, migration_uuid)
            agent_calls.confine(ctxt, host)
            if _side_of(row, host) is None:
                raise exception.MigrationNotFound(migration=migration_uuid)
            return networks.port_objects(s, s.scalars(sa.select(N.Port).where(
                N.Port.instance_uuid == row.instance_uuid).order_by(
                N.Port.id)).all())
