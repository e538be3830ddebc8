"""LibvirtDriver's rescue and suspend (mixed in; it uses the driver's
_do, _dir, _images, _domain_of, host, modes and _cachemode).

* rescue: a new disk from the rescue image (disk.rescue in the
  instance's directory) becomes the root disk, the guest's own disk the
  second (vdb), the config drive stays; the domain is defined anew in
  its place and started. unrescue defines the guest's own domain again
  (regenerated, as a spawn makes it) and removes disk.rescue.
* suspend: libvirt's managed save (memory and device state into
  libvirt's save directory, the domain shut off); resume: the next
  start restores it.
"""
import contextlib
import logging
import os

import libvirt

from agent import exception
from virt.libvirt import config
from virt.libvirt import designer
from virt.libvirt import disk

LOG = logging.getLogger(__name__)


class RescueSuspendMixin:
    def rescue(self, spec, rescue_spec):
        base, info, kernel, ramdisk = self._images(rescue_spec)
        rescue_root = self._dir(spec.uuid, 'disk.rescue')
        if base:
            disk.create_overlay(base, info['format'], rescue_root)
        else:
            disk.create_blank(rescue_root, 'qcow2', disk.BLANK_ROOT_BYTES)
        self.modes.shared(rescue_root)
        domain = self._domain_of(rescue_spec, rescue_root, kernel, ramdisk,
                                 self._existing_config_drive(spec.uuid))
        domain.devices.insert(1, config.Disk(
            source_path=self._dir(spec.uuid, 'disk'),
            target_dev=designer.RESCUED_ROOT_DEVICE, target_bus='virtio',
            driver_format='qcow2', driver_cache=self._cachemode))
        self._relaunch(spec.uuid, domain)
        LOG.info('Rescued %s: booted from %s, its own disk as %s',
                 spec.uuid, rescue_spec.image_ref,
                 designer.RESCUED_ROOT_DEVICE)

    def unrescue(self, spec):
        _base, _info, kernel, ramdisk = self._images(spec)
        self._relaunch(spec.uuid, self._domain_of(
            spec, self._dir(spec.uuid, 'disk'), kernel, ramdisk,
            self._existing_config_drive(spec.uuid)))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._dir(spec.uuid, 'disk.rescue'))
        LOG.info('Unrescued %s: booted from its own disk', spec.uuid)

    def _existing_config_drive(self, uuid):
        path = self._dir(uuid, 'disk.config')
        return path if os.path.exists(path) else None

    def _relaunch(self, uuid, domain):
        """Power the guest off, define ``domain`` in its place, start it."""
        self._do(uuid, 'destroy')
        self.host.call(self.host.define, domain.to_xml())
        self._do(uuid, 'launch')

    def suspend(self, uuid):
        if self._do(uuid, 'is_active'):
            try:
                self._do(uuid, 'save', limit=self._save_limit(uuid))
            except libvirt.libvirtError as e:
                if not self._do(uuid, 'is_active'):
                    raise
                # QEMU could not write it (a full disk...): runs on
                raise exception.SuspendFailed(
                    instance=uuid, reason=e.get_error_message()) from None
        elif not self._do(uuid, 'has_saved_state'):
            raise exception.VirtDriverError(
                reason='guest %s is shut off with no saved state: it '
                'cannot be suspended' % uuid)

    def resume(self, uuid):
        if self._do(uuid, 'is_active'):
            return
        if not self._do(uuid, 'has_saved_state'):
            raise exception.VirtDriverError(
                reason='guest %s has no saved state to resume' % uuid)
        self._do(uuid, 'launch', limit=self._save_limit(uuid))

    def _save_limit(self, uuid):
        """How long a save or restore may take: the call timeout plus a
        second per 100 MiB of the guest's memory (disk speed)."""
        if not self.host.call_timeout:
            return None
        return self.host.call_timeout + self.get_info(uuid).memory_mb / 100

