"""The compute manager's part in a resize or cold migration: one side's
steps (agent.conductor.resize_steps has the whole flow).

  source       resize_instance: the guest stopped and its disk offered
               (the driver's migrate_disk_and_power_off), then
               ``resize_migrated`` with where the destination reads
               it; a failure withdraws the offer, starts the guest
               again if it ran and reports it: the guest stays here;
               confirm_resize: the guest, its files and its ports removed;
               finish_revert_resize: the guest kept here gets its old
               flavor back and runs again if it ran before.
  destination  finish_resize: the ports wired, the guest made from the
               disk read from the source with the new flavor and
               started if it ran before, then ``resize_finished``; a
               failure removes what was made
               and reports it (the conductor reverts to the source);
               revert_resize: the guest and its ports removed, then the
               conductor has the source start it.

An agent that restarts mid-step carries on (``resume_resize``): every
step is idempotent, and the conductor's status tells which one is due.
"""
import logging
import traceback

from oslo_config import cfg

from agent import exception
from agent.compute import migrations
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from virt import failpoints

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

UUID = f.UUID()
RESIZE_INSTANCE, FINISH_RESIZE = ('compute_resize_instance',
                                  'compute_finish_resize')
CONFIRM_RESIZE, REVERT_RESIZE = ('compute_confirm_resize',
                                 'compute_revert_resize')
FINISH_REVERT = 'compute_finish_revert_resize'


def _runs(mig):
    """Whether the guest ran before the move (and runs again after)."""
    return mig.old_vm_state != S.STOPPED


class ResizeMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks,
    _step, _cleanup, _plug, _guest_spec, _check_capability, _quietly and
    _report)."""

    # ------------------------------------------------------------ source
    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def resize_instance(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, RESIZE_INSTANCE,
                              S.MIGRATION_RUNNING)
            if step is None:
                return
            mig, instance = step
            try:
                self._check_capability('supports_cold_migration',
                                       RESIZE_INSTANCE)
                failpoints.hit(RESIZE_INSTANCE + '.start')
                address = self.driver.migrate_disk_and_power_off(
                    instance_uuid, mig.dest_compute,
                    timeout=CONF.compute.graceful_shutdown_timeout)
            except Exception as exc:
                self._restart_source(instance, mig)
                self._resize_failed(ctxt, mig, RESIZE_INSTANCE, exc)
                return
            self.conductor.resize_migrated(
                ctxt, migration_uuid=migration_uuid, host=self.host,
                address=address)

    def _restart_source(self, instance, mig):
        """A failed resize leaves the guest here as it was (the disk no
        longer offered)."""
        if instance.uuid not in self.driver.list_guests():
            return
        self._quietly('withdraw the offer of the disk',
                      self.driver.withdraw_disk, instance.uuid)
        if _runs(mig) and \
                self.driver.get_info(instance.uuid).power_state != S.RUNNING:
            self._quietly('start the guest again', self.driver.power_on,
                          instance.uuid)

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def confirm_resize(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, CONFIRM_RESIZE,
                              S.MIGRATION_CONFIRMED)
            if step is not None:
                self._cleanup(ctxt, step[0], step[1], CONFIRM_RESIZE,
                              self._destroy_kept)

    def _destroy_kept(self, uuid, _shared_storage):
        self.driver.destroy(uuid)

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def finish_revert_resize(self, ctxt, instance_uuid, migration_uuid):
        self._make_guest(ctxt, instance_uuid, migration_uuid, FINISH_REVERT,
                         self._finish_revert, self.conductor.resize_reverted)

    def _finish_revert(self, spec, power_on, _mig):
        self.driver.finish_revert_migration(spec, power_on)

    # ------------------------------------------------------- destination
    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def finish_resize(self, ctxt, instance_uuid, migration_uuid):
        self._make_guest(ctxt, instance_uuid, migration_uuid, FINISH_RESIZE,
                         self._finish_migration,
                         self.conductor.resize_finished)

    def _finish_migration(self, spec, power_on, mig):
        """The disk is read from the source's hypervisor at the address
        it reported, by this host's own URI template."""
        source_uri = mig.source_address and \
            migrations.peer_uri(mig.source_address)
        self.driver.finish_migration(spec, power_on, source_uri=source_uri)

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def revert_resize(self, ctxt, instance_uuid, migration_uuid):
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, REVERT_RESIZE,
                              S.MIGRATION_REVERTING)
            if step is not None:
                self._cleanup(ctxt, step[0], step[1], REVERT_RESIZE,
                              self._destroy_kept)

    # ------------------------------------------------------------ common
    def _make_guest(self, ctxt, instance_uuid, migration_uuid, event, make,
                    report):
        """The guest of the instance (as the conductor has it now: this
        host's, its flavor the one it gets) made here by ``make`` and
        started if it ran before; ``report`` tells the conductor. A
        failure at the destination removes what was made."""
        status = S.MIGRATION_SWITCHED if event == FINISH_RESIZE \
            else S.MIGRATION_REVERTING
        with self._locks.hold(instance_uuid):
            step = self._step(ctxt, migration_uuid, event, status)
            if step is None:
                return
            mig, instance = step
            try:
                failpoints.hit(event + '.start')
                nics = self._plug(ctxt, instance)
                make(self._guest_spec(ctxt, instance, nics), _runs(mig), mig)
                if nics:
                    self.networking.activate(ctxt, instance_uuid, nics)
                power = self.driver.get_info(instance_uuid).power_state
            except Exception as exc:
                if event == FINISH_RESIZE:
                    self._quietly('remove the resized guest',
                                  self._destroy_guest, ctxt, instance)
                self._resize_failed(ctxt, mig, event, exc)
                return
            report(ctxt, migration_uuid=migration_uuid, host=self.host,
                   power_state=power)
        self._report()

    def _resize_failed(self, ctxt, mig, event, exc):
        refused = isinstance(exc, (exception.MigrationFailed,
                                   exception.OperationNotSupported))
        LOG.error('%s of %s (migration %s) failed: %s', event,
                  mig.instance_uuid, mig.uuid, exc, exc_info=not refused)
        self._quietly('report the failed ' + event,
                      self.conductor.resize_failed, ctxt,
                      migration_uuid=mig.uuid, host=self.host, event=event,
                      reason=exception.fault_message(exc),
                      traceback=traceback.format_exc()[-65535:])
        self._report()

    # ----------------------------------------------------------- restart
    def resume_resize(self, ctxt, mig):
        """Carry on with the step of ``mig`` that is this host's, if any
        (called by resume_migrations on start)."""
        mine, status = self.host, mig.status
        ids = {'instance_uuid': mig.instance_uuid, 'migration_uuid': mig.uuid}
        source, dest = mig.source_compute == mine, mig.dest_compute == mine
        if status == S.MIGRATION_RUNNING and source:
            self.resize_instance(ctxt, **ids)
        elif status == S.MIGRATION_SWITCHED and dest:
            self.finish_resize(ctxt, **ids)
        elif status == S.MIGRATION_CONFIRMED and source:
            self.confirm_resize(ctxt, **ids)
        elif status == S.MIGRATION_REVERTING and dest and \
                mig.cleanup_host == mine:
            self.revert_resize(ctxt, **ids)
        elif status == S.MIGRATION_REVERTING and source and \
                mig.cleanup_host is None:
            self.finish_revert_resize(ctxt, **ids)
