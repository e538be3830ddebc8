"""LibvirtDriver's snapshot (mixed in; it uses the driver's _do, _dir,
image_service and instances_path): the guest's root disk, as it is at one
moment, into a standalone qcow2 file in the instance's directory
(``snapshot.qcow2``), uploaded to hvagent-api as the snapshot's image and
removed.

* A guest that runs (or is paused): libvirt's block copy mirrors the
  disk with its whole backing chain into the new file while the guest
  runs on; once the copy is in step with the disk the job is ended
  without switching to it, which leaves the copy complete as of that
  moment (crash-consistent: what a power cut would have left; the guest
  is never paused).
* A guest that does not run (stopped, suspended): ``qemu-img convert``
  of the disk, which nothing writes meanwhile.

Before the copy, the free space of the instances' filesystem is checked
against what the copy needs (``qemu-img measure``): a full host is a
readable refusal, not a half-written file. Every failure removes the
copy and leaves the guest as it was.
"""
import contextlib
import logging
import os
import time
from xml.etree import ElementTree as ET

import libvirt
import psutil
from oslo_config import cfg

from agent import exception
from virt import failpoints
from virt import image_upload
from virt.libvirt import designer
from virt.libvirt import disk

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
#: the copy's name in the instance's directory
COPY_NAME = 'snapshot.qcow2'
#: how often a block copy's progress is read
POLL_SECONDS = 0.05


def copy_xml(path: str) -> str:
    """libvirt's description of a block copy's new qcow2 file."""
    root = ET.Element('disk', type='file')
    ET.SubElement(root, 'source', file=path)
    ET.SubElement(root, 'driver', name='qemu', type='qcow2')
    return ET.tostring(root, encoding='unicode')


class SnapshotMixin:
    def snapshot(self, uuid, target):
        if self.image_service is None:
            raise exception.SnapshotFailed(
                instance=uuid, reason='this host has no image service to '
                'upload to ([api] public_url)')
        root, copy = self._dir(uuid, 'disk'), self._dir(uuid, COPY_NAME)
        self._drop_leftovers(uuid, copy)
        try:
            self._check_room(uuid, root)
            started = time.monotonic()
            if self._do(uuid, 'is_active'):
                self._live_copy(uuid, copy)
            else:
                with disk.space_errors(copy, 'the snapshot copy'):
                    disk.convert(root, copy)
            copied = time.monotonic()
            image_upload.upload(
                self.image_service.url, self.image_service.ca_file, uuid,
                target.image_id, target.grant, copy,
                timeout=CONF.libvirt.image_read_timeout)
            LOG.info('Snapshot of %s uploaded as image %s (%d bytes; copy '
                     '%.2f s, upload %.2f s)', uuid, target.image_id,
                     os.path.getsize(copy), copied - started,
                     time.monotonic() - copied)
        except (exception.VirtDriverError, libvirt.libvirtError) as e:
            if isinstance(e, exception.SnapshotFailed):
                raise
            raise exception.SnapshotFailed(instance=uuid, reason=(
                e.get_error_message() if isinstance(e, libvirt.libvirtError)
                else exception.text(e))) from None
        finally:
            _remove(copy)

    def _drop_leftovers(self, uuid, copy):
        """What a snapshot interrupted by a killed agent left: its copy
        job (QEMU goes on mirroring without the agent) and its file."""
        if self._do(uuid, 'is_active') and \
                self._do(uuid, 'block_job', designer.ROOT_DEVICE):
            LOG.info('Snapshot of %s: ending the copy an earlier attempt '
                     'left', uuid)
            self._do(uuid, 'block_job_abort', designer.ROOT_DEVICE)
        _remove(copy)

    def _check_room(self, uuid, root):
        needed = disk.measure(root)
        free = psutil.disk_usage(self._dir(uuid)).free
        if needed > free:
            raise exception.SnapshotFailed(
                instance=uuid, reason='the copy of its root disk needs %d '
                'MiB and this host has %d MiB free'
                % (needed >> 20, free >> 20))

    def _live_copy(self, uuid, copy):
        """Mirror the running guest's root disk into ``copy`` until it
        is in step, then end the mirror (the copy is complete)."""
        dev = designer.ROOT_DEVICE
        self._do(uuid, 'block_copy', dev, copy_xml(copy))
        try:
            failpoints.hit('libvirt_snapshot.copying')
            self._wait_in_step(uuid, dev)
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                self._do(uuid, 'block_job_abort', dev)
            raise
        self._do(uuid, 'block_job_abort', dev)

    def _wait_in_step(self, uuid, dev):
        deadline = time.monotonic() + CONF.libvirt.snapshot_copy_timeout
        while True:
            job = self._do(uuid, 'block_job', dev)
            if not job:
                raise exception.SnapshotFailed(
                    instance=uuid, reason='the copy of its root disk '
                    'stopped before it was complete (the host\'s log of '
                    'the guest says why)')
            # libvirt reports cur == end only once the mirror is ready
            if job['end'] and job['cur'] == job['end']:
                return
            if time.monotonic() > deadline:
                raise exception.SnapshotFailed(
                    instance=uuid, reason='the copy of its root disk did '
                    'not catch up in %ss ([libvirt] snapshot_copy_timeout)'
                    % CONF.libvirt.snapshot_copy_timeout)
            time.sleep(POLL_SECONDS)


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
