"""The compute manager's rescue and unrescue (nova's): the instance boots
from its rescue image (recorded by the conductor with the ``rescue``
action; its own image by default) with its own root disk as the second
disk (vdb), to repair a guest that no longer boots; unrescue boots it
from its own disk again, its volumes attached again.

Its ports stay plugged throughout; a restarted agent runs either again
(recovery: tasks ``rescuing``, ``unrescuing``).
"""
import dataclasses

from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks

UUID = f.UUID()


class RescueMixin:
    """Mixed into ComputeManager (uses its driver, networking, _run,
    _plug, _guest_spec and RebuildMixin's _attach_volumes_again)."""

    @checks.expects(instance_uuid=UUID)
    def rescue_instance(self, ctxt, instance_uuid):
        def rescue(ctxt, instance):
            nics, spec = self._spec_here(ctxt, instance)
            self.driver.rescue(spec, dataclasses.replace(
                spec, image_ref=instance.rescue_image_ref,
                kernel_ref=instance.rescue_kernel_ref,
                ramdisk_ref=instance.rescue_ramdisk_ref))
            return self._running(ctxt, instance, nics, S.RESCUED)
        self._run(ctxt, instance_uuid, 'rescue_instance',
                  user_actions.task_states_of('rescue_instance'), rescue,
                  capability='supports_rescue')

    @checks.expects(instance_uuid=UUID)
    def unrescue_instance(self, ctxt, instance_uuid):
        def unrescue(ctxt, instance):
            nics, spec = self._spec_here(ctxt, instance)
            self.driver.unrescue(spec)
            self._attach_volumes_again(instance)
            return self._running(ctxt, instance, nics, S.ACTIVE)
        self._run(ctxt, instance_uuid, 'unrescue_instance',
                  user_actions.task_states_of('unrescue_instance'), unrescue,
                  capability='supports_rescue')

    def _spec_here(self, ctxt, instance):
        nics = self._plug(ctxt, instance)
        return nics, self._guest_spec(ctxt, instance, nics)

    def _running(self, ctxt, instance, nics, vm_state):
        if nics:
            self.networking.activate(ctxt, instance.uuid, nics)
        return {'vm_state': vm_state, 'power_state': self.driver.get_info(
            instance.uuid).power_state}
