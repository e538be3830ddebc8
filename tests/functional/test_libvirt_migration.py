"""Live migration with the real LibvirtDriver between two libvirtds.

h1 is the machine's libvirtd, its driver runs in this process; h2 is the
second_host fixture's, its driver runs in a helper process inside h2's
namespaces (tests/fixtures/remote_driver.py): h2's files are behind bind
mounts only its mount namespace sees, at the same instances and image
cache paths as h1's, which is what a migration without shared storage
needs (the disk paths in the domain XML are the same on both sides).

Guests are the test guest (128 MiB, TCG), which prints a boot banner once
per boot and a disks line every second on its console: a guest that moved
goes on printing disks lines on the destination and never boots again.
A slow migration is made by throttling the bandwidth (an idle 128 MiB
guest sends ~100 MiB).
"""
import os
import threading
import time
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
from virt import migration
from virt.libvirt import designer

pytestmark = pytest.mark.functional

CONF = cfg.CONF
BOOT_TIMEOUT = 300
SLOW = 1          # MiB/s: ~100 s for the whole guest, abortable
MEDIUM = 8        # MiB/s: ~13 s


def _move(hosts, spec, options, back=False, progress=None):
    """prepare, migrate, finish, clean the source: h1 -> h2 (or back)."""
    src, dst = (hosts.h2, hosts.h1) if back else (hosts.h1, hosts.h2)
    peer = hosts.host2.uri_from_h2_to_h1 if back else hosts.host2.uri
    target = dst.incoming_target()
    dst.prepare_incoming(spec, target.shared_storage)
    seen = []
    final = src.live_migrate(spec.uuid, target, peer, options,
                             progress or seen.append)
    dst.finish_incoming(spec.uuid)
    src.cleanup_migrated_source(spec.uuid, target.shared_storage)
    return final, seen


class _Background:
    """live_migrate in a thread: its result or exception afterwards."""

    def __init__(self, fn, *args):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,) + args)
        self.thread.start()

    def _run(self, fn, *args):
        try:
            self.result = fn(*args)
        except Exception as e:
            self.error = e

    def join(self, timeout=300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'live_migrate still running'
        return self


def _start_slow(hosts, spec, **options):
    target = hosts.h2.incoming_target()
    hosts.h2.prepare_incoming(spec, False)
    opts = migration.LiveMigrationOptions(poll_interval_s=0.2, **options)
    move = _Background(hosts.h1.live_migrate, spec.uuid, target,
                       hosts.host2.uri, opts, lambda p: None)
    def sending_memory():
        job = hosts.h1.live_migration_job(spec.uuid)
        return job if job and job.memory_total_bytes else None
    job = wait_until(sending_memory, 60, interval=0.2,
                     message='the migration job sending memory')
    return move, job


# ------------------------------------------------------------------ tests
def test_targets_report_their_configured_address(hosts):
    assert hosts.h1.incoming_target() == migration.MigrationTarget(
        hosts.host2.h1_address, False)
    assert hosts.h2.incoming_target() == migration.MigrationTarget(
        hosts.host2.address, False)
    assert hosts.h1.capabilities['supports_live_migration'] is True


def test_live_migrate_there_and_back(hosts, guest):
    uuid = guest.uuid
    two_hosts.wait_booted(hosts.h1, uuid)

    final, seen = _move(hosts, guest, migration.LiveMigrationOptions(
        poll_interval_s=0.1))
    assert final.downtime_ms is not None and final.downtime_ms > 0
    assert final.elapsed_ms > 0 and final.memory_processed_bytes > 0
    assert two_hosts.domain_state(hosts.host2.uri, uuid) == (
        libvirt.VIR_DOMAIN_RUNNING, True)
    assert two_hosts.domain_state(libvirtd.URI, uuid) is None
    assert not os.path.exists(os.path.join(CONF.compute.instances_path,
                                           uuid))
    # it goes on on h2, it did not boot again
    two_hosts.wait_disks_line(hosts.h2, uuid)
    assert guest_image.booted_uuids(two_hosts.console(hosts.h2, uuid)) == []
    assert hosts.h2.get_info(uuid).power_state == 'running'

    # a prepare redelivered once the guest is there changes nothing
    disk = os.path.join(two_hosts.h2_dir(hosts, uuid), 'disk')
    before = os.stat(disk)
    hosts.h2.prepare_incoming(guest, False)
    assert os.stat(disk).st_ino == before.st_ino

    final, seen = _move(hosts, guest, migration.LiveMigrationOptions(
        poll_interval_s=0.1), back=True)
    assert final.downtime_ms is not None
    assert two_hosts.domain_state(libvirtd.URI, uuid) == (
        libvirt.VIR_DOMAIN_RUNNING, True)
    assert two_hosts.domain_state(hosts.host2.uri, uuid) is None
    assert not os.path.exists(two_hosts.h2_dir(hosts, uuid))
    two_hosts.wait_disks_line(hosts.h1, uuid)
    assert guest_image.booted_uuids(two_hosts.console(hosts.h1, uuid)) == []


def test_prepare_incoming_is_idempotent(hosts, guest):
    """Twice before the move: same files, modes for QEMU's group."""
    hosts.h2.prepare_incoming(guest, False)
    hosts.h2.prepare_incoming(guest, False)
    d = two_hosts.h2_dir(hosts, guest.uuid)
    assert sorted(os.listdir(d)) == ['disk', 'disk.config']
    assert oct(os.stat(d).st_mode & 0o777) == oct(0o750)
    meta = guest_image.read_config_drive_meta(os.path.join(d, 'disk.config'))
    src = guest_image.read_config_drive_meta(os.path.join(
        CONF.compute.instances_path, guest.uuid, 'disk.config'))
    assert meta == src
    # shared storage: nothing to make
    other = virt_driver.GuestSpec(uuid=str(uuidlib.uuid4()), name='x',
                                  vcpus=1, memory_mb=128, root_gb=1)
    hosts.h2.prepare_incoming(other, True)
    assert not os.path.exists(two_hosts.h2_dir(hosts, other.uuid))
    hosts.h2.cleanup_incoming(guest.uuid, False)
    hosts.h2.cleanup_incoming(guest.uuid, False)
    assert not os.path.exists(d)


def test_abort_midway_leaves_the_guest_on_the_source(hosts, guest):
    uuid = guest.uuid
    move, job = _start_slow(hosts, guest, bandwidth_mibps=SLOW)
    assert job.memory_total_bytes > 0
    # it is moving: h2 has the incoming domain, paused
    assert two_hosts.domain_state(hosts.host2.uri, uuid)[0] == \
        libvirt.VIR_DOMAIN_PAUSED
    hosts.h1.abort_live_migration(uuid)
    move.join()
    assert isinstance(move.error, exception.MigrationAborted), move.error
    assert 'abort' in str(move.error)
    assert hosts.h1.get_info(uuid).power_state == 'running'
    assert hosts.h1.live_migration_job(uuid) is None
    hosts.h1.abort_live_migration(uuid)        # nothing to abort: no-op
    hosts.h1.force_complete_live_migration(uuid)   # nor to complete
    hosts.h2.cleanup_incoming(uuid, False)
    assert two_hosts.domain_state(hosts.host2.uri, uuid) is None
    assert not os.path.exists(two_hosts.h2_dir(hosts, uuid))
    # the source cannot be cleaned while its guest runs there
    with pytest.raises(exception.VirtDriverError, match='still runs'):
        hosts.h1.cleanup_migrated_source(uuid, False)
    assert hosts.h1.get_info(uuid).power_state == 'running'


def test_force_complete(hosts, guest):
    uuid = guest.uuid
    move, _job = _start_slow(hosts, guest, bandwidth_mibps=MEDIUM)
    t0 = time.monotonic()
    hosts.h1.force_complete_live_migration(uuid)
    state = two_hosts.domain_state(libvirtd.URI, uuid)
    assert state is None or state[0] == libvirt.VIR_DOMAIN_PAUSED
    move.join()
    assert move.error is None, move.error
    assert move.result.downtime_ms >= 0
    assert move.result.downtime_ms >= (time.monotonic() - t0) * 1000 * 0.5
    hosts.h2.finish_incoming(uuid)
    hosts.h1.cleanup_migrated_source(uuid, False)
    assert two_hosts.domain_state(hosts.host2.uri, uuid) == (
        libvirt.VIR_DOMAIN_RUNNING, True)
    two_hosts.wait_disks_line(hosts.h2, uuid)


def test_timeout_abort(hosts, guest):
    uuid = guest.uuid
    move, _job = _start_slow(hosts, guest, bandwidth_mibps=SLOW,
                             completion_timeout_s=2, timeout_action='abort')
    move.join()
    assert isinstance(move.error, exception.MigrationAborted), move.error
    assert 'not done after 2' in str(move.error)
    assert hosts.h1.get_info(uuid).power_state == 'running'
    hosts.h2.cleanup_incoming(uuid, False)
    assert two_hosts.domain_state(hosts.host2.uri, uuid) is None


def test_timeout_force_complete(hosts, guest):
    uuid = guest.uuid
    move, _job = _start_slow(hosts, guest, bandwidth_mibps=MEDIUM,
                             completion_timeout_s=2,
                             timeout_action='force_complete')
    move.join()
    assert move.error is None, move.error
    hosts.h2.finish_incoming(uuid)
    hosts.h1.cleanup_migrated_source(uuid, False)
    assert two_hosts.domain_state(hosts.host2.uri, uuid) == (
        libvirt.VIR_DOMAIN_RUNNING, True)


def test_refusals_leave_the_guest_alone(hosts, guest):
    """An address that is no address, no peer URI, a bad timeout action:
    refused before anything moves, one clear line."""
    uuid = guest.uuid
    opts = migration.LiveMigrationOptions()
    for target, peer, options, words in (
            (migration.MigrationTarget('h2 ; rm -rf /'), hosts.host2.uri,
             opts, 'not an IP address'),
            (migration.MigrationTarget('10.0.0.1/24?x=y'), hosts.host2.uri,
             opts, 'not an IP address'),
            (migration.MigrationTarget(hosts.host2.address), None, opts,
             'live_migration_uri'),
            (migration.MigrationTarget(hosts.host2.address),
             hosts.host2.uri,
             migration.LiveMigrationOptions(timeout_action='pray'),
             'timeout_action')):
        with pytest.raises(exception.MigrationFailed, match=words):
            hosts.h1.live_migrate(uuid, target, peer, options,
                                  lambda p: None)
    assert hosts.h1.get_info(uuid).power_state == 'running'
    assert hosts.h1.live_migration_job(uuid) is None
    # a uuid that would name another directory removes nothing
    instances = CONF.compute.instances_path
    for call in (hosts.h1.cleanup_incoming, hosts.h2.cleanup_incoming,
                 hosts.h1.cleanup_migrated_source):
        with pytest.raises(ValueError, match='not an instance uuid'):
            call('..', False)
    assert os.path.isdir(os.path.join(instances, uuid))
    assert os.path.isdir(os.path.join(hosts.host2.dir, 'instances'))


def test_domain_name_unchanged_by_the_move(hosts, guest):
    """The destination's domain is the same instance-<uuid>."""
    _move(hosts, guest, migration.LiveMigrationOptions(poll_interval_s=0.2))
    assert hosts.host2.virsh('domstate', designer.domain_name(
        guest.uuid)).stdout.strip() == 'running'
