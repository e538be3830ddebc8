"""Start-up recovery and power-state sync of the compute manager.

The hypervisor is the truth for power_state: on start (init_host) and
periodically (sync_power_states) the agent reads every guest of its host
and repairs what a restart or an outside change left behind.
"""
import datetime
import logging

from agent import context as context_mod
from agent import exception
from agent.objects import states as S

LOG = logging.getLogger(__name__)
BUILD_INTERRUPTED = 'Build interrupted by agent restart'
SUPERSEDED = (exception.UnexpectedTaskState, exception.InstanceNotFound)


def utcnow_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None).isoformat()


class HostSyncMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks)."""

    def init_host(self, ctxt):
        """Connect the driver and repair what a restart interrupted.

        Builds found in spawning without a guest fail; builds whose guest
        exists are finished; interrupted deletes are completed; other
        task_states are cleared. An instance still in scheduling is left
        alone: its build message is waiting in our queue.
        """
        self.driver.init_host(self.host)
        for instance in self.conductor.instances_get_by_host(ctxt,
                                                             host=self.host):
            with self._locks.hold(instance.uuid):
                try:
                    self._recover(ctxt, instance)
                except Exception:
                    LOG.exception('Could not recover instance %s',
                                  instance.uuid)
        self._report()

    def _recover(self, ctxt, instance):
        uuid, task = instance.uuid, instance.task_state
        if task == S.DELETING:
            LOG.info('Finishing the interrupted delete of %s', uuid)
            self._terminate(ctxt, instance)
            return
        if task == S.SCHEDULING:
            return
        power = self._guest_power(uuid)
        if task is None:
            self._sync_power_state(ctxt, instance, power)
            return
        updates = {'task_state': None, 'power_state': power}
        if task == S.SPAWNING and power == S.NOSTATE:
            LOG.warning('%s: %s', uuid, BUILD_INTERRUPTED)
            self.conductor.instance_fault_create(
                ctxt, instance_uuid=uuid, message=BUILD_INTERRUPTED,
                details='', host=self.host)
            updates['vm_state'] = S.ERROR
        elif task == S.SPAWNING:
            LOG.info('Guest of %s exists: finishing its build', uuid)
            updates.update(vm_state=S.ACTIVE, launched_at=utcnow_iso())
        else:
            LOG.info('Clearing task_state %s of %s', task, uuid)
        self.conductor.instance_update(ctxt, instance_uuid=uuid,
                                       updates=updates,
                                       expected_task_state=[task])

    def sync_power_states(self, ctxt):
        """Periodic task: take power_state from the hypervisor.

        Instances with a task in progress (or whose lock is busy) are left
        for the next round.
        """
        for instance in self.conductor.instances_get_by_host(ctxt,
                                                             host=self.host):
            self._sync_one(ctxt, instance)

    def handle_lifecycle_event(self, ctxt, uuid):
        """A guest changed power state by itself (libvirt event): sync it
        now, reading the state anew, so a late or stale event is harmless.
        Events caused by our own operations find the instance locked or
        with a task_state, and are left to that operation."""
        try:
            instance = self.conductor.instance_get(ctxt, instance_uuid=uuid)
        except exception.InstanceNotFound:
            return
        if instance.host == self.host:
            self._sync_one(ctxt, instance)

    def _sync_one(self, ctxt, instance):
        if instance.task_state is not None or \
                instance.vm_state in (S.BUILDING, S.DELETED):
            return
        with self._locks.hold(instance.uuid, blocking=False) as held:
            if not held:
                return
            try:
                self._sync_power_state(ctxt, instance,
                                       self._guest_power(instance.uuid))
            except SUPERSEDED as e:
                LOG.debug('Power sync of %s skipped: %s', instance.uuid, e)
            except Exception:
                LOG.exception('Power sync of %s failed', instance.uuid)

    def _guest_power(self, uuid):
        try:
            return self.driver.get_info(uuid).power_state
        except exception.GuestNotFound:
            return S.NOSTATE

    def _sync_power_state(self, ctxt, instance, power):
        """Nova's policy: a guest that went down while its instance should
        run makes the instance stopped; the change is recorded as an action.
        """
        updates = {}
        if power != instance.power_state:
            updates['power_state'] = power
        stop = (instance.vm_state in (S.ACTIVE, S.PAUSED) and
                power in (S.SHUTDOWN, S.CRASHED))
        if stop:
            updates['vm_state'] = S.STOPPED
        elif instance.vm_state == S.STOPPED and power == S.RUNNING:
            LOG.warning('Instance %s is stopped but its guest runs',
                        instance.uuid)
        if not updates:
            return
        self.conductor.instance_update(ctxt, instance_uuid=instance.uuid,
                                       updates=updates,
                                       expected_task_state=[None])
        if stop:
            LOG.warning('Guest of %s is %s outside hvagent: instance %s -> '
                        'stopped', instance.uuid, power, instance.vm_state)
            own = context_mod.RequestContext(user_id=ctxt.user_id,
                                             project_id=ctxt.project_id)
            event = 'compute_sync_power_state'
            self.conductor.action_event_start(
                own, instance_uuid=instance.uuid, request_id=own.request_id,
                event=event, host=self.host)
            self.conductor.action_event_finish(
                own, instance_uuid=instance.uuid, request_id=own.request_id,
                event=event, result='Success', traceback=None)
