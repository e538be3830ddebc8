"""The libvirt virt driver: KVM/QEMU guests on this host.

Everything a guest is made of lives in ``<instances_path>/<uuid>/``: the
root disk (a qcow2 overlay on the cached image), the config drive and the
console log. The domain's definition in libvirt, its ``<metadata>`` and
that directory are the whole state: the driver keeps nothing in memory, so
an agent restart or a libvirtd restart loses nothing.

Every operation looks the guest up by uuid through ``Host.call``, so a
libvirtd restart in the middle costs one retry, not a failed operation.
Spawn undoes everything it made when any step fails; destroy and detach are
no-ops for what is already gone (redelivered messages).
"""
import contextlib
import logging
import os
import shutil
import threading
import time
import xml.etree.ElementTree as ET

import libvirt
import psutil
from oslo_config import cfg

from agent import exception
from agent import locks
from agent.objects import states
from virt import driver
from virt import failpoints
from virt.libvirt import config
from virt.libvirt import configdrive
from virt.libvirt import console
from virt.libvirt import designer
from virt.libvirt import disk
from virt.libvirt import filemodes
from virt.libvirt import guest as guest_mod
from virt.libvirt import host as host_mod
from virt.libvirt import images
from virt.libvirt import lifecycle
from virt.libvirt import migration
from virt.libvirt import nics
from virt.libvirt import resize
from virt.libvirt import snapshot
from virt.libvirt import stats as stats_mod

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
GiB = 1 << 30
DETACH_TIMEOUT = 30
#: seconds a metrics scrape waits for the bulk stats of a slow libvirtd
STATS_TIMEOUT = 5
#: the Guest methods that change a domain: one at a time per domain
CHANGES = frozenset(('launch', 'reboot_hard', 'shutdown', 'destroy',
                     'pause', 'resume', 'save', 'block_resize',
                     'block_copy', 'block_job_abort',
                     'attach_device',
                     'detach_device',
                     'persist', 'undefine'))


class LibvirtDriver(migration.LiveMigrationMixin, resize.ColdMigrationMixin,
                    lifecycle.RescueSuspendMixin, snapshot.SnapshotMixin,
                    nics.NicMixin, driver.ComputeDriver):
    capabilities = {
        'supports_reboot': True,
        'supports_pause': True,
        'supports_suspend': True,
        'supports_rescue': True,
        'supports_snapshot': True,      # snapshot.py
        'supports_interface_attach': True,  # nics.py
        'supports_attach_volume': True,
        'supports_extend_volume': True,
        'supports_console_output': True,
        'supports_remote_console': True,
        'creates_vif_devices': True,
        'supports_live_migration': True,    # migration.py
        'supports_cold_migration': True,    # resize.py
    }

    def __init__(self, image_service=None):
        """``image_service``: driver.ImageService, where image ids are read
        (hvagent-compute passes hvagent-api's); None refuses them."""
        opts = CONF.libvirt
        self.virt_type = opts.virt_type
        self.instances_path = os.path.abspath(CONF.compute.instances_path)
        self.host = host_mod.Host(opts.connection_uri,
                                  event_callback=self._on_event,
                                  retry_seconds=opts.connection_retry_seconds,
                                  call_timeout=opts.call_timeout)
        self.modes = filemodes.Modes(opts.qemu_group)
        self.image_service = image_service
        self.images = images.ImageCache(
            opts.image_cache_path, opts.image_download_timeout,
            local_dirs=opts.allowed_image_dirs,
            api_url=image_service and image_service.url,
            api_ca_file=image_service and image_service.ca_file,
            url_allowlist=CONF.compute.image_url_allowlist,
            read_timeout=opts.image_read_timeout,
            max_bytes=opts.max_image_download_bytes, modes=self.modes)
        self.volume_dirs = [os.path.realpath(d)
                            for d in opts.allowed_volume_dirs]
        self._listener = None
        self._cachemode = None
        self._metadata = stats_mod.MetadataCache()
        self._changing = locks.LockTable()
        self._aborts_asked = set()      # migration.py
        self._ports_lock = threading.Lock()
        self._recent_ports = {}     # serial port -> when it was picked

    # ------------------------------------------------------------- host
    def init_host(self, host):
        for path in (self.instances_path, self.images.base_dir):
            self.modes.make_dir(path)
        self._cachemode = designer.cachemode_for(
            disk.supports_direct_io(self.instances_path))
        conn = self.host.get_connection()
        LOG.info('Connected to %s (libvirt %s, %s guests, disk cache %s)',
                 conn.getURI(), conn.getLibVersion(), self.virt_type,
                 self._cachemode)

    def cleanup_host(self):
        self.host.close()

    def register_event_listener(self, callback):
        self._listener = callback

    def _on_event(self, uuid, power_state):
        if self._listener is not None:
            self._listener(uuid, power_state)

    def get_host_resources(self):
        node = self.host.call(self.host.node_info)
        path = self.instances_path
        while not os.path.exists(path):      # before init_host made it
            path = os.path.dirname(path)
        usage = psutil.disk_usage(path)
        return driver.HostResources(
            hypervisor_type=self.virt_type.upper(), vcpus=node.cpus,
            memory_mb=node.memory_mb, local_gb=usage.total // GiB,
            free_disk_gb=usage.free // GiB)

    # ------------------------------------------------------------ guests
    def _guest(self, uuid):
        return self.host.call(self.host.lookup, uuid)

    def _do(self, uuid, method, *args, limit=None):
        """``Guest.<method>(*args)`` on a fresh lookup, retried once on a
        new connection if libvirtd restarted under it, bounded by
        ``[libvirt] call_timeout`` (or ``limit``).

        A change to a domain waits for the one before it, also for one
        whose caller gave up on a hung libvirtd and which goes on in its
        own thread (the manager's lock is long released then): two hard
        reboots never interleave. A change whose caller gave up while it
        waited is not made."""
        def run():
            if method not in CHANGES:
                return getattr(self.host.lookup(uuid), method)(*args)
            with self._changing.hold(uuid):
                if host_mod.given_up():
                    LOG.warning('%s of %s not made: its caller gave up '
                                'waiting for libvirtd', method, uuid)
                    return None
                return getattr(self.host.lookup(uuid), method)(*args)
        run.__name__ = method
        return self.host.call(run, limit=limit)

    def _dir(self, uuid, *parts):
        return os.path.join(self.instances_path, uuid, *parts)

    def spawn(self, spec):
        try:
            self._guest(spec.uuid)
        except exception.GuestNotFound:
            pass
        else:
            raise exception.InstanceExists(instance=spec.uuid)
        try:
            domain = self._prepare(spec)
            guest = self.host.call(self.host.define, domain.to_xml())
            failpoints.hit('libvirt.spawn.defined')
            self._do(spec.uuid, 'launch')
            LOG.info('Spawned %s as %s', spec.uuid, guest.name)
        except BaseException:
            # no guest existed: whatever is in its directory is this try's
            with contextlib.suppress(Exception):
                self._remove_domain(spec.uuid)
            shutil.rmtree(self._dir(spec.uuid), ignore_errors=True)
            raise

    def _prepare(self, spec):
        """Make the guest's files (_guest_files); return its Domain."""
        return self._domain_of(spec, *self._guest_files(spec))

    def _domain_of(self, spec, root, kernel, ramdisk, cd_path):
        """The Domain of ``spec`` on the files given."""
        listen = CONF.console.listen
        return designer.domain_for(
            spec, virt_type=self.virt_type, disk_path=root,
            console_log_path=self._dir(spec.uuid, 'console.log'),
            kernel_path=kernel or None, ramdisk_path=ramdisk or None,
            config_drive_path=cd_path, cpu_mode=CONF.libvirt.cpu_mode,
            disk_cachemode=self._cachemode,
            serial_server=(listen, self._serial_port(listen))
            if CONF.console.serial_enabled else None,
            vnc_listen=listen if CONF.console.vnc_enabled else None)

    def _serial_port(self, address):
        """A free port for a new guest's serial server (console.py); the
        ports picked in the last minute count as taken, so two guests
        prepared at once never share one."""
        with self._ports_lock:
            now = time.monotonic()
            recent = self._recent_ports
            for port in [p for p, t in recent.items() if now - t > 60]:
                del recent[port]
            taken = console.ports_in_use(self.host.call(self._all_xml))
            port = console.pick_serial_port(
                address, console.parse_range(CONF.console.serial_port_range),
                taken | set(recent))
            recent[port] = now
            return port

    def _guest_files(self, spec):
        """Fetch and vet the images (_images), then make the guest's
        files: its directory, the root overlay on the cached base (or a
        blank disk) and the config drive; return (root, kernel, ramdisk,
        config drive or None). Files there already are replaced (renamed
        over: an incoming guest's, see prepare_incoming; spawn never finds
        any)."""
        size = spec.root_gb * GiB
        base, info, kernel, ramdisk = self._images(spec)
        self._make_instance_dir(spec.uuid)
        root = self._dir(spec.uuid, 'disk')
        if base:
            disk.create_overlay(base, info['format'], root, size or None)
        else:
            disk.create_blank(root, 'qcow2', size or disk.BLANK_ROOT_BYTES)
        self.modes.shared(root)
        return root, kernel, ramdisk, self._config_drive(spec)

    def _images(self, spec):
        """The cached images of ``spec``: (root base or None, its
        image_info, kernel, ramdisk). An image whose virtual size exceeds the flavor's
        root disk is refused before anything of the guest is made (a qcow2
        of 1 PiB on an m1.tiny would otherwise become its disk)."""
        size = spec.root_gb * GiB
        base = info = None
        if spec.image_ref:
            base = self.images.fetch(spec.image_ref, grant=spec.image_grant)
            info = self.images.image_info(base)
            if size and info['virtual_size'] > size:
                raise exception.ImageTooLarge(
                    image=spec.image_ref, size=_gib(info['virtual_size']),
                    root_gb=spec.root_gb)
        kernel, ramdisk = (
            ref and self.images.fetch(ref, grant=spec.image_grant)
            for ref in (spec.kernel_ref, spec.ramdisk_ref))
        return base, info, kernel, ramdisk

    def _make_instance_dir(self, uuid):
        with disk.space_errors(self._dir(uuid),
                               'creating the instance directory'):
            self.modes.make_dir(self._dir(uuid))

    def _config_drive(self, spec):
        """Write the config drive of ``spec`` if it has one; its path."""
        if not (spec.config_drive or CONF.libvirt.force_config_drive):
            return None
        cd_path = self._dir(spec.uuid, 'disk.config')
        with disk.space_errors(cd_path, 'writing the config drive'):
            configdrive.build(
                cd_path, uuid=spec.uuid, name=spec.name,
                project_id=spec.project_id,
                public_keys={spec.key_name or 'default': spec.public_key}
                if spec.public_key else None,
                user_data=spec.user_data, meta=dict(spec.metadata))
        return cd_path

    def _remove_domain(self, uuid):
        """Destroy and undefine; False if there was no domain."""
        try:
            guest = self.host.lookup(uuid)
        except exception.GuestNotFound:
            return False
        guest.destroy()
        guest.undefine()
        return True

    def destroy(self, uuid):
        existed = self.host.call(self._remove_domain, uuid)
        self.host.call(self._withdraw, uuid)     # a resize's offer
        shutil.rmtree(self._dir(uuid), ignore_errors=True)
        if existed:
            LOG.info('Destroyed the guest of %s and its files', uuid)

    def reboot(self, uuid, reboot_type):
        if reboot_type == 'SOFT':
            if self.get_info(uuid).power_state == states.PAUSED_POWER:
                LOG.info('Guest of %s is paused and cannot take an ACPI '
                         'shutdown; rebooting it hard', uuid)
            elif self._shutdown(uuid, CONF.libvirt.reboot_timeout):
                self._do(uuid, 'launch')
                return
            else:
                LOG.warning('Guest of %s ignored the ACPI shutdown for %ss; '
                            'rebooting it hard', uuid,
                            CONF.libvirt.reboot_timeout)
        self._do(uuid, 'reboot_hard')

    def _shutdown(self, uuid, timeout):
        """ACPI shutdown; True once the guest is off within ``timeout``."""
        if not self._do(uuid, 'is_active'):
            return True
        if timeout <= 0:
            return False
        self._do(uuid, 'shutdown')
        return self._do(uuid, 'wait_until_off', timeout,
                        limit=self.host.call_timeout and
                        timeout + self.host.call_timeout)

    def power_off(self, uuid, timeout=0):
        if not self._shutdown(uuid, timeout):
            self._do(uuid, 'destroy')

    def power_on(self, uuid):
        if not self._do(uuid, 'is_active'):
            self._do(uuid, 'launch')

    def pause(self, uuid):
        self._do(uuid, 'pause')

    def unpause(self, uuid):
        self._do(uuid, 'resume')

    def get_info(self, uuid):
        return self._do(uuid, 'info')

    def list_guests(self):
        return [g.uuid for g in self.host.call(self.host.list_guests)
                if g.name.startswith(designer.DOMAIN_NAME_PREFIX)]

    def list_guest_infos(self):
        """Every guest's GuestInfo from one bulk stats call."""
        stats = self.host.call(
            self.host.all_domain_stats,
            libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU |
            libvirt.VIR_DOMAIN_STATS_BALLOON |
            libvirt.VIR_DOMAIN_STATS_CPU_TOTAL)
        return [_info_from_stats(g.uuid, s) for g, s in stats
                if g.name.startswith(designer.DOMAIN_NAME_PREFIX)]

    def get_guest_stats(self):
        """Every guest's GuestStats from one bulk stats call (names and
        projects from a cache of the domains' metadata); never reconnects,
        see ComputeDriver.get_guest_stats."""
        conn = self.host.open_connection()
        if conn is None:
            raise exception.HypervisorUnavailable(
                uri=self.host.uri, reason='not connected')
        # a scrape must answer before Prometheus gives up on it
        return host_mod.bounded(STATS_TIMEOUT, self.host.uri,
                                self._guest_stats, conn)

    def _guest_stats(self, conn):
        try:
            raw = [(d.UUIDString(), d, s) for d, s in
                   conn.getAllDomainStats(stats_mod.GROUPS)
                   if d.name().startswith(designer.DOMAIN_NAME_PREFIX)]
        except libvirt.libvirtError as e:
            raise exception.HypervisorUnavailable(uri=self.host.uri,
                                                  reason=e) from None
        meta = self._metadata.resolve([(u, d) for u, d, _s in raw])
        return [stats_mod.guest_stats(u, *meta[u], s) for u, _d, s in raw]

    # ----------------------------------------------------------- volumes
    def _domain(self, uuid):
        return config.Domain.from_xml(self._do(uuid, 'xml'))

    def _checked_volume(self, volume_id, connection_info):
        """``connection_info`` with its path resolved; InvalidVolume if it
        lies outside ``allowed_volume_dirs`` (other faults of the path are
        designer.volume_disk's to report)."""
        info = dict(connection_info)
        path = info.get('path')
        if isinstance(path, str) and os.path.isabs(path):
            real = images.resolve_inside(path, self.volume_dirs)
            if real is None:
                raise designer.InvalidVolume(
                    volume_id=volume_id, reason='path %r is outside the '
                    'allowed volume directories (%s)' % (
                        path, ', '.join(self.volume_dirs) or 'none'))
            info['path'] = real
        return info

    def attach_volume(self, uuid, volume_id, connection_info, device_name):
        connection_info = self._checked_volume(volume_id, connection_info)
        disks = self._domain(uuid).disks
        serial = volume_id[:20]
        for d in disks:
            if d.serial == serial:
                return d.target_dev        # attached already (redelivery)
        dev = device_name or designer.next_device_name(
            [d.target_dev for d in disks])
        xml = designer.volume_disk(volume_id, connection_info, dev,
                                   cachemode=self._cachemode).to_xml()
        self._do(uuid, 'attach_device', xml)
        LOG.info('Attached volume %s to %s as %s', volume_id, uuid, dev)
        return dev

    def detach_volume(self, uuid, volume_id):
        serial = volume_id[:20]
        found = [d for d in self._domain(uuid).disks if d.serial == serial]
        if not found:
            return
        xml = found[0].to_xml()
        self._do(uuid, 'detach_device', xml)
        self._wait_released(uuid, lambda dom: any(
            d.serial == serial for d in dom.disks), 'volume %s' % volume_id)
        LOG.info('Detached volume %s from %s', volume_id, uuid)

    def _wait_released(self, uuid, held, what):
        """Wait until ``held(domain config)`` is false: a live detach only
        asks the guest; VirtDriverError naming ``what`` after
        DETACH_TIMEOUT seconds."""
        deadline = time.monotonic() + DETACH_TIMEOUT
        while held(self._domain(uuid)):
            if time.monotonic() > deadline:
                raise exception.VirtDriverError(
                    reason='the guest of %s did not release %s within %ss'
                    % (uuid, what, DETACH_TIMEOUT))
            time.sleep(0.2)

    # ----------------------------------------------------------- console
    def extend_volume(self, uuid, volume_id, size_bytes):
        serial = volume_id[:20]
        dev = next((d.target_dev for d in self._domain(uuid).disks
                    if d.serial == serial), None)
        if dev is None:
            raise exception.VolumeExtendFailed(
                volume_id=volume_id, instance=uuid,
                reason='it is not attached to the guest')
        try:
            self._do(uuid, 'block_resize', dev, size_bytes)
        except libvirt.libvirtError as e:
            raise exception.VolumeExtendFailed(
                volume_id=volume_id, instance=uuid,
                reason=e.get_error_message()) from None
        LOG.info('Volume %s of %s (%s) grown to %d bytes', volume_id, uuid,
                 dev, size_bytes)

    def get_console_output(self, uuid, max_bytes):
        path = self._domain(uuid).console_log_path or \
            self._dir(uuid, 'console.log')
        try:
            with open(path, 'rb') as f:
                f.seek(max(os.fstat(f.fileno()).st_size - max_bytes, 0))
                data = f.read(max_bytes)
        except FileNotFoundError:
            return ''
        return _tail_text(data, max_bytes)

    def _all_xml(self):
        """The XML of every domain here (one gone meanwhile is left out)."""
        found = []
        for guest in self.host.list_guests():
            with contextlib.suppress(libvirt.libvirtError):
                found.append(guest.xml())
        return found

    def get_console(self, uuid, protocol):
        return console.endpoint(
            config.Domain.from_xml(self._do(uuid, 'xml')), protocol,
            CONF.console.proxyclient_address)

    # ------------------------------------------------------- image cache
    def manage_image_cache(self):
        """Remove cached images no guest of this host has used for
        ``remove_unused_base_images_age`` seconds; return their paths."""
        in_use = set()
        for uuid in self.list_guests():
            with contextlib.suppress(exception.GuestNotFound):
                root = ET.fromstring(self._do(uuid, 'xml'))
                in_use.update(p for p in (root.findtext('os/kernel'),
                                          root.findtext('os/initrd')) if p)
            with contextlib.suppress(exception.VirtDriverError, OSError):
                backing = disk.info(self._dir(uuid, 'disk')).get(
                    'full-backing-filename')
                if backing:
                    in_use.add(backing)
        return self.images.cleanup(
            in_use, CONF.libvirt.remove_unused_base_images_age)


def _gib(size):
    """``size`` bytes in GiB, to two decimals at most: '1048576', '1.5'."""
    return ('%.2f' % (size / GiB)).rstrip('0').rstrip('.')


def _tail_text(data, max_bytes):
    """The text of ``data`` (the last ``max_bytes`` bytes of a log) that is
    at most ``max_bytes`` long in UTF-8: the continuation bytes of a
    character cut at the start are dropped (not turned into U+FFFD), and if
    replacing invalid bytes made it longer, the front is cut again, at a
    character boundary."""
    skip = 0
    while skip < min(len(data), 3) and 0x80 <= data[skip] < 0xC0:
        skip += 1
    text = data[skip:].decode('utf-8', errors='replace')
    encoded = text.encode('utf-8')
    if len(encoded) > max_bytes:
        text = encoded[-max_bytes:].decode('utf-8', errors='ignore')
    return text


def _info_from_stats(uuid, stats):
    return driver.GuestInfo(
        uuid=uuid, power_state=guest_mod.power_state(stats.get('state.state')),
        vcpus=stats.get('vcpu.maximum', stats.get('vcpu.current', 0)),
        memory_mb=stats.get('balloon.maximum', 0) // 1024,
        cpu_time_ns=stats.get('cpu.time', 0))
