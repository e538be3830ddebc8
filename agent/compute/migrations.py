"""The compute manager's part in a live migration: one side's steps.

The conductor orchestrates (agent.conductor.migration_steps has the whole
flow); this agent acts on its own side only, each step begun and ended
through the conductor, which checks that this host is that side:

  destination  prepare_live_migration: the ports wired and filtered here
               (still bound to the source), the guest's files made; the
               address to send the guest to reported;
               finish_live_migration: after the switch-over, the guest
               made this host's for good and running, the ports ACTIVE;
               rollback_live_migration: after a failure, whatever the move
               made here removed.
  source       live_migration: the hypervisor moves the guest, progress is
               reported; once it runs on the destination the conductor
               switches the instance over and this host removes what is
               left of it; live_migration_abort / _force_complete act on
               the move while it runs.

A failure before the switch-over leaves the guest running on the source
(``live_migration_failed``); an agent killed mid-move resumes on start
(``resume_migrations``).
"""
import dataclasses
import logging
import threading
import time
import traceback

from oslo_config import cfg

from agent import exception
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from virt import failpoints
from virt import migration as virt_migration

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

UUID = f.UUID()
PREPARE, LIVE = 'compute_prepare_live_migration', 'compute_live_migration'
FINISH = 'compute_finish_live_migration'
ROLLBACK = 'compute_rollback_live_migration'
CLEANUP = 'compute_cleanup_live_migration'
#: how often a restarted source looks at a move its hypervisor still runs
RESUME_POLL = 0.5


def progress_of(p):
    """A MigrationProgress as the conductor's ``progress`` struct."""
    return {'memory_total': p.memory_total_bytes,
            'memory_processed': p.memory_processed_bytes,
            'memory_remaining': p.memory_remaining_bytes,
            'disk_total': p.disk_total_bytes,
            'disk_processed': p.disk_processed_bytes,
            'disk_remaining': p.disk_remaining_bytes,
            'downtime_ms': p.downtime_ms}


def options():
    opts = CONF.migration
    return virt_migration.LiveMigrationOptions(
        max_downtime_ms=opts.max_downtime_ms,
        completion_timeout_s=float(opts.completion_timeout),
        timeout_action=opts.timeout_action, bandwidth_mibps=opts.bandwidth,
        native_tls=opts.native_tls, poll_interval_s=opts.progress_interval)


def peer_uri(address):
    """The destination's hypervisor as this host reaches it, from the
    operator's template (never from a message)."""
    template = CONF.migration.peer_uri
    return template % address if '%s' in template else template


class LiveMigrationMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks,
    networking, _guest_spec, _failed and _report)."""

    def _init_moves(self):
        #: instance uuid -> migration uuid, of moves this host runs now
        self.moving = {}
        #: migrations asked to abort, until their copy ends here, and
        #: to complete, until the copy's next progress report
        self._abort_early, self._force_early = set(), set()

    # ------------------------------------------------------- destination
    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def prepare_live_migration(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, PREPARE,
                              S.MIGRATION_PREPARING)
            if step is None:
                return
            mig, instance = step
            self.moving[instance_uuid] = migration_uuid
            try:
                self._check_capability('supports_live_migration', PREPARE)
                target = self.driver.incoming_target()
                nics = self._plug(ctxt, instance, bind=False)
                failpoints.hit(PREPARE + '.start')
                self.driver.prepare_incoming(
                    self._guest_spec(ctxt, instance, nics),
                    target.shared_storage)
            except Exception as exc:
                self._step_failed(ctxt, mig, PREPARE, exc)
                return
            try:
                self.conductor.live_migration_prepared(
                    ctxt, migration_uuid=migration_uuid, host=self.host,
                    address=target.address,
                    shared_storage=target.shared_storage)
            except (exception.MigrationInvalidState,
                    exception.MigrationNotFound) as e:
                # cancelled meanwhile: the conductor casts our rollback
                LOG.info('Live migration %s ended while this host '
                         'prepared: %s', migration_uuid, exception.text(e))

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def finish_live_migration(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, FINISH,
                              S.MIGRATION_SWITCHED)
            if step is None:
                return
            mig, instance = step
            try:
                self.driver.finish_incoming(instance_uuid)
                if instance.networks and self.networking is not None:
                    self.networking.resync(ctxt)
                    self.networking.activate(ctxt, instance_uuid, True)
                self.conductor.live_migration_finished(
                    ctxt, migration_uuid=migration_uuid, host=self.host,
                    power_state=self.driver.get_info(
                        instance_uuid).power_state)
            except Exception as exc:
                # the guest is this host's now: a failure here is the
                # instance's (error, with the fault), as after a build
                self._failed(ctxt, instance, FINISH, exc, None)
            finally:
                self.moving.pop(instance_uuid, None)
        self._report()

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def rollback_live_migration(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, ROLLBACK,
                              S.MIGRATION_ERROR, S.MIGRATION_CANCELLED)
            if step is None:
                return
            mig, instance = step
            self._cleanup(ctxt, mig, instance, ROLLBACK,
                          self._driver_step('cleanup_incoming'))

    def _driver_step(self, name):
        """The driver's migration method ``name``, or None if it moves no
        guests (then there is nothing of a guest to remove)."""
        if self.driver.capabilities.get('supports_live_migration'):
            return getattr(self.driver, name)
        return None

    def _cleanup(self, ctxt, mig, instance, event, remove):
        """Remove what the move left on this side: the guest (``remove``,
        the driver's), then the ports' devices and rules; a failure is
        retried at the agent's next start."""
        result, tb = 'Success', None
        try:
            ports = None
            if instance.networks and self.networking is not None:
                ports = self.conductor.migration_ports(
                    ctxt, migration_uuid=mig.uuid, host=self.host)
            if remove is not None:
                remove(instance.uuid, mig.shared_storage)
            if ports:
                self.networking.unplug(ctxt, ports)
        except Exception as exc:
            LOG.warning('Could not remove what migration %s left of %s '
                        'on this host: %s (retried at the next start)',
                        mig.uuid, instance.uuid, exc)
            result, tb = 'Error', traceback.format_exc()[-65535:]
        finally:
            self.moving.pop(instance.uuid, None)
        self._quietly('record ' + event, self.conductor.migration_cleaned,
                      ctxt, migration_uuid=mig.uuid, host=self.host,
                      event=event, result=result, traceback=tb)
        self._report()

    # ------------------------------------------------------------ source
    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def live_migration(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, LIVE, S.MIGRATION_RUNNING)
            if step is None:
                return
            mig, instance = step
            self.moving[instance_uuid] = migration_uuid
            try:
                if migration_uuid in self._abort_early:
                    raise exception.MigrationAborted(
                        instance=instance_uuid, reason='aborted on request')
                failpoints.hit(LIVE + '.start')
                final = self.driver.live_migrate(
                    instance_uuid, virt_migration.MigrationTarget(
                        mig.dest_address, mig.shared_storage),
                    peer_uri(mig.dest_address), dataclasses.replace(
                        options(), block_migration=mig.block_migration and
                        not mig.shared_storage),
                    self._progress_reporter(ctxt, instance_uuid,
                                            migration_uuid))
            except Exception as exc:
                self.moving.pop(instance_uuid, None)
                self._step_failed(ctxt, mig, LIVE, exc)
                return
            finally:
                self._abort_early.discard(migration_uuid)
                self._force_early.discard(migration_uuid)
            self._switch_over(ctxt, mig, instance, final)

    def _switch_over(self, ctxt, mig, instance, final):
        """The guest runs on the destination: the conductor makes the
        instance its own; then what is left here goes."""
        failpoints.hit(LIVE + '.switch')
        self.conductor.live_migration_completed(
            ctxt, migration_uuid=mig.uuid, host=self.host,
            progress=progress_of(final))
        self._quietly('start event ' + CLEANUP,
                      self.conductor.migration_step_start, ctxt,
                      migration_uuid=mig.uuid, host=self.host, event=CLEANUP)
        self._cleanup(ctxt, mig, instance, CLEANUP,
                      self._driver_step('cleanup_migrated_source'))

    def _progress_reporter(self, ctxt, instance_uuid, migration_uuid):
        """The driver's progress callback: reports to the conductor at
        most every [migration] progress_interval, and repeats an abort
        that came before the hypervisor's job existed."""
        last = [0.0]

        def report(progress):
            if migration_uuid in self._abort_early:
                self._quietly('abort the move',
                              self.driver.abort_live_migration, instance_uuid)
            elif migration_uuid in self._force_early:
                self._force_early.discard(migration_uuid)
                self._quietly('force the move to complete',
                              self.driver.force_complete_live_migration,
                              instance_uuid)
            now = time.monotonic()
            if now - last[0] < CONF.migration.progress_interval:
                return
            last[0] = now
            self._quietly('report migration progress',
                          self.conductor.migration_progress, ctxt,
                          migration_uuid=migration_uuid, host=self.host,
                          progress=progress_of(progress))
        return report

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def live_migration_abort(self, ctxt, instance_uuid, migration_uuid):
        """Cancel the move while it runs (no instance lock: the move holds
        it); the copy ends with MigrationAborted, reported as usual."""
        self._abort_early.add(migration_uuid)   # until the copy ends
        if self.moving.get(instance_uuid) == migration_uuid:
            self.driver.abort_live_migration(instance_uuid)

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def live_migration_force_complete(self, ctxt, instance_uuid,
                                      migration_uuid):
        # applied at the copy's next progress report (also if the
        # hypervisor's job does not exist yet)
        self._force_early.add(migration_uuid)

    # ------------------------------------------------------------ common
    def _step(self, ctxt, migration_uuid, event, *statuses):
        """Begin ``event``: (migration, instance), or None (logged) if
        the move is not at a status this step belongs to."""
        try:
            found = self.conductor.migration_step_start(
                ctxt, migration_uuid=migration_uuid, host=self.host,
                event=event)
        except exception.NotFound as e:
            LOG.info('%s skipped: %s', event, exception.text(e))
            return None
        mig = found['migration']
        if mig.status not in statuses:
            LOG.info('%s of migration %s skipped: it is %s', event,
                     migration_uuid, mig.status)
            return None
        return mig, found['instance']

    def _step_failed(self, ctxt, mig, event, exc):
        aborted = isinstance(exc, exception.MigrationAborted)
        refused = isinstance(exc, (exception.MigrationFailed,
                                   exception.OperationNotSupported))
        LOG.error('%s of %s (migration %s) failed: %s', event,
                  mig.instance_uuid, mig.uuid, exc,
                  exc_info=not (aborted or refused))
        self._quietly('report the failed ' + event,
                      self.conductor.live_migration_failed, ctxt,
                      migration_uuid=mig.uuid, host=self.host, event=event,
                      reason=exception.fault_message(exc), cancelled=aborted,
                      traceback=traceback.format_exc()[-65535:])

    # ----------------------------------------------------------- restart
    def resume_migrations(self, ctxt):
        """On start: carry on with the moves this host takes part in."""
        found = self.conductor.migrations_by_host(ctxt, host=self.host)
        for mig in found:
            if mig.status in S.MIGRATION_ACTIVE:
                self.moving[mig.instance_uuid] = mig.uuid
        for mig in found:
            self._resume_logged(self._resume_one, ctxt, mig)

    @staticmethod
    def _resume_logged(resume, ctxt, mig):
        try:
            resume(ctxt, mig)
        except Exception:
            LOG.exception('Could not resume live migration %s of %s',
                          mig.uuid, mig.instance_uuid)

    def _resume_one(self, ctxt, mig):
        uuid, mine = mig.instance_uuid, self.host
        ids = {'instance_uuid': uuid, 'migration_uuid': mig.uuid}
        if mig.migration_type in S.RESIZE_TYPES:
            self.resume_resize(ctxt, mig)
            return
        if mig.migration_type == 'evacuation':
            if mig.source_compute == mine:
                self._destroy_evacuated(ctxt, mig)
            elif mig.status == S.MIGRATION_SWITCHED:
                # the rebuild was settled by init_host as a build is
                self._quietly('record the end of evacuation ' + mig.uuid,
                              self.conductor.evacuation_done, ctxt,
                              migration_uuid=mig.uuid, host=mine,
                              result='Success' if uuid in
                              self.driver.list_guests() else 'Error')
            return
        if mig.status in (S.MIGRATION_ERROR, S.MIGRATION_CANCELLED):
            if mig.dest_compute != mine:
                return
            self.rollback_live_migration(ctxt, **ids)
        elif mig.status == S.MIGRATION_SWITCHED and mig.dest_compute == mine:
            self.finish_live_migration(ctxt, **ids)
        elif mig.status in (S.MIGRATION_SWITCHED, S.MIGRATION_COMPLETED):
            self._resume_cleanup(ctxt, mig)
        elif mig.status == S.MIGRATION_PREPARING and mig.dest_compute == mine:
            self.prepare_live_migration(ctxt, **ids)
        elif mig.status == S.MIGRATION_RUNNING and mig.source_compute == mine:
            threading.Thread(target=self._resume_logged,
                             args=(self._resume_copy, ctxt, mig),
                             name='resume-' + mig.uuid[:8],
                             daemon=True).start()

    def _resume_cleanup(self, ctxt, mig):
        with self._locks.hold(mig.instance_uuid):
            step = self._step(ctxt, mig.uuid, CLEANUP, S.MIGRATION_SWITCHED,
                              S.MIGRATION_COMPLETED)
            if step is not None:
                self._cleanup(ctxt, step[0], step[1], CLEANUP,
                              self._driver_step('cleanup_migrated_source'))

    def _resume_copy(self, ctxt, mig):
        """The source (re)started while the move was running: wait for a
        copy its hypervisor still runs to end, then tell by where the
        guest is. A guest still here with no copy running was never
        copied (the cast still waits in our queue) or its copy died with
        the agent: the copy is started (again); the queued cast, if any,
        then finds the move past that step and is dropped."""
        uuid = mig.instance_uuid
        with self._locks.hold(uuid):
            step = self._step(ctxt, mig.uuid, LIVE, S.MIGRATION_RUNNING)
            if step is None:
                return
            mig, instance = step
            report = self._progress_reporter(ctxt, uuid, mig.uuid)
            last = virt_migration.MigrationProgress()
            while True:
                job = self.driver.live_migration_job(uuid)
                if job is None:
                    break
                last = job
                report(job)
                time.sleep(RESUME_POLL)
            here = uuid in self.driver.list_guests()
            if not here:
                LOG.info('Live migration %s of %s completed while this '
                         'agent was down', mig.uuid, uuid)
                self._switch_over(ctxt, mig, instance, last)
                return
        LOG.info('Live migration %s of %s: (re)starting the copy after '
                 'this agent started', mig.uuid, uuid)
        self.live_migration(ctxt, instance_uuid=uuid,
                            migration_uuid=mig.uuid)
