"""What a guest looks like: the policy that turns a GuestSpec into a Domain.

config.py only knows how to write XML; every choice is made here, in plain
functions of their arguments (no filesystem, no libvirt), so the whole guest
definition can be tested by comparing XML. The choices and their reasons:

* The domain is named ``instance-<uuid>`` and its libvirt uuid is the
  instance uuid. The user's name is not unique, may change and may hold any
  character, so it only goes into the metadata, for people reading
  ``virsh dumpxml``; the driver finds guests by uuid.
* Machine type ``pc`` (i440fx): it has the IDE bus the config drive cdrom
  sits on, which every guest kernel can read (ata_piix, sr_mod, isofs).
* The root disk is ``vda``, qcow2 (an overlay on the cached image) on
  virtio. Its cache mode comes from the caller: ``cachemode_for()`` maps
  the host's O_DIRECT probe (``disk.supports_direct_io``, run once by the
  driver) to 'none', which keeps guest data out of the host page cache and
  is safe across host crashes, or 'writeback' where O_DIRECT is refused
  (tmpfs), since cache='none' would not even start there.
* Direct kernel boot when a kernel is given, with a command line that finds
  the root disk and writes the console to the serial port we log.
* The serial console is a pty, or a TCP server for the interactive
  console (virt/libvirt/console.py), whose output libvirt also appends to
  a log file, so console output survives agent and libvirtd restarts.
* CPU: host-model by default under KVM (near-host features, still
  migratable); nothing under plain QEMU, whose emulated CPU cannot be the
  host's, unless the operator configured a mode.
* SMBIOS system entries carry the instance uuid as serial and uuid, which
  is how cloud-init and friends identify the instance from inside.
"""
import datetime
import os
import string
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agent import exception
from virt.libvirt import config

if TYPE_CHECKING:
    from virt.driver import GuestSpec

DOMAIN_NAME_PREFIX = 'instance-'
MACHINE_TYPE = 'pc'
#: where a rescued guest finds its own root disk
RESCUED_ROOT_DEVICE = 'vdb'
ROOT_DEVICE = 'vda'
CONFIG_DRIVE_DEVICE = 'hdc'
DEFAULT_KERNEL_CMDLINE = 'root=/dev/vda console=tty0 console=ttyS0'
SMBIOS_MANUFACTURER = 'hvagent'
SMBIOS_PRODUCT = 'hvagent compute'
VOLUME_FORMATS = ('qcow2', 'raw')

#: virtio disks in the order they are handed out (vda is the root disk)
_VIRTIO_DEVICES = tuple('vd' + c for c in string.ascii_lowercase)


class InvalidVolume(exception.VolumeUnusable, ValueError):
    """connection_info this driver cannot attach. A VolumeUnusable, so the
    manager refuses the attach (fault, instance unchanged); it is raised and
    handled on the compute host and never needs to cross RPC."""


def domain_name(uuid: str) -> str:
    """The libvirt name of the guest of instance ``uuid``."""
    return DOMAIN_NAME_PREFIX + uuid


def cachemode_for(supports_direct_io: bool) -> str:
    """The cache mode for disks in a directory, given whether it accepts
    O_DIRECT (see the module docstring)."""
    return 'none' if supports_direct_io else 'writeback'


def domain_for(spec: 'GuestSpec', *, virt_type: str, disk_path: str,
               console_log_path: str, kernel_path: str | None = None,
               ramdisk_path: str | None = None,
               config_drive_path: str | None = None,
               cpu_mode: str | None = None,
               disk_cachemode: str | None = None,
               kernel_cmdline: str | None = None,
               created_at: datetime.datetime | None = None,
               serial_server: tuple[str, int] | None = None,
               vnc_listen: str | None = None
               ) -> config.Domain:
    """The config.Domain of the guest of ``spec`` (a virt.driver.GuestSpec).

    Paths are the files the driver prepared; ``disk_cachemode`` None leaves
    the hypervisor's default; ``created_at`` (a datetime, default now in
    UTC) is recorded in the metadata. ``serial_server`` (address, port)
    makes the serial port an interactive console's TCP server (else a
    pty); ``vnc_listen`` adds a VNC display on that address.
    """
    if ramdisk_path and not kernel_path:
        raise ValueError('a ramdisk needs a kernel (direct kernel boot)')
    devices: list[config.Device] = [config.Disk(
        source_path=disk_path, target_dev=ROOT_DEVICE, target_bus='virtio',
        driver_format='qcow2', driver_cache=disk_cachemode)]
    if config_drive_path:
        devices.append(config.Disk(
            source_path=config_drive_path, target_dev=CONFIG_DRIVE_DEVICE,
            target_bus='ide', device='cdrom', driver_format='raw',
            driver_cache=disk_cachemode, readonly=True))
    # NICs: libvirt makes each tap (named as the port's) on its bridge
    devices += [config.Interface(mac=nic['mac'], bridge=nic['bridge'],
                                 target_dev=nic.get('tap'),
                                 mtu=nic.get('mtu'))
                for nic in spec.networks]
    if serial_server:
        host, port = serial_server
        devices += [config.Serial(log_path=console_log_path, type='tcp',
                                  host=host, service=port),
                    config.Console(type='tcp', host=host, service=port)]
    else:
        devices += [config.Serial(log_path=console_log_path),
                    config.Console()]
    if vnc_listen:
        devices.append(config.Graphics(listen=vnc_listen))
    devices += [config.MemBalloon(), config.RNG()]
    if kernel_path:
        boot: dict[str, Any] = dict(
            kernel=kernel_path, initrd=ramdisk_path or None,
            cmdline=kernel_cmdline or DEFAULT_KERNEL_CMDLINE)
    else:
        boot = dict(boot_dev='hd')
    if virt_type == 'kvm':
        cpu_mode = cpu_mode or 'host-model'
    return config.Domain(
        name=domain_name(spec.uuid), uuid=spec.uuid, type=virt_type,
        memory_kib=spec.memory_mb * 1024, vcpus=spec.vcpus,
        os=config.OS(machine=MACHINE_TYPE, smbios_mode='sysinfo', **boot),
        cpu=config.CPU(mode=cpu_mode) if cpu_mode else None,
        metadata=_metadata(spec, created_at),
        sysinfo=config.SysInfo({'manufacturer': SMBIOS_MANUFACTURER,
                                'product': SMBIOS_PRODUCT,
                                'serial': spec.uuid, 'uuid': spec.uuid}),
        devices=devices)


def _metadata(spec: 'GuestSpec',
              created_at: datetime.datetime | None) -> config.Metadata:
    """The spec's names and ids; they come from users, and are only
    informational, so characters XML cannot carry become U+FFFD rather
    than failing the boot."""
    def clean(value: str | None) -> str | None:
        return None if value is None else config.NON_XML_CHARS.sub(
            '\ufffd', value)
    return config.Metadata(
        instance_uuid=spec.uuid, display_name=clean(spec.name),
        flavor=config.Flavor(name=clean(spec.flavor_name), vcpus=spec.vcpus,
                             memory_mb=spec.memory_mb, root_gb=spec.root_gb),
        user_id=clean(spec.user_id), project_id=clean(spec.project_id),
        created_at=created_at or datetime.datetime.now(datetime.timezone.utc)
        .replace(microsecond=0))


def volume_disk(volume_id: str, connection_info: object, target_dev: str,
                cachemode: str | None = None) -> config.Disk:
    """The config.Disk that hot-plugs a file-backed volume at
    ``target_dev``. ``connection_info`` is ``{'driver_volume_type': 'file',
    'path': <absolute path>, 'format': 'qcow2'|'raw'}``; anything else
    raises InvalidVolume. The format is never probed: a raw volume whose
    content looks like qcow2 must stay raw, or its writer could point a
    backing file at any host file. The serial (the first 20 characters of
    the volume id, what virtio-blk shows) lets the guest find the volume
    under /dev/disk/by-id whatever name the kernel gives it."""
    def invalid(reason: str) -> InvalidVolume:
        return InvalidVolume(volume_id=volume_id, reason=reason)

    info: dict[str, Any] = connection_info if isinstance(connection_info, dict) else {}
    kind = info.get('driver_volume_type')
    if kind != 'file':
        raise invalid('driver_volume_type %r is not supported (only '
                      "'file')" % (kind,))
    path = info.get('path')
    if (not isinstance(path, str) or not os.path.isabs(path) or
            config.NON_XML_CHARS.search(path)):
        raise invalid('path %r is not a usable absolute path' % (path,))
    fmt = info.get('format')
    if fmt not in VOLUME_FORMATS:
        raise invalid('format %r is not one of %s'
                      % (fmt, ', '.join(VOLUME_FORMATS)))
    return config.Disk(source_path=path,
                       target_dev=target_dev, target_bus='virtio',
                       driver_format=fmt, driver_cache=cachemode,
                       serial=volume_id[:20])


def next_device_name(used_names: Iterable[str]) -> str:
    """The first virtio disk name after the root disk that is not in
    ``used_names`` (vdb, vdc, ...); raise VirtDriverError when all are
    taken."""
    used = set(used_names)
    for name in _VIRTIO_DEVICES[1:]:
        if name not in used:
            return name
    raise exception.VirtDriverError(reason='no free virtio disk name left')
