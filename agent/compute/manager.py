"""The compute agent's RPC endpoint: topic ``compute``, server ``<host>``.

The conductor sets an instance's task_state and creates the instance action
before it casts here. For each operation the manager takes the instance's
lock, fetches the instance, checks that its task_state is the one the
operation expects (otherwise the message is stale or redelivered: it is
logged and dropped), records the ``compute_<method>`` action event, calls the
driver and writes the final states with an expected_task_state guard.

Failures end in one of three ways:
  * superseded (UnexpectedTaskState, InstanceNotFound): someone else owns
    the instance now; the event finishes with Error, nothing else changes;
  * refused (the driver cannot do it, the volume is unknown or unusable):
    a fault, the task_state cleared, vm_state unchanged;
  * anything else: a fault, vm_state=error, task_state cleared.
A failed build or attach first undoes what the driver made.
"""
import contextlib
import functools
import logging
import threading
import traceback

import oslo_messaging as messaging
from oslo_config import cfg

from agent import exception
from agent import image_refs
from agent import locks
from agent.compute import evacuation
from agent.compute import host_sync
from agent.compute import interfaces
from agent.compute import migrations
from agent.compute import rebuild
from agent.compute import recovery
from agent.compute import rescue
from agent.compute import resize
from agent.compute import snapshot
from agent.metrics import compute as compute_metrics
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from virt import driver as virt_driver
from virt import failpoints

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

UUID = f.UUID()
SUPERSEDED = host_sync.SUPERSEDED
REFUSED = (exception.OperationNotSupported, exception.VolumeNotFound,
           exception.VolumeUnusable, exception.VolumeExtendFailed,
           exception.SuspendFailed, exception.SnapshotFailed)
#: operation_start (operation_finish) calls in all when they time out
#: (see _start, _finish)
START_ATTEMPTS = 3

fault_message = exception.fault_message


class _RecordedBefore(exception.UnexpectedTaskState):
    """A resent call found the state moved on, by the attempt that timed
    out (a start is then skipped like any superseded one; an end counts
    as recorded)."""


class ComputeManager(recovery.RecoveryMixin, host_sync.HostSyncMixin,
                     migrations.LiveMigrationMixin,
                     evacuation.EvacuationMixin, resize.ResizeMixin,
                     rebuild.RebuildMixin, rescue.RescueMixin,
                     snapshot.SnapshotMixin, interfaces.InterfaceMixin):
    """Runs the instance operations the conductor casts to this host."""

    target = messaging.Target(version='1.7')  # see compute_rpcapi.ComputeAPI

    def __init__(self, driver, conductor, host, report_callback=None,
                 networking=None):
        self.driver = driver
        self.conductor = conductor
        self.host = host
        #: vifs.HostNetworking, for instances with ports (None: no net/)
        self.networking = networking
        self.report_callback = report_callback
        self._locks = locks.LockTable()
        #: guests the DB never recorded, reported once (see recovery)
        self.reported_unknown = set()
        self._build_slots = threading.BoundedSemaphore(
            CONF.compute.max_concurrent_builds)
        #: operation durations and builds in flight, for /metrics
        self.metrics = compute_metrics.OperationMetrics()
        self._init_moves()

    # ------------------------------------------------------------ endpoints
    @checks.expects(instance_uuid=UUID)
    def build_and_run_instance(self, ctxt, instance_uuid):
        with self._build_slots, self.metrics.build():
            self._run(ctxt, instance_uuid, 'build_and_run_instance',
                      (S.SCHEDULING, S.SPAWNING), self._build,
                      rollback=self._destroy_guest, report=True,
                      start_updates={'vm_state': S.BUILDING,
                                     'task_state': S.SPAWNING})

    @checks.expects(instance_uuid=UUID, reboot_type=f.Enum(['SOFT', 'HARD']))
    def reboot_instance(self, ctxt, instance_uuid, reboot_type):
        def reboot(ctxt, instance):
            self.driver.reboot(instance.uuid, reboot_type)
            return {'vm_state': S.ACTIVE,
                    'power_state': self.driver.get_info(
                        instance.uuid).power_state}
        self._run(ctxt, instance_uuid, 'reboot_instance',
                  user_actions.task_states_of('reboot_instance'), reboot,
                  capability='supports_reboot')

    @checks.expects(instance_uuid=UUID)
    def stop_instance(self, ctxt, instance_uuid):
        self._power_op(ctxt, instance_uuid, 'stop_instance')

    @checks.expects(instance_uuid=UUID)
    def start_instance(self, ctxt, instance_uuid):
        self._power_op(ctxt, instance_uuid, 'start_instance')

    @checks.expects(instance_uuid=UUID)
    def pause_instance(self, ctxt, instance_uuid):
        self._power_op(ctxt, instance_uuid, 'pause_instance')

    @checks.expects(instance_uuid=UUID)
    def unpause_instance(self, ctxt, instance_uuid):
        self._power_op(ctxt, instance_uuid, 'unpause_instance')

    @checks.expects(instance_uuid=UUID)
    def suspend_instance(self, ctxt, instance_uuid):
        """The guest's memory to the host's disk (the conductor gives
        its vCPUs and RAM back to the scheduler when this is recorded)."""
        self._power_op(ctxt, instance_uuid, 'suspend_instance')

    @checks.expects(instance_uuid=UUID)
    def resume_instance(self, ctxt, instance_uuid):
        self._power_op(ctxt, instance_uuid, 'resume_instance')

    @checks.expects(instance_uuid=UUID)
    def terminate_instance(self, ctxt, instance_uuid):
        # a delete overrides whatever task is pending, so no task guard
        self._run(ctxt, instance_uuid, 'terminate_instance', None,
                  self._terminate, report=True)

    @checks.expects(instance_uuid=UUID)
    def isolate_instance(self, ctxt, instance_uuid):
        """itsec's quarantine: the conductor has marked the instance
        isolated; its ports drop all traffic from the next firewall
        refresh, done here first, then a running guest is paused."""
        self._run(ctxt, instance_uuid, 'isolate_instance',
                  user_actions.task_states_of('isolate_instance'),
                  functools.partial(self._isolation, 'pause'))

    @checks.expects(instance_uuid=UUID)
    def release_instance(self, ctxt, instance_uuid):
        """The end of a quarantine: traffic as the security groups say,
        a paused guest runs again."""
        self._run(ctxt, instance_uuid, 'release_instance',
                  user_actions.task_states_of('release_instance'),
                  functools.partial(self._isolation, 'unpause'))

    @checks.expects()
    def refresh_networking(self, ctxt):
        """The conductor changed what this host's ports need (a floating
        IP associated or gone): DHCP, filters and NAT anew."""
        if self.networking is not None:
            self.networking.resync(ctxt)

    @checks.expects(instance_uuid=UUID, volume_id=UUID)
    def attach_volume(self, ctxt, instance_uuid, volume_id):
        def attach(ctxt, instance):
            bdm = self._bdm(instance, volume_id)
            if bdm is None:
                raise exception.VolumeNotFound(volume_id=volume_id,
                                               instance=instance.uuid)
            device = self.driver.attach_volume(
                instance.uuid, volume_id, bdm.connection_info,
                bdm.device_name)
            self.conductor.block_device_update(
                ctxt, instance_uuid=instance.uuid, volume_id=volume_id,
                status='attached', device_name=device)
            return {}

        def rollback(ctxt, instance):
            with contextlib.suppress(exception.GuestNotFound):
                self.driver.detach_volume(instance.uuid, volume_id)
            self.conductor.block_device_update(
                ctxt, instance_uuid=instance.uuid, volume_id=volume_id,
                destroy=True)
        self._run(ctxt, instance_uuid, 'attach_volume',
                  user_actions.task_states_of('attach_volume'), attach,
                  capability='supports_attach_volume', rollback=rollback)

    @checks.expects(instance_uuid=UUID, volume_id=UUID)
    def detach_volume(self, ctxt, instance_uuid, volume_id):
        def detach(ctxt, instance):
            if self._bdm(instance, volume_id) is None:
                LOG.info('Volume %s is already detached from %s',
                         volume_id, instance.uuid)
                return {}
            self.driver.detach_volume(instance.uuid, volume_id)
            self.conductor.block_device_update(
                ctxt, instance_uuid=instance.uuid, volume_id=volume_id,
                destroy=True)
            return {}
        self._run(ctxt, instance_uuid, 'detach_volume',
                  user_actions.task_states_of('detach_volume'), detach,
                  capability='supports_attach_volume')

    @checks.expects(instance_uuid=UUID, volume_id=UUID)
    def extend_volume(self, ctxt, instance_uuid, volume_id):
        """An attached volume grows to the size the conductor recorded
        in its mapping (``size_bytes``): the hypervisor grows it and the
        guest sees the new size at once; then the volume's record takes
        that size (a refusal leaves it as it was)."""
        def extend(ctxt, instance):
            bdm = self._bdm(instance, volume_id)
            if bdm is None:
                raise exception.VolumeNotFound(volume_id=volume_id,
                                               instance=instance.uuid)
            size = int(bdm.connection_info.get('size_bytes') or 0)
            if size <= 0:
                raise exception.InvalidRPCPayload(
                    'volume %s has no new size recorded' % volume_id)
            self.driver.extend_volume(instance.uuid, volume_id, size)
            self.conductor.block_device_update(
                ctxt, instance_uuid=instance.uuid, volume_id=volume_id,
                status='attached', device_name=None, extended=True)
            return {}

        def rollback(ctxt, instance):
            # the guest keeps its disk as it was; the mapping is usable
            self.conductor.block_device_update(
                ctxt, instance_uuid=instance.uuid, volume_id=volume_id,
                status='attached', device_name=None)
        self._run(ctxt, instance_uuid, 'extend_volume',
                  user_actions.task_states_of('extend_volume'), extend,
                  capability='supports_extend_volume', rollback=rollback)

    @checks.expects(instance_uuid=UUID,
                 tail_length=f.Integer(min=1, max=10000, nullable=True))
    def get_console_output(self, ctxt, instance_uuid, tail_length):
        """Return the last ``tail_length`` lines (all if None) as text."""
        self._check_capability('supports_console_output',
                               'get_console_output')
        try:
            text = self.driver.get_console_output(
                instance_uuid, CONF.compute.console_output_max_bytes)
        except NotImplementedError:
            raise self._unsupported('get_console_output') from None
        if tail_length:
            text = ''.join(text.splitlines(keepends=True)[-tail_length:])
        return text

    @checks.expects(instance_uuid=UUID,
                    protocol=f.Enum(virt_driver.CONSOLE_PROTOCOLS))
    def get_console(self, ctxt, instance_uuid, protocol):
        """{'protocol', 'host', 'port'}: where the console proxy reaches
        the guest's ``protocol`` console; the conductor keeps it in the
        token it hands out."""
        self._check_capability('supports_remote_console', 'get_console')
        try:
            end = self.driver.get_console(instance_uuid, protocol)
        except NotImplementedError:
            raise self._unsupported('get_console') from None
        return {'protocol': end.protocol, 'host': end.host, 'port': end.port}

    def _image_grant(self, ctxt, instance):
        """The conductor's grant to read the instance's hvagent-api images
        (agent.security.image_grants), if it boots from any; a refusal (the image
        is gone, or not the project's) fails the build readably."""
        refs = (instance.image_ref, instance.kernel_ref, instance.ramdisk_ref)
        if not any(image_refs.image_id(r) for r in refs):
            return None
        return self.conductor.image_grant(ctxt, instance_uuid=instance.uuid)

    # ---------------------------------------------------- operation bodies
    def _build(self, ctxt, instance):
        nics = self._plug(ctxt, instance)
        spec = self._guest_spec(ctxt, instance, nics)
        try:
            self.driver.spawn(spec)
        except exception.InstanceExists:
            LOG.info('Guest of instance %s already exists (redelivered '
                     'build); finishing the build', instance.uuid)
        if nics:
            self.networking.activate(ctxt, instance.uuid, nics)
        return {'vm_state': S.ACTIVE, 'launched_at': host_sync.utcnow_iso(),
                'power_state': self.driver.get_info(
                    instance.uuid).power_state}

    def _guest_spec(self, ctxt, instance, nics):
        """What the driver makes the instance's guest from."""
        flavor = instance.flavor
        return virt_driver.GuestSpec(
            uuid=instance.uuid, name=instance.name, vcpus=flavor.vcpus,
            memory_mb=flavor.memory_mb, root_gb=flavor.root_gb,
            image_ref=instance.image_ref, kernel_ref=instance.kernel_ref,
            ramdisk_ref=instance.ramdisk_ref, project_id=instance.project_id,
            user_id=instance.user_id, flavor_name=flavor.name,
            config_drive=instance.config_drive, user_data=instance.user_data,
            key_name=instance.key_name, public_key=instance.key_data,
            metadata=dict(instance.metadata), networks=nics,
            image_grant=self._image_grant(ctxt, instance))

    def _plug(self, ctxt, instance, bind=True):
        """Wire the instance's ports here (``bind``: see vifs.plug)."""
        if not instance.networks:
            return ()
        if self.networking is None:
            raise exception.HVAgentError(
                'Instance %s has ports but this host has no networking'
                % instance.uuid)
        if bind:
            return self.networking.plug(ctxt, instance.uuid)
        return self.networking.plug(ctxt, instance.uuid, bind=False)

    def _unplug(self, ctxt, instance, ports=None):
        if instance.networks and self.networking is not None:
            if ports is None:
                ports = self.networking.ports_of(ctxt, instance.uuid)
            self.networking.unplug(ctxt, ports)

    def _destroy_guest(self, ctxt, instance):
        self.driver.destroy(instance.uuid)
        self._unplug(ctxt, instance)

    def _terminate(self, ctxt, instance):
        ports = instance.networks and self.networking and \
            self.networking.ports_of(ctxt, instance.uuid)
        self.driver.destroy(instance.uuid)
        self.conductor.instance_destroy(ctxt, instance_uuid=instance.uuid)
        self._unplug(ctxt, instance, ports or [])
        return None  # the instance is gone: no final update

    def _power_op(self, ctxt, instance_uuid, method):
        power = user_actions.POWER_BY_METHOD[method].power

        def body(ctxt, instance):
            current = self.driver.get_info(instance.uuid).power_state
            if current == power.power_state and not power.always_call:
                LOG.info('%s: guest of %s is already %s; fixing states only',
                         method, instance.uuid, current)
            elif power.call == 'power_off':
                self.driver.power_off(
                    instance.uuid,
                    timeout=CONF.compute.graceful_shutdown_timeout)
            else:
                getattr(self.driver, power.call)(instance.uuid)
            return {'vm_state': power.vm_state,
                    'power_state': self.driver.get_info(
                        instance.uuid).power_state}
        self._run(ctxt, instance_uuid, method,
                  user_actions.task_states_of(method), body,
                  capability=power.capability)

    def _isolation(self, call, ctxt, instance):
        """Ports first (the network is cut before anything else, and
        restored before the guest runs again), then ``call`` (pause or
        unpause) if the guest is in the state it applies to."""
        if instance.networks and self.networking is not None:
            self.networking.resync(ctxt)
        power = user_actions.POWER_BY_METHOD[call + '_instance'].power
        before = S.RUNNING if call == 'pause' else S.PAUSED_POWER
        if self.driver.get_info(instance.uuid).power_state == before and \
                self.driver.capabilities.get(power.capability):
            getattr(self.driver, call)(instance.uuid)
        now = self.driver.get_info(instance.uuid).power_state
        return {'vm_state': power.vm_state if now == power.power_state
                else instance.vm_state, 'power_state': now}

    @staticmethod
    def _bdm(instance, volume_id):
        return next((b for b in instance.block_devices
                     if b.volume_id == volume_id), None)

    # ---------------------------------------------------------- machinery
    def _run(self, ctxt, instance_uuid, method, task_states, body,
             capability=None, rollback=None, report=False,
             start_updates=None):
        """Run one operation: the conductor checks (host, task_state),
        applies ``start_updates`` and starts the event in one call; the
        final states and the event's result go back in one more. Return
        whether it succeeded; None if it was skipped (superseded)."""
        event = 'compute_' + method
        expected = None if task_states is None else list(task_states)
        with self._locks.hold(instance_uuid):
            try:
                instance = self._start(
                    ctxt, instance_uuid=instance_uuid, host=self.host,
                    request_id=ctxt.request_id, event=event,
                    expected_task_state=expected, updates=start_updates)
            except (exception.InstanceNotFound, exception.InstanceNotOnHost,
                    exception.UnexpectedTaskState) as e:
                LOG.info('%s of %s skipped (done already or superseded): '
                         '%s', method, instance_uuid, exception.text(e))
                return None
            with self.metrics.operation(method) as outcome:
                ok = outcome['ok'] = self._act(ctxt, instance, event,
                                               expected, body, capability,
                                               rollback)
        if report:
            self._report()
        return ok

    def _start(self, ctxt, **kwargs):
        """operation_start, sent again when it times out (_resend): the
        start holds either way, since its compare-and-swap accepts the
        state a first start that committed left (a build expects
        scheduling or spawning, the other operations change no state at
        their start)."""
        return self._resend(self.conductor.operation_start, 'start', ctxt,
                            kwargs)

    def _finish(self, ctxt, **kwargs):
        """operation_finish, sent again when it times out (_resend). A
        first attempt that committed before its conductor stopped makes
        the next one's compare-and-swap fail (the task is over, the
        transaction that would record it twice rolls back): that is the
        success recorded, not a failure."""
        try:
            return self._resend(self.conductor.operation_finish, 'end',
                                ctxt, kwargs)
        except _RecordedBefore:
            LOG.info('%s of %s: recorded by the attempt that timed out',
                     kwargs['event'], kwargs['instance_uuid'])
            return None

    @staticmethod
    def _resend(call, what, ctxt, kwargs):
        """``call`` sent again (up to START_ATTEMPTS in all) when it times
        out: the conductor that took it may have stopped, after its commit
        or before; another conductor takes the next attempt. A retry the
        conductor refuses with UnexpectedTaskState raises _RecordedBefore:
        the state moved on, by the attempt that timed out."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return call(ctxt, **kwargs)
            except messaging.MessagingTimeout:
                if attempt == START_ATTEMPTS:
                    raise
                LOG.warning('%s of %s: no answer from the conductor to its '
                            '%s (attempt %d of %d); sending it again',
                            kwargs['event'], kwargs['instance_uuid'], what,
                            attempt, START_ATTEMPTS)
            except exception.UnexpectedTaskState as e:
                if attempt == 1:
                    raise
                raise _RecordedBefore(str(e)) from None

    def _act(self, ctxt, instance, event, expected, body, capability,
             rollback):
        """Run the body and record its result; False if it failed."""
        if expected is not None:   # as operation_start left it
            expected = [instance.task_state]
        try:
            self._check_capability(capability, event)
            failpoints.hit(event + '.start')
            try:
                updates = body(ctxt, instance)
            except NotImplementedError:
                raise self._unsupported(event) from None
            failpoints.hit(event + '.done')
            if updates is not None:
                updates.setdefault('task_state', None)
            self._finish(
                ctxt, instance_uuid=instance.uuid,
                request_id=ctxt.request_id, event=event, result='Success',
                updates=updates, expected_task_state=expected,
                fault_message=None, traceback=None, host=self.host)
        except Exception as exc:
            self._failed(ctxt, instance, event, exc, rollback)
            return False
        return True

    def _failed(self, ctxt, instance, event, exc, rollback):
        """Record a failure (called from an except block)."""
        uuid = instance.uuid
        tb = traceback.format_exc()[-65535:]
        if rollback and not isinstance(exc, exception.OperationNotSupported):
            self._quietly('roll back ' + event, rollback, ctxt, instance)
        updates = message = None
        if isinstance(exc, SUPERSEDED):
            LOG.warning('%s of %s abandoned: %s', event, uuid, exc)
        else:
            refused = isinstance(exc, REFUSED)
            LOG.error('%s of %s failed: %s', event, uuid, exc,
                      exc_info=not refused)
            message = fault_message(exc)
            updates = {'task_state': None}
            if not refused:
                updates['vm_state'] = S.ERROR
        finish = functools.partial(
            self.conductor.operation_finish, ctxt, instance_uuid=uuid,
            request_id=ctxt.request_id, event=event, result='Error',
            expected_task_state=None, traceback=tb, host=self.host)
        try:
            finish(updates=updates, fault_message=message)
        except Exception as e:
            # e.g. the instance was deleted meanwhile: still end the event
            LOG.warning('Could not record the failure of %s on %s: %s',
                        event, uuid, e)
            self._quietly('finish event ' + event, finish, updates=None,
                          fault_message=None)

    def _unsupported(self, operation):
        operation = operation.replace('compute_', '', 1).replace('_', ' ')
        return exception.OperationNotSupported(
            driver=type(self.driver).__name__, operation=operation)

    def _check_capability(self, capability, operation):
        if capability and not self.driver.capabilities.get(capability):
            raise self._unsupported(operation)

    @staticmethod
    def _quietly(what, func, *args, **kwargs):
        try:
            func(*args, **kwargs)
        except Exception as e:
            LOG.warning('Could not %s: %s', what, e)

    def _report(self):
        if self.report_callback is not None:
            self._quietly('report resources', self.report_callback)
