"""The compute manager's rebuild in place (nova's rebuild): the same
instance - id, host, ports and addresses, volumes - with a fresh root
disk from its image (the conductor recorded the new image refs with the
``rebuild`` action).

The guest and its files go (its ports stay plugged), the guest is built
again as a boot builds it (a new config drive, a new boot on its
console), its attached volumes are attached again at the same devices,
and it is left stopped if it was. Run again from the start by a
restarted agent (recovery: task ``rebuild_spawning``): each step is
idempotent. A failure leaves the instance in error with its fault (its
old disk is gone by then, as with nova).
"""
import logging

from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks

LOG = logging.getLogger(__name__)
UUID = f.UUID()


class RebuildMixin:
    """Mixed into ComputeManager (uses its driver, _run and _build)."""

    @checks.expects(instance_uuid=UUID)
    def rebuild_in_place(self, ctxt, instance_uuid):
        def rebuild(ctxt, instance):
            stopped = instance.vm_state == S.STOPPED
            self.driver.destroy(instance.uuid)
            updates = self._build(ctxt, instance)
            self._attach_volumes_again(instance)
            if stopped:
                self.driver.power_off(instance.uuid)
                updates.update(vm_state=S.STOPPED, power_state=self.driver.
                               get_info(instance.uuid).power_state)
            LOG.info('Instance %s rebuilt from %s', instance.uuid,
                     instance.image_ref)
            return updates
        self._run(ctxt, instance_uuid, 'rebuild_in_place',
                  user_actions.task_states_of('rebuild_in_place'), rebuild,
                  report=True)

    def _attach_volumes_again(self, instance):
        """The instance's attached volumes at their devices again, in a
        guest made anew (a rebuild, an unrescue)."""
        for bdm in instance.block_devices:
            if bdm.status == 'attached':
                self.driver.attach_volume(
                    instance.uuid, bdm.volume_id, dict(bdm.connection_info),
                    bdm.device_name)
