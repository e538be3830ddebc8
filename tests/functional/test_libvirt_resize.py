"""Resize and cold migration with the real LibvirtDriver between two
libvirtds (tests/fixtures/libvirt_two_hosts.py): h1 stops the guest and
offers its overlay, h2 reads it through h1's libvirtd, vets it, puts it
on its own copy of the image, grows it and boots the guest with the new
flavor, which the guest itself reports (its ``size:`` line). Confirm
removes h1's guest and offer; revert boots h1's guest again as it was.

A source is a compute node and less trusted than the destination's own
files: disks a hostile source could offer (a backing file naming the
destination's files, an external data file, raw bytes, a disk larger than
the flavor, more bytes than it can hold) are refused or neutralised, and
leave nothing behind.
"""
import dataclasses
import os
import shutil
import subprocess
import uuid as uuidlib

import libvirt
import pytest
from oslo_config import cfg

from agent import exception
from tests.fixtures import guest_image
from tests.fixtures import libvirt_two_hosts as two_hosts
from tests.fixtures import libvirtd
from tests.fixtures.waiting import wait_until
from virt import driver as virt_driver
from virt.libvirt import resize as lvresize

pytestmark = pytest.mark.functional

CONF = cfg.CONF
GiB = 1 << 30
MARK = ('write -P 0x5a 512M 64k', 'read -P 0x5a 512M 64k')


def _bigger(spec):
    return dataclasses.replace(spec, vcpus=2, memory_mb=192, root_gb=2,
                               flavor_name='m1.bigger')


def _sizes_after(drv, uuid, boots):
    """The guest's own report of its size at boot number ``boots``."""
    def seen():
        sizes = guest_image.sizes(two_hosts.console(drv, uuid))
        return sizes[boots - 1] if len(sizes) >= boots else None
    return wait_until(seen, two_hosts.BOOT_TIMEOUT, interval=0.5,
                      message='the guest reporting its size')


def _qemu_io(argv_prefix, path, command):
    return subprocess.run(argv_prefix + ['qemu-io', '-r', '-U', '-f',
                                         'qcow2', '-c', command, path],
                          capture_output=True, text=True, timeout=60)


def _h1_disk(uuid):
    return os.path.join(CONF.compute.instances_path, uuid, 'disk')


def _pools(uri):
    conn = libvirt.openReadOnly(uri)
    try:
        return {p.name() for p in conn.listAllStoragePools()}
    finally:
        conn.close()


def _stopped_and_offered(hosts, spec):
    """h1 stops the guest and offers its disk; a mark is written into
    the overlay so its arrival can be read on h2."""
    # its size line, not only its banner: a power button pressed between
    # the two would leave this boot without one
    _sizes_after(hosts.h1, spec.uuid, 1)
    address = hosts.h1.migrate_disk_and_power_off(spec.uuid, 'h2',
                                                  timeout=30)
    assert address == hosts.host2.h1_address
    assert two_hosts.domain_state(libvirtd.URI, spec.uuid) == (
        libvirt.VIR_DOMAIN_SHUTOFF, True)
    assert lvresize.pool_name(spec.uuid) in _pools(libvirtd.URI)
    done = subprocess.run(['qemu-io', '-f', 'qcow2', '-c', MARK[0],
                           _h1_disk(spec.uuid)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _resized_on_h2(hosts, spec):
    bigger = _bigger(spec)
    hosts.h2.finish_migration(bigger, True,
                              source_uri=hosts.host2.uri_from_h2_to_h1)
    size = _sizes_after(hosts.h2, spec.uuid, 1)
    assert (size['cpus'], size['vda_bytes']) == (2, 2 * GiB)
    h2_disk = os.path.join(CONF.compute.instances_path, spec.uuid, 'disk')
    read = _qemu_io(hosts.host2.command_prefix, h2_disk, MARK[1])
    assert read.returncode == 0 and 'Pattern verification failed' not in \
        read.stdout, read.stdout + read.stderr
    return size


def test_resize_there_and_confirm(hosts, guest):
    _stopped_and_offered(hosts, guest)
    before = guest_image.sizes(two_hosts.console(hosts.h1, guest.uuid))[0]
    assert (before['cpus'], before['vda_bytes']) == (1, GiB)

    after = _resized_on_h2(hosts, guest)
    assert after['mem_kb'] > before['mem_kb'] + 32 * 1024
    # confirmed: h1's guest, files and offer go
    hosts.h1.destroy(guest.uuid)
    assert two_hosts.domain_state(libvirtd.URI, guest.uuid) is None
    assert lvresize.pool_name(guest.uuid) not in _pools(libvirtd.URI)
    assert not os.path.exists(os.path.dirname(_h1_disk(guest.uuid)))
    # the guest on h2 keeps running without h1's files
    assert two_hosts.domain_state(hosts.host2.uri, guest.uuid) == (
        libvirt.VIR_DOMAIN_RUNNING, True)


def test_resize_there_and_revert(hosts, guest):
    _stopped_and_offered(hosts, guest)
    _resized_on_h2(hosts, guest)
    # reverted: h2's guest goes, h1's runs again as it was
    hosts.h2.destroy(guest.uuid)
    hosts.h1.finish_revert_migration(guest, True)
    again = _sizes_after(hosts.h1, guest.uuid, 2)
    assert (again['cpus'], again['vda_bytes']) == (1, GiB)
    assert lvresize.pool_name(guest.uuid) not in _pools(libvirtd.URI)
    assert two_hosts.domain_state(hosts.host2.uri, guest.uuid) is None


def test_a_failed_stop_and_offer_leaves_the_guest_and_no_offer(hosts, guest):
    """A source that cannot offer (here: an instance on shared storage)
    refuses before stopping the guest."""
    two_hosts.wait_booted(hosts.h1, guest.uuid)
    CONF.set_override('instances_shared_storage', True, group='libvirt')
    try:
        with pytest.raises(exception.ColdMigrationFailed,
                           match='shared storage'):
            hosts.h1.migrate_disk_and_power_off(guest.uuid, 'h2', 30)
    finally:
        CONF.clear_override('instances_shared_storage', group='libvirt')
    assert two_hosts.domain_state(libvirtd.URI, guest.uuid)[0] == \
        libvirt.VIR_DOMAIN_RUNNING
    assert lvresize.pool_name(guest.uuid) not in _pools(libvirtd.URI)


# --------------------------------------------------- a hostile source
@pytest.fixture
def hostile(hosts, tmp_path):
    """An offer on h1 of a disk the test makes (``make(argv)`` runs in
    the offered directory), read by h2 as a resize of a new instance."""
    uuid = str(uuidlib.uuid4())
    offered = tmp_path / 'offered'
    offered.mkdir()
    conn = libvirt.open(libvirtd.URI)
    pool = conn.storagePoolCreateXML(
        lvresize.pool_xml(lvresize.pool_name(uuid), str(offered)), 0)
    img = hosts.image
    spec = virt_driver.GuestSpec(
        uuid=uuid, name='hostile', vcpus=1, memory_mb=128, root_gb=1,
        image_ref=img['disk'], kernel_ref=img['kernel'],
        ramdisk_ref=img['ramdisk'], config_drive=True)

    def finish(spec=spec):
        pool.refresh(0)
        hosts.h2.finish_migration(spec, False,
                                  source_uri=hosts.host2.uri_from_h2_to_h1)
    try:
        yield spec, offered, finish
    finally:
        pool.destroy()
        conn.close()
        hosts.h2.destroy(uuid)


def _refused(hosts, spec, finish, match):
    with pytest.raises(exception.ColdMigrationFailed, match=match):
        finish()
    uuid = spec.uuid
    assert two_hosts.domain_state(hosts.host2.uri, uuid) is None
    assert not os.path.exists(os.path.join(two_hosts.h2_dir(hosts, uuid),
                                           'disk.part'))


def _qemu_img(*args):
    subprocess.run(('qemu-img',) + args, check=True, capture_output=True)


def test_a_backing_file_the_source_names_is_never_used(hosts, hostile):
    """An overlay naming a file of the destination as its backing file
    gets the destination's own image copy instead."""
    spec, offered, finish = hostile
    secret = '/etc/libvirt/libvirtd.conf'
    _qemu_img('create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw',
              str(offered / 'disk'), '1G')
    finish()
    h2_disk = os.path.join(CONF.compute.instances_path, spec.uuid, 'disk')
    info = hosts.host2.run(['qemu-img', 'info', '-U', '--output=json',
                            h2_disk], check=True).stdout
    assert secret not in info
    assert CONF.libvirt.image_cache_path in info


@pytest.mark.parametrize('make, match', [
    (lambda d: _qemu_img('create', '-q', '-f', 'qcow2', '-o',
                         'data_file=%s' % (d / 'data'), str(d / 'disk'),
                         '64M'),
     'external data file'),
    (lambda d: _qemu_img('create', '-q', '-f', 'raw', str(d / 'disk'),
                         '1M'),
     'not a qcow2'),
    (lambda d: _qemu_img('create', '-q', '-f', 'qcow2', str(d / 'disk'),
                         '5G'),
     'not within the flavor'),
], ids=['data-file', 'raw', 'larger-than-flavor'])
def test_hostile_disks_are_refused(hosts, hostile, make, match):
    spec, offered, finish = hostile
    make(offered)
    _refused(hosts, spec, finish, match)


def test_more_bytes_than_the_flavor_holds_are_cut(hosts, hostile):
    spec, offered, finish = hostile
    tiny = dataclasses.replace(spec, root_gb=0)   # the image's 64 MiB
    with open(offered / 'disk', 'wb') as f:
        f.truncate(lvresize.download_limit(64 << 20) + (1 << 20))
    with pytest.raises(exception.ColdMigrationFailed, match='more than'):
        finish(tiny)


def test_no_offer_is_a_clear_error(hosts, hostile):
    spec, offered, finish = hostile
    shutil.rmtree(offered)
    offered.mkdir()       # an empty offer: no disk in it
    _refused(hosts, spec, finish, 'reading the disk from the source')
