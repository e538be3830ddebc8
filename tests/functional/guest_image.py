"""The hvagent test guest, shared by the functional tests that boot guests.

``ensure_image()`` runs ``tools/build-test-image`` (a fraction of a second
when the cached image is valid, ~15 s from scratch) and returns the paths to
boot it by direct kernel boot::

    img = guest_image.ensure_image()
    # <kernel>img['kernel']</kernel> <initrd>img['ramdisk']</initrd>
    # <cmdline>guest_image.CMDLINE</cmdline>, img['disk'] as overlay base

The guest prints ``BANNER + uuid`` once per boot on its serial console (uuid
from a ``config-2`` config drive, else ``hvagent.uuid=`` on the cmdline, else
the SMBIOS uuid, which libvirt sets to the domain's), then every second a
``DISKS`` line listing its block devices, and powers off on an ACPI power
button press (``virsh shutdown``, QEMU ``system_powerdown``) once booted.

The image lives in ``$HVAGENT_TEST_IMAGE_DIR`` (default
``/var/cache/hvagent/test-image``); for libvirt, whose qemu runs as
libvirt-qemu, that directory and all its parents must be world-traversable.
"""
import io
import json
import os
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILDER = REPO / 'tools' / 'build-test-image'
DEFAULT_DIR = '/var/cache/hvagent/test-image'
CMDLINE = 'console=ttyS0'
BANNER = 'hvagent-test-guest booted uuid='
DISKS = 'hvagent-test-guest disks:'
BUILD_TIMEOUT = 600

_BANNER_RE = re.compile(re.escape(BANNER) + r'(\S+)')
_DISKS_RE = re.compile(re.escape(DISKS) + r'(.*)')
_image = None


def image_dir():
    return pathlib.Path(os.environ.get('HVAGENT_TEST_IMAGE_DIR')
                        or DEFAULT_DIR)


def ensure_image() -> dict:
    """Build (or reuse) the test guest; skip the calling test if we can't.

    Returns ``{'kernel': ..., 'ramdisk': ..., 'disk': ...}`` (absolute
    paths: vmlinuz, initrd.img and the qcow2 root disk base).
    """
    global _image
    if _image is None:
        try:
            proc = subprocess.run([str(BUILDER)], capture_output=True,
                                  text=True, timeout=BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip('cannot build the test guest image: %s' % exc)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            pytest.skip('tools/build-test-image failed (exit %d): %s'
                        % (proc.returncode, ' | '.join(tail)))
        d = image_dir().resolve()
        _image = {'kernel': str(d / 'vmlinuz'),
                  'ramdisk': str(d / 'initrd.img'),
                  'disk': str(d / 'disk.qcow2')}
    return dict(_image)


def make_config_drive(path, uuid, **meta_data):
    """Write a minimal ISO9660 ``config-2`` drive whose
    openstack/latest/meta_data.json holds ``uuid`` (and ``meta_data``)."""
    import pycdlib

    data = json.dumps(dict(meta_data, uuid=uuid)).encode()
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident='config-2', joliet=3,
            rock_ridge='1.09')
    iso.add_directory('/OPENSTAC', rr_name='openstack',
                      joliet_path='/openstack')
    iso.add_directory('/OPENSTAC/LATEST', rr_name='latest',
                      joliet_path='/openstack/latest')
    iso.add_fp(io.BytesIO(data), len(data), '/OPENSTAC/LATEST/META_DAT.JSO;1',
               rr_name='meta_data.json',
               joliet_path='/openstack/latest/meta_data.json')
    iso.write(str(path))
    iso.close()
    return str(path)


def read_config_drive_meta(path):
    """openstack/latest/meta_data.json of a config drive, parsed."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(
            out, rr_path='/openstack/latest/meta_data.json')
        return json.loads(out.getvalue().decode('utf-8'))
    finally:
        iso.close()


def booted_uuids(console_text):
    """The uuid of every boot banner in a console log, in order."""
    return _BANNER_RE.findall(console_text)


def last_disks(console_text):
    """The block devices of the last complete disks line (None if none)."""
    lines = [ln for ln in console_text.splitlines(keepends=True)
             if ln.endswith('\n')]
    for line in reversed(lines):
        m = _DISKS_RE.search(line)
        if m:
            return m.group(1).split()
    return None
