"""Power-state sync of the compute manager.

The hypervisor is the truth for power_state: on start (see recovery), on
libvirt lifecycle events and periodically (sync_power_states) the agent
reads every guest of its host and repairs what an outside change (virsh,
a guest shutting itself down, a crash) left behind.
"""
import datetime
import logging

from oslo_config import cfg

from agent import context as context_mod
from agent import exception
from agent.objects import states as S

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
SUPERSEDED = (exception.UnexpectedTaskState, exception.InstanceNotFound)


def utcnow_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None).isoformat()


class HostSyncMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks)."""

    def sync_power_states(self, ctxt):
        """Periodic task: take power_state from the hypervisor.

        Instances with a task in progress (or whose lock is busy) are left
        for the next round.
        """
        instances = self.conductor.instances_get_by_host(ctxt,
                                                         host=self.host)
        for instance in instances:
            self._sync_one(ctxt, instance)
        self.handle_unknown_guests(ctxt, {i.uuid for i in instances})

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
        acted = stop
        if instance.vm_state == S.STOPPED and power == S.RUNNING:
            fixed = self._started_outside(instance)
            updates.update(fixed)
            acted = bool(fixed)
        if not updates:
            return
        self.conductor.instance_update(ctxt, instance_uuid=instance.uuid,
                                       updates=updates,
                                       expected_task_state=[None])
        if stop:
            LOG.warning('Guest of %s is %s outside hvagent: instance %s -> '
                        'stopped', instance.uuid, power, instance.vm_state)
        if acted:
            own = context_mod.RequestContext(user_id=ctxt.user_id,
                                             project_id=ctxt.project_id)
            event = 'compute_sync_power_state'
            self.conductor.action_event_start(
                own, instance_uuid=instance.uuid, request_id=own.request_id,
                event=event, host=self.host)
            self.conductor.action_event_finish(
                own, instance_uuid=instance.uuid, request_id=own.request_id,
                event=event, result='Success', traceback=None)

    def _started_outside(self, instance):
        """A stopped instance's guest runs (started outside hvagent): the
        updates per ``stopped_instance_running_action``."""
        action = CONF.compute.stopped_instance_running_action
        LOG.warning('Instance %s is stopped but its guest runs: %s',
                    instance.uuid, action)
        if action == 'adopt':
            return {'vm_state': S.ACTIVE}
        if action == 'stop':
            self.driver.power_off(
                instance.uuid, timeout=CONF.compute.graceful_shutdown_timeout)
            return {'power_state': self._guest_power(instance.uuid)}
        return {}
