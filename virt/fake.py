"""An in-memory virt driver: no hypervisor, every guest is a Python object.

It backs the all-in-one setup and the unit tests. Guests have a power state
(running, paused, shutdown), a console log (a boot banner naming the uuid and
the instance name, then one line per reboot, stop, start, pause, unpause,
suspend, resume, attach and detach) and attached volumes (devices vdb, vdc,
... chosen by the driver when the caller gives none). Every method is thread-safe.

Failure injection for tests: ``driver.fail_next('spawn', exc)`` makes the
next call of that driver method raise ``exc`` (once), before it changes
anything. ``set_power_state(uuid, state)`` simulates a change made outside
the agent (a guest shut down from inside, a crash).
"""
import dataclasses
import string
import tempfile
import threading
import time

from oslo_config import cfg

from agent import exception
from agent.objects import states
from virt import driver
from virt import fake_console
from virt import image_upload
from virt import migration

CONF = cfg.CONF
_DEVICES = tuple('vd' + c for c in string.ascii_lowercase[1:])


@dataclasses.dataclass
class _Guest:
    spec: driver.GuestSpec
    power_state: str = states.RUNNING
    console: list = dataclasses.field(default_factory=list)
    volumes: dict = dataclasses.field(default_factory=dict)  # id -> device
    started: float = dataclasses.field(default_factory=time.monotonic)
    #: suspended: the power state its memory was saved in
    saved: str | None = None

    def log(self, text):
        self.console.append('[%12.6f] %s' % (
            time.monotonic() - self.started, text))

    def boot(self):
        self.power_state = states.RUNNING
        self.log('fake-bios: booting %s (%s)' % (self.spec.name,
                                                 self.spec.uuid))
        self.log('Linux version 6.1.0-fake (hvagent fake driver)')
        self.log('%s login:' % self.spec.name)


class FakeDriver(driver.ComputeDriver):
    """A full ComputeDriver kept in memory; see the module docstring."""

    capabilities = {
        'supports_reboot': True,
        'supports_pause': True,
        'supports_suspend': True,
        'supports_rescue': True,
        'supports_snapshot': True,
        'supports_interface_attach': True,
        'supports_attach_volume': True,
        'supports_extend_volume': True,
        'supports_console_output': True,
        'supports_remote_console': True,
        'supports_live_migration': True,
        'supports_cold_migration': True,
    }

    def __init__(self, vcpus=16, memory_mb=65536, local_gb=1000,
                 hypervisor_type='fake', image_service=None):
        # image_service: the fake boots any image ref without reading it,
        # and uploads its snapshots there (if given)
        self.image_service = image_service
        self.vcpus = vcpus
        self.memory_mb = memory_mb
        self.local_gb = local_gb
        self.hypervisor_type = hypervisor_type
        self.host = None
        self._lock = threading.RLock()
        self._guests = {}
        self._consoles = {}     # uuid -> fake_console.SerialServer
        self._failures = {}
        self._incoming = {}     # uuid -> GuestSpec, prepared to move here
        self._jobs = {}         # uuid -> _Job, moving away
        self.sent = {}          # uuid -> host its disk was sent to (resize)
        self.snapshots = {}     # image id -> the bytes of a snapshot

    # ------------------------------------------------------------ test hooks
    def fail_next(self, op, exc):
        """Make the next call of method ``op`` raise ``exc`` (once)."""
        if not callable(getattr(self, op, None)):
            raise ValueError('FakeDriver has no operation %r' % (op,))
        with self._lock:
            self._failures[op] = exc

    def set_power_state(self, uuid, power_state):
        """Change a guest's power state as if from outside the agent."""
        with self._lock:
            self._get(uuid).power_state = power_state

    def get_volumes(self, uuid):
        """Return {volume_id: device_name} of one guest."""
        with self._lock:
            return dict(self._get(uuid).volumes)

    # ------------------------------------------------------------- internals
    def _get(self, uuid):
        guest = self._guests.get(uuid)
        if guest is None:
            raise exception.GuestNotFound(instance=uuid)
        return guest

    def _begin(self, op, uuid=None):
        """Raise an injected failure; return the guest if uuid is given."""
        exc = self._failures.pop(op, None)
        if exc is not None:
            raise exc
        return None if uuid is None else self._get(uuid)

    # ------------------------------------------------------------- the core
    def init_host(self, host):
        with self._lock:
            self._begin('init_host')
            self.host = host

    def cleanup_host(self):
        with self._lock:
            servers, self._consoles = list(self._consoles.values()), {}
        for server in servers:
            server.close()

    def spawn(self, spec):
        delay = CONF.fake_driver.spawn_delay
        if delay:                   # a slow hypervisor, outside the lock
            time.sleep(delay)
        with self._lock:
            self._begin('spawn')
            if spec.uuid in self._guests:
                raise exception.InstanceExists(instance=spec.uuid)
            guest = _Guest(spec=spec)
            guest.boot()
            self._guests[spec.uuid] = guest

    def destroy(self, uuid):
        with self._lock:
            self._begin('destroy')
            self._guests.pop(uuid, None)
            server = self._consoles.pop(uuid, None)
        if server is not None:
            server.close()

    def reboot(self, uuid, reboot_type):
        with self._lock:
            guest = self._begin('reboot', uuid)
            guest.log('reboot: %s reboot requested' % reboot_type)
            guest.boot()

    def power_off(self, uuid, timeout=0):
        with self._lock:
            guest = self._begin('power_off', uuid)
            if guest.power_state != states.SHUTDOWN:
                guest.log('reboot: Power down')
                guest.power_state = states.SHUTDOWN

    def power_on(self, uuid):
        with self._lock:
            guest = self._begin('power_on', uuid)
            if guest.power_state != states.RUNNING:
                guest.log('power on')
                guest.boot()

    def pause(self, uuid):
        with self._lock:
            guest = self._begin('pause', uuid)
            self._require(guest, states.RUNNING, 'pause')
            guest.power_state = states.PAUSED_POWER
            guest.log('paused')

    def unpause(self, uuid):
        with self._lock:
            guest = self._begin('unpause', uuid)
            self._require(guest, states.PAUSED_POWER, 'unpause')
            guest.power_state = states.RUNNING
            guest.log('resumed')

    def extend_volume(self, uuid, volume_id, size_bytes):
        with self._lock:
            guest = self._begin('extend_volume', uuid)
            device = guest.volumes.get(volume_id)
            if device is None:
                raise exception.VolumeExtendFailed(
                    volume_id=volume_id, instance=uuid,
                    reason='it is not attached')
            guest.log('%s: capacity changed to %d bytes' % (device,
                                                             size_bytes))

    def rescue(self, spec, rescue_spec):
        with self._lock:
            guest = self._begin('rescue', spec.uuid)
            guest.volumes.clear()
            guest.log('rescue: booting %s, the own disk as vdb'
                      % rescue_spec.image_ref)
            guest.boot()

    def unrescue(self, spec):
        with self._lock:
            guest = self._begin('unrescue', spec.uuid)
            guest.log('unrescue: booting the own disk')
            guest.boot()

    def attach_interfaces(self, uuid, nics):
        with self._lock:
            guest = self._begin('attach_interfaces', uuid)
            have = {n['mac'] for n in guest.spec.networks}
            added = [n for n in nics if n['mac'] not in have]
            guest.spec = dataclasses.replace(
                guest.spec, networks=tuple(guest.spec.networks) +
                tuple(added))
            for nic in added:
                guest.log('nic plugged: %s' % nic['mac'])
            return [n['mac'] for n in added]

    def detach_interfaces(self, uuid, keep_macs):
        with self._lock:
            guest = self._begin('detach_interfaces', uuid)
            gone = [n['mac'] for n in guest.spec.networks
                    if n['mac'] not in keep_macs]
            guest.spec = dataclasses.replace(guest.spec, networks=tuple(
                n for n in guest.spec.networks if n['mac'] in keep_macs))
            for mac in gone:
                guest.log('nic unplugged: %s' % mac)
            return gone

    def snapshot(self, uuid, target):
        """A few bytes naming the guest, uploaded as the image's data
        when there is an image service."""
        with self._lock:
            guest = self._begin('snapshot', uuid)
            data = ('hvagent fake snapshot of %s (%s)\n' % (
                uuid, guest.spec.image_ref)).encode()
            self.snapshots[target.image_id] = data
            guest.log('snapshot into image %s' % target.image_id)
        if self.image_service is not None:
            with tempfile.NamedTemporaryFile(prefix='fake-snapshot.') as f:
                f.write(data)
                f.flush()
                image_upload.upload(
                    self.image_service.url, self.image_service.ca_file,
                    uuid, target.image_id, target.grant, f.name)

    def suspend(self, uuid):
        with self._lock:
            guest = self._begin('suspend', uuid)
            if guest.saved:
                return
            if guest.power_state not in (states.RUNNING, states.PAUSED_POWER):
                self._require(guest, states.RUNNING, 'suspend')
            guest.saved = guest.power_state
            guest.power_state = states.SHUTDOWN
            guest.log('suspended to disk')

    def resume(self, uuid):
        with self._lock:
            guest = self._begin('resume', uuid)
            if guest.power_state == states.RUNNING:
                return
            if not guest.saved:
                raise exception.VirtDriverError(
                    reason='guest %s has no saved state to resume' % uuid)
            guest.power_state, guest.saved = states.RUNNING, None
            guest.log('resumed from disk')

    @staticmethod
    def _require(guest, power_state, action):
        if guest.power_state != power_state:
            raise exception.VirtDriverError(
                reason='cannot %s guest %s in power state %s' % (
                    action, guest.spec.uuid, guest.power_state))

    def attach_volume(self, uuid, volume_id, connection_info, device_name):
        with self._lock:
            guest = self._begin('attach_volume', uuid)
            if volume_id in guest.volumes:        # redelivered: same answer
                return guest.volumes[volume_id]
            used = set(guest.volumes.values())
            if device_name:
                device = device_name.rsplit('/', 1)[-1]
                if device in used or device == 'vda':
                    raise exception.VirtDriverError(
                        reason='device %s of guest %s is in use' % (device,
                                                                    uuid))
            else:
                free = [d for d in _DEVICES if d not in used]
                if not free:
                    raise exception.VirtDriverError(
                        reason='no free device on guest %s' % uuid)
                device = free[0]
            guest.volumes[volume_id] = device
            guest.log('virtio_blk: [%s] attached volume %s' % (device,
                                                               volume_id))
            return device

    def detach_volume(self, uuid, volume_id):
        with self._lock:
            guest = self._begin('detach_volume', uuid)
            device = guest.volumes.pop(volume_id, None)
            if device is not None:
                guest.log('virtio_blk: [%s] detached volume %s' % (device,
                                                                   volume_id))

    def get_console_output(self, uuid, max_bytes):
        with self._lock:
            guest = self._begin('get_console_output', uuid)
            data = ''.join(line + '\n' for line in guest.console).encode()
        return data[-max_bytes:].decode('utf-8', errors='ignore')

    def get_console(self, uuid, protocol):
        """A serial console (fake_console.SerialServer, made on first
        use); no VNC (there is no framebuffer)."""
        with self._lock:
            guest = self._begin('get_console', uuid)
            if protocol != 'serial':
                raise exception.ConsoleTypeUnavailable(
                    instance=uuid, protocol=protocol,
                    reason='the fake driver has no framebuffer')
            server = self._consoles.get(uuid)
            if server is None:
                server = self._consoles[uuid] = fake_console.SerialServer(
                    guest.spec.name)
            return driver.ConsoleEndpoint('serial', '127.0.0.1', server.port)

    def get_info(self, uuid):
        with self._lock:
            guest = self._begin('get_info', uuid)
            return driver.GuestInfo(
                uuid=uuid, power_state=guest.power_state,
                vcpus=guest.spec.vcpus, memory_mb=guest.spec.memory_mb,
                cpu_time_ns=int((time.monotonic() - guest.started) * 1e9))

    def get_guest_stats(self):
        """Plausible, growing counters: each guest reads and writes its
        disks and moves packets at fixed rates since it was created."""
        with self._lock:
            self._begin('get_guest_stats')
            guests = [(g.spec, g.power_state, g.started,
                       ('vda',) + tuple(sorted(g.volumes.values())))
                      for g in self._guests.values()]
        now = time.monotonic()
        return [_stats(spec, power, now - started, disks)
                for spec, power, started, disks in guests]

    def list_guests(self):
        with self._lock:
            self._begin('list_guests')
            return list(self._guests)

    def get_host_resources(self):
        with self._lock:
            self._begin('get_host_resources')
            specs = [g.spec for g in self._guests.values()]
        return driver.HostResources(
            hypervisor_type=self.hypervisor_type, vcpus=self.vcpus,
            memory_mb=self.memory_mb, local_gb=self.local_gb,
            free_ram_mb=self.memory_mb - sum(s.memory_mb for s in specs),
            free_disk_gb=self.local_gb - sum(s.root_gb for s in specs))

    # ---------------------------------------------------------- moving
    def incoming_target(self):
        with self._lock:
            self._begin('incoming_target')
        return migration.MigrationTarget(address=self.host or 'localhost')

    def prepare_incoming(self, spec, shared_storage):
        with self._lock:
            self._begin('prepare_incoming')
            if spec.uuid in self._guests:
                raise exception.InstanceExists(instance=spec.uuid)
            self._incoming[spec.uuid] = spec

    def finish_incoming(self, uuid):
        with self._lock:
            self._begin('finish_incoming')
            if uuid in self._guests:            # redelivered
                return
            spec = self._incoming.pop(uuid, None)
            if spec is None:
                raise exception.GuestNotFound(instance=uuid)
            guest = _Guest(spec=spec)
            guest.log('migrated in: %s (%s) running' % (spec.name, uuid))
            self._guests[uuid] = guest

    def cleanup_incoming(self, uuid, shared_storage):
        with self._lock:
            self._begin('cleanup_incoming')
            self._incoming.pop(uuid, None)

    def live_migrate(self, uuid, target, peer_uri, options, progress):
        """Copy for [fake_driver] migration_seconds, reporting progress;
        abort and force_complete end it early, as does the timeout."""
        with self._lock:
            guest = self._begin('live_migrate', uuid)
            job = self._jobs[uuid] = _Job(guest.spec.memory_mb << 20)
        try:
            while not job.step(CONF.fake_driver.migration_seconds, options):
                progress(job.progress())
                job.wake.wait(options.poll_interval_s)
            if job.aborted:
                raise exception.MigrationAborted(instance=uuid,
                                                 reason=job.aborted)
        finally:
            with self._lock:
                self._jobs.pop(uuid, None)
        with self._lock:
            self._begin('live_migrate.switch_over')
            self._guests.pop(uuid, None)
        return job.progress(downtime_ms=1)

    def abort_live_migration(self, uuid):
        with self._lock:
            job = self._jobs.get(uuid)
        if job is not None:
            job.end('aborted on request')

    def force_complete_live_migration(self, uuid):
        with self._lock:
            job = self._jobs.get(uuid)
            if job is None:
                return
            self._get(uuid).power_state = states.PAUSED_POWER
        job.end(None)

    def live_migration_job(self, uuid):
        with self._lock:
            job = self._jobs.get(uuid)
        return None if job is None else job.progress()

    def cleanup_migrated_source(self, uuid, shared_storage):
        with self._lock:
            self._begin('cleanup_migrated_source')
            self._guests.pop(uuid, None)

    # ---------------------------------------- resize and cold migration
    def migrate_disk_and_power_off(self, uuid, dest_host, timeout=0):
        with self._lock:
            guest = self._begin('migrate_disk_and_power_off', uuid)
            if guest.power_state != states.SHUTDOWN:
                guest.power_state = states.SHUTDOWN
                guest.log('reboot: Power down (resize)')
            self.sent[uuid] = dest_host
        return self.host

    def withdraw_disk(self, uuid):
        with self._lock:
            self._begin('withdraw_disk')
            self.sent.pop(uuid, None)

    def finish_migration(self, spec, power_on, source_uri=None):
        with self._lock:
            self._begin('finish_migration')
            guest = self._guests.get(spec.uuid)
            if guest is None:           # else redelivered
                guest = self._guests[spec.uuid] = _Guest(
                    spec=spec, power_state=states.SHUTDOWN)
                guest.log('resized in: %s (%s) flavor %s' % (
                    spec.name, spec.uuid, spec.flavor_name))
            if power_on and guest.power_state != states.RUNNING:
                guest.boot()

    def finish_revert_migration(self, spec, power_on):
        with self._lock:
            guest = self._begin('finish_revert_migration', spec.uuid)
            guest.spec = spec
            self.sent.pop(spec.uuid, None)
            guest.log('resize reverted: flavor %s' % spec.flavor_name)
            if power_on and guest.power_state != states.RUNNING:
                guest.boot()


class _Job:
    """A fake migration's clock: memory copied in proportion to time."""

    def __init__(self, memory_bytes):
        self.memory = memory_bytes
        self.started = time.monotonic()
        self.fraction = 0.0
        self.wake = threading.Event()
        self.done = False
        self.aborted = None     # the reason, once aborted

    def end(self, aborted):
        self.aborted, self.done = aborted, True
        self.wake.set()

    def step(self, seconds, options):
        """Advance; True once over (done, aborted or timed out)."""
        elapsed = time.monotonic() - self.started
        self.fraction = 1.0 if not seconds else min(1.0, elapsed / seconds)
        timeout = options.completion_timeout_s
        if not self.done and timeout and elapsed >= timeout:
            self.end('timed out after %g s' % timeout
                     if options.timeout_action == 'abort' else None)
        if self.done and not self.aborted:
            self.fraction = 1.0
        return self.done or self.fraction >= 1.0

    def progress(self, downtime_ms=None):
        done = int(self.memory * self.fraction)
        return migration.MigrationProgress(
            elapsed_ms=int((time.monotonic() - self.started) * 1000),
            memory_total_bytes=self.memory, memory_processed_bytes=done,
            memory_remaining_bytes=self.memory - done,
            downtime_ms=downtime_ms)


def _stats(spec, power_state, seconds, disks):
    """A fake guest's GuestStats after ``seconds`` of life."""
    cpu_ns = int(seconds * 1e9)
    per_vcpu = cpu_ns // max(spec.vcpus, 1)
    return driver.GuestStats(
        uuid=spec.uuid, name=spec.name, project_id=spec.project_id,
        power_state=power_state, vcpus=spec.vcpus,
        memory_max_bytes=spec.memory_mb << 20,
        memory_bytes=spec.memory_mb << 20, cpu_time_ns=cpu_ns,
        vcpu_time_ns=(per_vcpu,) * spec.vcpus,
        # what a boot reads and writes (and a DHCP exchange), then steady
        disks=tuple(driver.BlockStats(
            device=d, read_bytes=(8 << 20) + int(seconds * 65536),
            read_requests=256 + int(seconds * 16),
            write_bytes=(1 << 20) + int(seconds * 16384),
            write_requests=32 + int(seconds * 4)) for d in disks),
        interfaces=tuple(driver.InterfaceStats(
            device=nic.get('tap') or 'tap%d' % i,
            rx_bytes=1200 + int(seconds * 15000),
            rx_packets=4 + int(seconds * 10),
            tx_bytes=1200 + int(seconds * 7500),
            tx_packets=4 + int(seconds * 5))
            for i, nic in enumerate(spec.networks)))
