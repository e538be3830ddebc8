"""The compute manager's part in an evacuation (agent.conductor.evacuations
has the whole flow).

  new host   rebuild_instance: the instance is this host's already (the
             conductor switched it over when it claimed this host); its
             guest is built again from its image, as a boot builds it, and
             left stopped if it was; then ``evacuation_done``.
  dead host  when its agent comes back (resume_migrations): the guest of an
             instance evacuated from here is destroyed with its files and
             ports, never started again.
"""
import logging

from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks

LOG = logging.getLogger(__name__)

UUID = f.UUID()
REBUILD = 'compute_rebuild_instance'
CLEANUP_EVACUATED = 'compute_cleanup_evacuated_instance'


class EvacuationMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks,
    _run, _build, _cleanup and _step)."""

    @checks.expects(instance_uuid=UUID, migration_uuid=UUID)
    def rebuild_instance(self, ctxt, instance_uuid, migration_uuid):
        def rebuild(ctxt, instance):
            updates = self._build(ctxt, instance)
            if instance.vm_state == S.STOPPED:
                self.driver.power_off(instance.uuid)
                updates.update(vm_state=S.STOPPED, power_state=self.driver.
                               get_info(instance.uuid).power_state)
            return updates
        ok = self._run(ctxt, instance_uuid, 'rebuild_instance',
                       (S.REBUILDING,), rebuild, rollback=self._destroy_guest,
                       report=True)
        if ok is None:
            return          # superseded: not ours (any more)
        self._quietly('record the end of evacuation %s' % migration_uuid,
                      self.conductor.evacuation_done, ctxt,
                      migration_uuid=migration_uuid, host=self.host,
                      result='Success' if ok else 'Error')

    def _destroy_evacuated(self, ctxt, mig):
        """This host is back: its guest of an instance evacuated from here
        goes (the instance lives on elsewhere)."""
        with self._locks.hold(mig.instance_uuid):
            step = self._step(ctxt, mig.uuid, CLEANUP_EVACUATED,
                              S.MIGRATION_SWITCHED, S.MIGRATION_COMPLETED,
                              S.MIGRATION_ERROR)
            if step is None:
                return
            LOG.warning('Instance %s was evacuated from this host to %s: '
                        'destroying its guest here', mig.instance_uuid,
                        mig.dest_compute)
            self._cleanup(ctxt, step[0], step[1], CLEANUP_EVACUATED,
                          lambda uuid, _shared: self.driver.destroy(uuid))
