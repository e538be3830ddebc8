"""A thin wrapper over one libvirt domain (virDomain).

Guest speaks the agent's vocabulary (power state names of
``agent.objects.states``, ``GuestInfo``) so the driver never touches libvirt
constants, but it decides nothing: no retries, no reboot fallbacks, no
cleanup of files. That policy belongs to the driver, which can then be read
without knowing libvirt's API.

Power states: libvirt has more states than the agent. BLOCKED (waiting on
I/O) is still a running guest. libvirt's SHUTDOWN ("being shut down") is
reported as shutdown as nova does: the guest has committed to stopping.
PMSUSPENDED (suspended to RAM by the guest itself) is reported as *paused*:
like a paused guest it keeps its memory, uses no CPU and comes back without a
boot; the agent has no "suspended" state, and "nostate" would read as "the
guest is gone". Note ``resume()`` does not wake such a guest (that needs
``virDomainPMWakeup``); the guest wakes itself on its configured wake events.

The domain's uuid is the instance uuid: the driver defines every domain with
``<uuid>`` set to it, so events and listings map back to instances directly.
"""
import time

import libvirt

from agent.objects import states
from virt import driver

_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: states.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: states.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: states.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: states.PAUSED_POWER,
    libvirt.VIR_DOMAIN_SHUTDOWN: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: states.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: states.PAUSED_POWER,
}

#: removed with the domain definition: UEFI variable store, a managed save
#: image and snapshot metadata would otherwise block or outlive the undefine
_UNDEFINE_FLAGS = (libvirt.VIR_DOMAIN_UNDEFINE_NVRAM |
                   libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                   libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)

#: what libvirt raises for a flag its driver (or an old version) lacks
_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG)


def power_state(libvirt_state):
    """The agent power state of a libvirt ``VIR_DOMAIN_*`` state number."""
    return _POWER_STATES.get(libvirt_state, states.NOSTATE)


class Guest:
    """One domain; every method is a single libvirt call or two."""

    def __init__(self, domain):
        self.domain = domain

    def __repr__(self):
        return '<Guest %s>' % self.uuid

    @property
    def uuid(self):
        return self.domain.UUIDString()

    @property
    def name(self):
        return self.domain.name()

    @property
    def power_state(self):
        return power_state(self.domain.state()[0])

    def is_active(self):
        return bool(self.domain.isActive())

    def launch(self, paused=False):
        """Start the (defined, stopped) domain; one already running is
        left alone (another start won the race, e.g. a call abandoned
        while libvirtd hung that went through when it woke). One still
        being shut down is not running: that refusal is raised."""
        try:
            self.domain.createWithFlags(
                libvirt.VIR_DOMAIN_START_PAUSED if paused else 0)
        except libvirt.libvirtError as e:
            if (e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID or
                    not self.is_active() or
                    self.domain.state()[0] == libvirt.VIR_DOMAIN_SHUTDOWN):
                raise

    def shutdown(self):
        """Ask the guest OS to power off (ACPI); returns at once."""
        self.domain.shutdown()

    def destroy(self):
        """Pull the plug; a domain that is not running is left alone."""
        try:
            self.domain.destroy()
        except libvirt.libvirtError as e:
            if (e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID or
                    self.is_active()):
                raise

    def reboot_hard(self):
        """Power cycle: destroy then start again, as nova's hard reboot
        does (a new QEMU process, unlike ``virDomainReset``)."""
        self.destroy()
        self.launch()

    def pause(self):
        self.domain.suspend()

    def resume(self):
        self.domain.resume()

    def block_resize(self, dev, size_bytes):
        """Grow disk ``dev`` (its target name, vdb) to ``size_bytes``:
        QEMU grows a raw file itself and the guest sees the capacity."""
        self.domain.blockResize(dev, size_bytes,
                                libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)

    def block_copy(self, dev, dest_xml):
        """Start mirroring disk ``dev`` (all of its backing chain) into
        the new file ``dest_xml`` describes; a job of this run of QEMU
        only (the domain stays persistent)."""
        self.domain.blockCopy(dev, dest_xml, None,
                              libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB)

    def block_job(self, dev):
        """The block job on ``dev``: {'cur', 'end', ...}, {} if none."""
        return self.domain.blockJobInfo(dev, 0)

    def block_job_abort(self, dev):
        """End ``dev``'s block job without switching to its copy (a copy
        in step with the disk is complete as of this moment)."""
        self.domain.blockJobAbort(dev, 0)

    def save(self):
        """libvirt's managed save: memory and device state to libvirt's
        save directory, the domain shut off; the next start restores it,
        running whatever state it was saved in."""
        self.domain.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING)

    def has_saved_state(self):
        return bool(self.domain.hasManagedSaveImage(0))

    def undefine(self):
        """Remove the persistent definition (a running domain becomes
        transient). Flags a driver does not know are dropped one by one:
        first NVRAM (older libvirt, non-QEMU drivers), then all of them."""
        for flags in (_UNDEFINE_FLAGS,
                      _UNDEFINE_FLAGS & ~libvirt.VIR_DOMAIN_UNDEFINE_NVRAM):
            try:
                self.domain.undefineFlags(flags)
                return
            except libvirt.libvirtError as e:
                if e.get_error_code() not in _UNSUPPORTED:
                    raise
        self.domain.undefine()

    def _device_flags(self, live, persistent):
        if live is None:
            live = self.is_active()
        return ((libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0) |
                (libvirt.VIR_DOMAIN_AFFECT_CONFIG if persistent else 0))

    def attach_device(self, xml, live=None, persistent=True):
        """Attach a device; ``live=None`` means "if the domain runs"."""
        self.domain.attachDeviceFlags(xml, self._device_flags(live,
                                                              persistent))

    def detach_device(self, xml, live=None, persistent=True):
        """Detach a device; a live detach only *asks* the guest, the
        device may linger until the guest lets go of it."""
        self.domain.detachDeviceFlags(xml, self._device_flags(live,
                                                              persistent))

    def wait_until_off(self, timeout, interval=0.1):
        """Poll until the domain is no longer active; False after
        ``timeout`` seconds. Not the power state: libvirt reports SHUTDOWN
        ("being shut down") while QEMU is still alive, and a start in that
        window is refused as "already running"."""
        deadline = time.monotonic() + timeout
        while self.is_active():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def xml(self, flags=0):
        return self.domain.XMLDesc(flags)

    def state(self):
        """libvirt's (VIR_DOMAIN_* state, reason) of the domain."""
        return tuple(self.domain.state())

    def is_persistent(self):
        return bool(self.domain.isPersistent())

    def persist(self):
        """Define the running (transient) domain's configuration."""
        self.domain.connect().defineXML(
            self.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE |
                                libvirt.VIR_DOMAIN_XML_SECURE))

    # ---------------------------------------------------------- migration
    def migrate(self, dest_uri, params, flags):
        """virDomainMigrateToURI3: blocks until the move ends."""
        self.domain.migrateToURI3(dest_uri, params, flags)

    def job_stats(self, flags=0):
        """virDomainGetJobStats as a dict ('type': VIR_DOMAIN_JOB_*)."""
        return self.domain.jobStats(flags)

    def abort_job(self):
        self.domain.abortJob()

    def set_max_downtime(self, ms):
        self.domain.migrateSetMaxDowntime(ms, 0)

    def info(self):
        """GuestInfo with the configured (maximum) memory, not the current
        balloon size, so it matches the flavor."""
        state, max_kib, _cur_kib, vcpus, cpu_ns = self.domain.info()
        return driver.GuestInfo(uuid=self.uuid, power_state=power_state(state),
                                vcpus=vcpus, memory_mb=max_kib // 1024,
                                cpu_time_ns=cpu_ns)
