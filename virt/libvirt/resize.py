"""Resize and cold migration of libvirt guests (the driver's half of
agent.compute.resize).

The source stops the guest and *offers* its root overlay: a transient
libvirt ``dir`` storage pool, ``hvagent-resize-<uuid>``, over the guest's
directory on the source's own libvirtd. The destination's agent reads the
overlay from there through libvirt (``virStorageVolDownload``), at the
source's hypervisor address the source reported and the conductor checked,
turned into a URI by the destination's own ``[migration] peer_uri``
template (the way the two hosts' libvirtds already reach each other for a
live migration; no URI is ever taken from the bus). Nothing new listens on
either host and no agent writes into the other's disk.

What arrives is the source's and is not trusted: the download is cut at
the size the flavor allows (with the qcow2 metadata), and the file is kept
only if ``qemu-img info -f qcow2`` shows a qcow2 within the size and with no
external data file. Whatever backing file its header names is replaced by
the destination's own cached copy of the instance's image (``rebase -u``:
the header is rewritten, no file it named is ever opened), so a hostile
source cannot point the guest at another file of the destination. The disk
then grows to the new flavor, the config drive is made afresh and the
domain is defined with the new flavor.

The source keeps the guest (stopped) and its files until the resize is
confirmed (``destroy``) or reverted (``finish_revert_migration``): both
withdraw the offer. On a revert the source's domain, never changed, runs
again. Instances on shared storage are refused for now (both hosts would
write the one directory).
"""
import logging
import os
import time
import xml.etree.ElementTree as ET

import libvirt
from oslo_config import cfg

from agent import exception
from virt import failpoints
from virt.libvirt import disk
from virt.libvirt import migration

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

POOL_PREFIX = 'hvagent-resize-'
#: the volume (file) of the guest's directory that is offered and read
ROOT_VOLUME = 'disk'
#: what a qcow2 may add to its virtual size (tables, refcounts, header)
QCOW2_SLACK = 16 << 20
GiB = 1 << 30
#: seconds between libvirt keepalives while reading from the source
_KEEPALIVE = (5, 3)


# ------------------------------------------------------------ pure parts
def pool_name(uuid):
    """The offer's pool name for a (checked) instance uuid."""
    return POOL_PREFIX + migration.checked_uuid(uuid)


def pool_xml(name, path):
    """A transient ``dir`` pool named ``name`` over directory ``path``."""
    pool = ET.Element('pool', type='dir')
    ET.SubElement(pool, 'name').text = name
    ET.SubElement(ET.SubElement(pool, 'target'), 'path').text = path
    return ET.tostring(pool, encoding='unicode')


def largest_disk(root_gb, base_bytes, blank_bytes):
    """The most virtual bytes a resized root disk may have: the flavor's
    root disk, or the image's size where that is larger (an overlay never
    shrinks the image), or the blank disk's without either."""
    return max(root_gb * GiB, base_bytes or 0) or blank_bytes


def download_limit(largest):
    """How many bytes of qcow2 the destination reads at most."""
    return largest + largest // 512 + QCOW2_SLACK


def refusal(info, largest, backed):
    """Why a received disk (its ``qemu-img info``) is refused, or None;
    ``backed``: the guest's disk is an overlay on its image (whose name
    in the header is replaced), else it may name no backing file."""
    data = info.get('format-specific', {}).get('data', {})
    size = info.get('virtual-size') or 0
    if info.get('format') != 'qcow2':
        return 'it is not a qcow2 (%s)' % info.get('format')
    if data.get('data-file'):
        return 'it names an external data file'
    if not backed and info.get('backing-filename'):
        return 'it names a backing file and the guest has no image'
    if info.get('snapshots'):
        return 'it holds internal snapshots'
    if not 0 < size <= largest:
        return 'its size (%d bytes) is not within the flavor\'s %d' % (
            size, largest)
    return None


class ColdMigrationMixin:
    """The ComputeDriver resize methods of LibvirtDriver. Uses the
    driver's ``host``, ``modes``, ``_guest``, ``_dir``, ``_images``,
    ``_make_instance_dir``, ``_config_drive``, ``_domain_of``,
    ``power_off``, ``power_on`` and ``incoming_target``; ``destroy``
    calls ``_withdraw``."""

    # ------------------------------------------------------------ source
    def migrate_disk_and_power_off(self, uuid, dest_host, timeout=0):
        """Stop the guest and offer its disk; return this host's
        hypervisor address (where the destination reads it)."""
        uuid = migration.checked_uuid(uuid)
        if CONF.libvirt.instances_shared_storage:
            raise exception.ColdMigrationFailed(
                instance=uuid, reason='instances on shared storage cannot '
                'be resized or cold-migrated yet')
        address = self.incoming_target().address
        self.power_off(uuid, timeout)
        self.host.call(self._offer, uuid)
        failpoints.hit('libvirt.resize.offered')
        LOG.info('Stopped %s and offered its disk to %s', uuid, dest_host)
        return address

    def _offer(self, uuid):
        conn = self.host.get_connection()
        try:
            pool = conn.storagePoolLookupByName(pool_name(uuid))
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            conn.storagePoolCreateXML(pool_xml(pool_name(uuid),
                                               self._dir(uuid)), 0)
        else:   # a repeated step (an agent restart): the offer stands
            if not pool.isActive():
                pool.create(0)

    def withdraw_disk(self, uuid):
        self.host.call(self._withdraw, migration.checked_uuid(uuid))

    def _withdraw(self, uuid):
        conn = self.host.get_connection()
        try:
            pool = conn.storagePoolLookupByName(pool_name(uuid))
            if pool.isActive():
                pool.destroy()      # transient: gone with it
            else:
                pool.undefine()
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            return
        LOG.info('Withdrew the offer of the disk of %s', uuid)

    def finish_revert_migration(self, spec, power_on):
        """The guest kept here (its domain never changed: the old
        flavor) runs again if it ran; the offer ends."""
        self.withdraw_disk(spec.uuid)
        if power_on:
            self.power_on(spec.uuid)
        LOG.info('Reverted the resize of %s here', spec.uuid)

    # ------------------------------------------------------- destination
    def finish_migration(self, spec, power_on, source_uri=None):
        """Read the offered disk from ``source_uri`` (the source's
        hypervisor as this host reaches it), vet it, make the guest of
        ``spec`` on it and start it if ``power_on``. A guest of ``spec``
        here already (a redelivered step) is only started if due."""
        uuid = migration.checked_uuid(spec.uuid)
        try:
            self._guest(uuid)
        except exception.GuestNotFound:
            self._make_resized(spec, source_uri)
        if power_on:
            self.power_on(uuid)

    def _make_resized(self, spec, source_uri):
        if not source_uri:
            raise exception.ColdMigrationFailed(
                instance=spec.uuid, reason='the source did not say where '
                'its disk can be read')
        base, info, kernel, ramdisk = self._images(spec)
        largest = largest_disk(spec.root_gb, info and info['virtual_size'],
                               disk.BLANK_ROOT_BYTES)
        self._make_instance_dir(spec.uuid)
        root = self._dir(spec.uuid, 'disk')
        part = root + '.part'
        try:
            self._receive(spec.uuid, source_uri, part,
                          download_limit(largest))
            self._vet(spec.uuid, part, largest, backed=bool(base))
            if base:
                disk.rebase_unsafe(part, base, info['format'])
            disk.resize(part, largest, 'qcow2')
            os.replace(part, root)
        finally:
            if os.path.exists(part):
                os.unlink(part)
        failpoints.hit('libvirt.resize.received')
        self.modes.shared(root)
        domain = self._domain_of(spec, root, kernel, ramdisk,
                                 self._config_drive(spec))
        self.host.call(self.host.define, domain.to_xml())
        LOG.info('Made the resized guest of %s (flavor %s)', spec.uuid,
                 spec.flavor_name)

    def _vet(self, uuid, path, largest, backed):
        try:
            info = disk.info(path, 'qcow2')
        except exception.VirtDriverError as e:
            info = {'format': 'unreadable: %s' % exception.text(e)}
        reason = refusal(info, largest, backed)
        if reason:
            raise exception.ColdMigrationFailed(
                instance=uuid, reason='the disk the source sent is refused: '
                + reason)

    def _receive(self, uuid, source_uri, path, limit):
        """Copy the offered overlay from the source's libvirtd into
        ``path``, at most ``limit`` bytes, within the image download
        timeout."""
        started = time.monotonic()
        deadline = started + CONF.libvirt.image_download_timeout
        try:
            conn = libvirt.open(source_uri)
        except libvirt.libvirtError as e:
            raise exception.ColdMigrationFailed(
                instance=uuid, reason='cannot reach the source\'s '
                'hypervisor: %s' % migration.reason_of(e)) from None
        received = 0

        def sink(_stream, data, out):
            nonlocal received
            received += len(data)
            if received > limit:
                raise exception.ColdMigrationFailed(
                    instance=uuid, reason='the source sent more than the '
                    'flavor\'s disk can hold (%d bytes)' % limit)
            if time.monotonic() > deadline:
                raise exception.ColdMigrationFailed(
                    instance=uuid, reason='the disk took longer than %ss '
                    'to arrive' % CONF.libvirt.image_download_timeout)
            return out.write(data)
        try:
            conn.setKeepAlive(*_KEEPALIVE)
            pool = conn.storagePoolLookupByName(pool_name(uuid))
            pool.refresh(0)
            vol = pool.storageVolLookupByName(ROOT_VOLUME)
            stream = conn.newStream(0)
            vol.download(stream, 0, 0, 0)
            with disk.space_errors(path, 'receiving the resized disk'), \
                    open(path, 'wb') as out:
                stream.recvAll(sink, out)
            stream.finish()
        except libvirt.libvirtError as e:
            raise exception.ColdMigrationFailed(
                instance=uuid, reason='reading the disk from the source: '
                '%s' % migration.reason_of(e)) from None
        finally:
            conn.close()
        LOG.info('Received the disk of %s: %d bytes in %.1f s', uuid,
                 received, time.monotonic() - started)
