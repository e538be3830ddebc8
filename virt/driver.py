"""The abstract ComputeDriver every virt driver implements.

A driver knows nothing of RPC or the database: the manager hands it a
``GuestSpec`` (plain values taken from the instance and its flavor) and gets
plain values back. Operations must be idempotent on redelivery: spawning a
guest that exists raises InstanceExists (the manager treats that as done),
destroying one that is gone is a no-op.
"""
import abc
import dataclasses
import importlib.metadata
from collections.abc import Callable
from typing import Any

from agent import exception
from agent.objects import states
from virt import migration

ENTRY_POINT_GROUP = 'hvagent.virt'


@dataclasses.dataclass(frozen=True)
class GuestSpec:
    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image_ref: str | None = None   # root disk image: path or URL
    #: direct kernel boot (as nova's kernel_id/ramdisk_id): path or URL
    kernel_ref: str | None = None
    ramdisk_ref: str | None = None
    project_id: str | None = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    user_id: str | None = None
    flavor_name: str | None = None
    #: build a config drive (ISO9660 labelled config-2) for the guest
    config_drive: bool = False
    user_data: str | None = None   # as given by the user (text)
    key_name: str | None = None
    public_key: str | None = None  # OpenSSH public key text
    #: the guest's NICs, plugged by the agent before spawn: dicts with
    #: 'mac', 'bridge', 'tap' (device name the hypervisor gives the NIC)
    #: and 'mtu' (or None)
    networks: tuple[dict[str, Any], ...] = ()
    #: the conductor's grant to read this instance's images from
    #: hvagent-api (agent.security.image_grants; never sent elsewhere, see
    #: ImageCache.fetch). Not part of the guest.
    image_grant: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class SnapshotTarget:
    """Where a snapshot goes: the image the conductor recorded (saving)
    and its grant to upload that image's data to hvagent-api (never sent
    elsewhere)."""
    image_id: str
    grant: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class GuestInfo:
    uuid: str
    power_state: str = states.NOSTATE
    vcpus: int = 0
    memory_mb: int = 0
    cpu_time_ns: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class BlockStats:
    """Cumulative I/O of one guest disk since its QEMU process started."""
    device: str                    # target device, e.g. vda
    read_bytes: int = 0
    read_requests: int = 0
    write_bytes: int = 0
    write_requests: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class InterfaceStats:
    """Cumulative traffic of one guest NIC, as the guest sees it (rx is
    what the guest received)."""
    device: str                    # host-side device, e.g. the tap
    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errors: int = 0
    rx_drops: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    tx_drops: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class GuestStats:
    """One guest's figures for monitoring. ``name`` and ``project_id`` are
    the instance's (None where the driver does not know them); counters
    restart from 0 when the guest's process restarts."""
    uuid: str
    name: str | None = None
    project_id: str | None = None
    power_state: str = states.NOSTATE
    vcpus: int = 0
    memory_max_bytes: int = 0      # configured maximum
    memory_bytes: int = 0          # current (balloon) size
    cpu_time_ns: int = 0           # whole guest, all vCPUs and emulator
    vcpu_time_ns: tuple[int, ...] = ()  # per vCPU, index = vCPU number
    disks: tuple[BlockStats, ...] = ()
    interfaces: tuple[InterfaceStats, ...] = ()


#: the interactive consoles a guest may have
CONSOLE_PROTOCOLS = ('serial', 'vnc')


@dataclasses.dataclass(frozen=True)
class ConsoleEndpoint:
    """A guest console's server as the console proxy reaches it: raw bytes
    of the serial port, or RFB for 'vnc', over TCP at host:port."""
    protocol: str
    host: str
    port: int


@dataclasses.dataclass(frozen=True)
class HostResources:
    hypervisor_type: str
    vcpus: int
    memory_mb: int
    local_gb: int
    free_ram_mb: int | None = None
    free_disk_gb: int | None = None


class ComputeDriver(abc.ABC):
    """The small required core; optional features are in ``capabilities``."""

    #: what this driver can do beyond the core; the manager refuses an
    #: operation whose capability is False with a clear error.
    capabilities: dict[str, bool] = {
        'supports_reboot': True,
        'supports_pause': False,
        #: suspend/resume: the guest's memory saved to the host's disk
        #: and restored, the guest going on where it was
        'supports_suspend': False,
        #: rescue/unrescue: boot from a rescue image, the guest's own
        #: root disk as the second disk, and back
        'supports_rescue': False,
        'supports_attach_volume': False,
        #: extend_volume (an attached volume grown, the guest told)
        'supports_extend_volume': False,
        'supports_console_output': False,
        #: get_console (an interactive serial and/or VNC console)
        'supports_remote_console': False,
        #: the hypervisor makes each NIC's tap on its bridge itself (else
        #: the agent creates the taps before spawn)
        'creates_vif_devices': False,
        #: incoming_target ... cleanup_migrated_source (virt.migration)
        'supports_live_migration': False,
        #: migrate_disk_and_power_off, withdraw_disk, finish_migration,
        #: finish_revert_migration (resize and cold migration)
        'supports_cold_migration': False,
    }

    def init_host(self, host: str) -> None:
        """Connect to the hypervisor; called once before anything else."""

    def cleanup_host(self) -> None:
        """Release the hypervisor connection on shutdown."""

    def register_event_listener(
            self, callback: Callable[[str, str], None]) -> None:
        """Have ``callback(uuid, power_state)`` called when a guest's power
        state changes by itself (libvirt lifecycle events); optional."""

    def manage_image_cache(self) -> None:
        """Periodic: drop cached images no guest has used for long."""

    @abc.abstractmethod
    def spawn(self, spec: GuestSpec) -> None:
        """Create and start the guest of ``spec`` (a GuestSpec)."""

    @abc.abstractmethod
    def destroy(self, uuid: str) -> None:
        """Stop and remove the guest and its local disks; no-op if gone."""

    @abc.abstractmethod
    def reboot(self, uuid: str, reboot_type: str) -> None:
        """Reboot the guest: reboot_type is 'SOFT' or 'HARD'."""

    @abc.abstractmethod
    def power_off(self, uuid: str, timeout: float = 0) -> None:
        """Shut the guest down, gracefully within ``timeout`` seconds."""

    @abc.abstractmethod
    def power_on(self, uuid: str) -> None:
        """Start a stopped guest."""

    @abc.abstractmethod
    def get_info(self, uuid: str) -> GuestInfo:
        """Return the GuestInfo of one guest; raise GuestNotFound."""

    @abc.abstractmethod
    def list_guests(self) -> list[str]:
        """Return the uuids of every guest the hypervisor knows."""

    def list_guest_infos(self) -> list[GuestInfo]:
        """GuestInfo of every guest; drivers with a bulk query override."""
        infos = []
        for uuid in self.list_guests():
            try:
                infos.append(self.get_info(uuid))
            except exception.GuestNotFound:
                pass    # went away while we were counting
        return infos

    def get_guest_stats(self) -> list[GuestStats]:
        """GuestStats of every guest, for a metrics scrape.

        One bulk query per call where the hypervisor has one. It must not
        wait out a hypervisor reconnect (a scrape has a deadline): with no
        live connection it raises HypervisorUnavailable at once. This
        default has no names, projects, disks or NICs; drivers override it.
        """
        return [GuestStats(uuid=i.uuid, power_state=i.power_state,
                           vcpus=i.vcpus,
                           memory_max_bytes=i.memory_mb * 1024 * 1024,
                           memory_bytes=i.memory_mb * 1024 * 1024,
                           cpu_time_ns=i.cpu_time_ns)
                for i in self.list_guest_infos()]

    @abc.abstractmethod
    def get_host_resources(self) -> HostResources:
        """Return the HostResources of this host."""

    def pause(self, uuid: str) -> None:
        raise NotImplementedError

    def unpause(self, uuid: str) -> None:
        raise NotImplementedError

    def rescue(self, spec: GuestSpec, rescue_spec: GuestSpec) -> None:
        """Boot the guest of ``spec`` from ``rescue_spec``'s images (a new
        disk from its image) with its own root disk as the second disk
        (vdb); its volumes are not attached meanwhile. Again: again."""
        raise NotImplementedError

    def unrescue(self, spec: GuestSpec) -> None:
        """Boot the guest of ``spec`` from its own root disk again; the
        rescue disk goes. The caller attaches its volumes again."""
        raise NotImplementedError

    def suspend(self, uuid: str) -> None:
        """Save the running (or paused) guest's memory and device state
        to the host's disk and stop it: power state shutdown, the host's
        RAM and vCPUs free. Kept across agent and host restarts.
        SuspendFailed if it could not be saved and the guest runs on."""
        raise NotImplementedError

    def resume(self, uuid: str) -> None:
        """Start a suspended guest from its saved state (it goes on where
        it was, no boot); a running guest is left alone."""
        raise NotImplementedError

    def snapshot(self, uuid: str, target: SnapshotTarget) -> None:
        """Copy the guest's root disk as it is at one moment (a running
        guest runs on) into a standalone image and upload it as
        ``target``'s data (virt.image_upload); SnapshotFailed if the copy
        or the upload fails or is refused."""
        raise NotImplementedError

    def attach_interfaces(self, uuid: str,
                          nics: tuple[dict[str, Any], ...]) -> list[str]:
        """Plug into the running guest (and its definition) each of
        ``nics`` (as GuestSpec.networks) it lacks, by MAC; the MACs
        plugged."""
        raise NotImplementedError

    def detach_interfaces(self, uuid: str, keep_macs: list[str]) -> list[str]:
        """Take out of the guest each NIC whose MAC is not in
        ``keep_macs``, waiting until the guest let go; the MACs taken
        out."""
        raise NotImplementedError

    def attach_volume(self, uuid: str, volume_id: str,
                      connection_info: dict[str, Any],
                      device_name: str | None) -> str:
        """Attach a volume; return the device name the guest sees."""
        raise NotImplementedError

    def detach_volume(self, uuid: str, volume_id: str) -> None:
        raise NotImplementedError

    def extend_volume(self, uuid: str, volume_id: str,
                      size_bytes: int) -> None:
        """Grow an attached volume to ``size_bytes`` (the hypervisor
        grows its file) so the running guest sees the new size;
        VolumeExtendFailed if it cannot."""
        raise NotImplementedError

    def get_console_output(self, uuid: str, max_bytes: int) -> str:
        """Return the last ``max_bytes`` of the guest console as text."""
        raise NotImplementedError

    def get_console(self, uuid: str, protocol: str) -> ConsoleEndpoint:
        """Where the console proxy reaches the guest's ``protocol``
        console ('serial' or 'vnc'); ConsoleTypeUnavailable when the
        guest has none."""
        raise NotImplementedError

    # ------------------------------------------ moving guests (migration.py)
    def incoming_target(self) -> migration.MigrationTarget:
        """Destination: where this host accepts migrating guests."""
        raise NotImplementedError

    def prepare_incoming(self, spec: GuestSpec, shared_storage: bool) -> None:
        """Destination: make the guest's files (the root overlay on the
        cached base, of the flavor's size; the config drive) unless
        ``shared_storage``; idempotent. The NICs are plugged already."""
        raise NotImplementedError

    def finish_incoming(self, uuid: str) -> None:
        """Destination, after the switch-over: the guest is defined here
        for good (persistent); resume it if the move left it paused."""
        raise NotImplementedError

    def cleanup_incoming(self, uuid: str, shared_storage: bool) -> None:
        """Destination, after a failed or aborted move: remove any domain
        and (unless shared) files of ``uuid`` made here; no-op if none."""
        raise NotImplementedError

    def live_migrate(self, uuid: str, target: migration.MigrationTarget,
                     peer_uri: str | None,
                     options: migration.LiveMigrationOptions,
                     progress: Callable[[migration.MigrationProgress], None]
                     ) -> migration.MigrationProgress:
        """Source: move the running guest to ``target`` (``peer_uri``: the
        destination's hypervisor as this host's reaches it); call
        ``progress`` every ``options.poll_interval_s``; return the final
        figures once the guest runs there. Raise MigrationAborted or
        MigrationFailed, the guest still running here, otherwise."""
        raise NotImplementedError

    def abort_live_migration(self, uuid: str) -> None:
        """Source: cancel the running migration of ``uuid``."""
        raise NotImplementedError

    def force_complete_live_migration(self, uuid: str) -> None:
        """Source: pause the guest so the running migration finishes."""
        raise NotImplementedError

    def live_migration_job(
            self, uuid: str) -> migration.MigrationProgress | None:
        """Source: the migration of ``uuid`` running now, else None."""
        raise NotImplementedError

    def cleanup_migrated_source(self, uuid: str, shared_storage: bool
                                ) -> None:
        """Source, after the switch-over: remove what is left here of the
        guest (its domain if still defined; its files unless shared)."""
        raise NotImplementedError

    # ------------------------------------- resize and cold migration
    def migrate_disk_and_power_off(self, uuid: str, dest_host: str,
                                   timeout: float = 0) -> str | None:
        """Source: stop the guest (gracefully within ``timeout``) and offer
        its disk to ``dest_host``; return where that host reads it (this
        host's hypervisor address, for its ``[migration] peer_uri``), or
        None if nothing needs reading. The guest and its files stay here
        (stopped) until the resize is confirmed or reverted."""
        raise NotImplementedError

    def withdraw_disk(self, uuid: str) -> None:
        """Source: end the offer of ``uuid``'s disk (a failed resize);
        no-op if there is none. Destroy and finish_revert_migration end
        it too."""
        raise NotImplementedError

    def finish_migration(self, spec: GuestSpec, power_on: bool,
                         source_uri: str | None = None) -> None:
        """Destination: make the guest of ``spec`` (the new flavor) from
        the disk the source offers (read at ``source_uri``, the source's
        hypervisor as this host reaches it); start it if ``power_on``;
        idempotent."""
        raise NotImplementedError

    def finish_revert_migration(self, spec: GuestSpec,
                                power_on: bool) -> None:
        """Source, after a revert: the guest kept here gets ``spec``
        (the old flavor) back; start it if ``power_on``."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class ImageService:
    """Where a driver reads the images named by id: hvagent-api's public
    URL, over TLS trusting ``ca_file`` (None: the system CAs)."""
    url: str
    ca_file: str | None = None


def load_driver(name: str,
                image_service: ImageService | None = None) -> ComputeDriver:
    """Instantiate the driver registered as ``name`` in hvagent.virt;
    ``image_service``: an ImageService, else images named by id are
    refused."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in eps:
        if ep.name == name:
            driver: ComputeDriver = ep.load()(image_service=image_service)
            return driver
    known = ', '.join(sorted(ep.name for ep in eps)) or 'none installed'
    raise ValueError('Unknown compute_driver %r (known: %s)' % (name, known))
