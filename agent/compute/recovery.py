"""Start-up recovery of the compute manager: what a killed agent left.

On start (``init_host``) every instance of this host is compared with the
hypervisor, and whatever an interrupted operation left half done is
settled, so no orphan domain, disk, port or DB row stays behind:

  * a build: its guest running -> the build is finished (active); anything
    less (nothing yet, or a domain defined but never started) -> what was
    made is removed and the instance ends in error with a fault;
  * a delete: finished;
  * a live migration, resize or cold migration: resumed
    (migrations.resume_migrations, resize.resume_resize);
  * a reboot, stop, start, pause, unpause, suspend, resume, attach,
    detach, volume extend, rebuild in place, rescue, unrescue, snapshot,
    interface attach or detach: retried as an operation of its own (recorded as an
    action), from the task_state and the volumes' status; attach and
    detach are idempotent in the drivers, a suspend whose save finished (libvirtd
    goes on without the agent) finds the guest saved and only records it;
  * no task: the power state is synced; with
    ``resume_guests_state_on_host_boot`` an active instance whose guest is
    shut off (the host rebooted) has its networks wired and is powered on;
  * a guest of an instance deleted on this host is handled per
    ``running_deleted_instance_action`` (reap, shutdown, log); a guest the
    database never recorded is reported and left alone.

Retries run after the scan, outside the per-instance lock, because they go
through the manager's operation machinery, which takes that lock itself.
"""
import contextlib
import logging

from oslo_config import cfg

from agent import context as context_mod
from agent import exception
from agent.compute import host_sync
from agent.objects import states as S

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
BUILD_INTERRUPTED = 'Build interrupted by agent restart'

# task_state -> the manager's operation method that is retried
RETRIED = {
    S.REBOOTING: 'reboot_instance', S.REBOOTING_HARD: 'reboot_instance',
    S.POWERING_OFF: 'stop_instance', S.POWERING_ON: 'start_instance',
    S.PAUSING: 'pause_instance', S.UNPAUSING: 'unpause_instance',
    S.SUSPENDING: 'suspend_instance', S.RESUMING: 'resume_instance',
    S.ATTACHING_VOLUME: 'attach_volume', S.DETACHING_VOLUME: 'detach_volume',
    S.EXTENDING_VOLUME: 'extend_volume',
    S.REBUILD_SPAWNING: 'rebuild_in_place',
    S.RESCUING: 'rescue_instance', S.UNRESCUING: 'unrescue_instance',
    S.IMAGE_SNAPSHOT: 'snapshot_instance',
    S.ATTACHING_INTERFACE: 'attach_interface',
    S.DETACHING_INTERFACE: 'detach_interface',
    S.ISOLATING: 'isolate_instance', S.RELEASING: 'release_instance',
}
# the volume status a retried attach/detach looks for
VOLUME_STATUS = {S.ATTACHING_VOLUME: 'attaching',
                 S.DETACHING_VOLUME: 'detaching',
                 S.EXTENDING_VOLUME: 'extending'}


def own_context(instance):
    """A new request, in the instance owner's name, for agent-made actions."""
    return context_mod.RequestContext(user_id=instance.user_id,
                                      project_id=instance.project_id)


class RecoveryMixin:
    """Mixed into ComputeManager (uses its driver, conductor, host, locks,
    operation methods and ``_run``)."""

    def init_host(self, ctxt):
        """Connect the driver and repair what a restart interrupted."""
        self.driver.init_host(self.host)
        instances = self.conductor.instances_get_by_host(ctxt,
                                                         host=self.host)
        retries = []
        for instance in instances:
            with self._locks.hold(instance.uuid):
                try:
                    retry = self._recover(ctxt, instance)
                except Exception:
                    LOG.exception('Could not recover instance %s',
                                  instance.uuid)
                    continue
            if retry is not None:
                retries.append((instance.uuid, retry))
        for uuid, retry in retries:
            try:
                retry()
            except Exception:
                LOG.exception('Retrying the interrupted task of %s failed',
                              uuid)
        self.resume_migrations(ctxt)
        self.handle_unknown_guests(ctxt, {i.uuid for i in instances})
        self._report()

    def _recover(self, ctxt, instance):
        """Settle one instance; return a retry to run after the scan."""
        uuid, task = instance.uuid, instance.task_state
        if task == S.DELETING:
            LOG.info('Finishing the interrupted delete of %s', uuid)
            self._terminate(ctxt, instance)
            return None
        if task in (S.SCHEDULING, S.MIGRATING) + S.RESIZE_TASKS:
            # its build message is waiting in our queue; a move is
            # resumed by resume_migrations
            return None
        power = self._guest_power(uuid)
        if task is None:
            if self._should_resume(instance, power):
                return lambda: self._resume(instance)
            self._sync_power_state(ctxt, instance, power)
            return None
        if task in (S.SPAWNING, S.REBUILDING):   # an evacuee's build too
            self._recover_build(ctxt, instance, power)
            return None
        retry = self._retry_of(instance)
        if retry is not None:
            LOG.info('Retrying the interrupted %s of %s', task, uuid)
            return retry
        LOG.info('Clearing task_state %s of %s', task, uuid)
        self.conductor.instance_update(
            ctxt, instance_uuid=uuid,
            updates={'task_state': None, 'power_state': power},
            expected_task_state=[task])
        return None

    def _recover_build(self, ctxt, instance, power):
        uuid = instance.uuid
        if power == S.RUNNING:
            LOG.info('Guest of %s runs: finishing its build', uuid)
            updates = {'vm_state': S.ACTIVE, 'power_state': power,
                       'launched_at': host_sync.utcnow_iso()}
            if instance.networks and self.networking is not None:
                self.networking.activate(ctxt, uuid, True)
        else:
            LOG.warning('%s: %s; removing what it made', uuid,
                        BUILD_INTERRUPTED)
            self._destroy_guest(ctxt, instance)
            self.conductor.instance_fault_create(
                ctxt, instance_uuid=uuid, message=BUILD_INTERRUPTED,
                details='', host=self.host)
            updates = {'vm_state': S.ERROR, 'power_state': S.NOSTATE}
        updates['task_state'] = None
        self.conductor.instance_update(ctxt, instance_uuid=uuid,
                                       updates=updates,
                                       expected_task_state=[instance.task_state])

    def _retry_of(self, instance):
        """The operation to run again for the instance's task, or None."""
        method = RETRIED.get(instance.task_state)
        if method is None:
            return None
        ctxt, kwargs = own_context(instance), {}
        if method == 'reboot_instance':
            kwargs['reboot_type'] = 'HARD'   # a soft one may have hung
        if instance.task_state in VOLUME_STATUS:
            want = VOLUME_STATUS[instance.task_state]
            volumes = [b.volume_id for b in instance.block_devices
                       if b.status == want]
            if not volumes:
                return None     # it got as far as the volume's status
            kwargs['volume_id'] = volumes[0]
        op = getattr(self, method)
        return lambda: op(ctxt, instance_uuid=instance.uuid, **kwargs)

    # --------------------------------------------------- host boot resume
    def _should_resume(self, instance, power):
        return (CONF.compute.resume_guests_state_on_host_boot and
                instance.vm_state == S.ACTIVE and
                instance.power_state == S.RUNNING and
                power in (S.SHUTDOWN, S.CRASHED))

    def _resume(self, instance):
        """Wire the instance's networks, then power its guest on."""
        def body(ctxt, instance):
            self._plug(ctxt, instance)
            self.driver.power_on(instance.uuid)
            return {'vm_state': S.ACTIVE, 'power_state':
                    self.driver.get_info(instance.uuid).power_state}
        LOG.info('Resuming the guest of %s (host boot)', instance.uuid)
        self._run(own_context(instance), instance.uuid, 'resume_guest',
                  [None], body)

    # ------------------------------------------------------ unknown guests
    def handle_unknown_guests(self, ctxt, known=None):
        """Guests of no live instance of this host. Those of an instance
        deleted on this host are reaped, shut down or logged per
        ``running_deleted_instance_action``; those the database never
        recorded are reported once and never touched (they may be an
        operator's own, or another agent's on a shared hypervisor)."""
        if known is None:
            known = {i.uuid for i in self.conductor.instances_get_by_host(
                ctxt, host=self.host)}
        action = CONF.compute.running_deleted_instance_action
        # a guest moving here is not this host's yet (see migrations)
        for uuid in set(self.driver.list_guests()) - set(known) - \
                set(self.moving):
            try:
                instance = self.conductor.instance_get(ctxt,
                                                       instance_uuid=uuid)
            except exception.InstanceNotFound:
                if uuid not in self.reported_unknown:
                    self.reported_unknown.add(uuid)
                    LOG.warning('Guest %s is not an instance hvagent knows: '
                                'left alone', uuid)
                continue
            if instance.vm_state != S.DELETED or instance.host != self.host:
                continue    # built since the list, or another host's
            LOG.warning('Guest %s of deleted instance %s still exists: %s',
                        uuid, instance.name, action)
            with self._locks.hold(uuid), \
                    contextlib.suppress(exception.GuestNotFound):
                if action == 'reap':
                    self.driver.destroy(uuid)
                elif action == 'shutdown':
                    self.driver.power_off(
                        uuid, timeout=CONF.compute.graceful_shutdown_timeout)
