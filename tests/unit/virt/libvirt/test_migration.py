"""The pure parts of live migration: what an address may be, the flags and
parameters handed to virDomainMigrateToURI3, the figures read back.
(The moves themselves: tests/functional/test_libvirt_migration.py.)"""
import uuid

import libvirt
import pytest

from virt import migration
from virt.libvirt import migration as lvmig

ROOT = '/var/lib/hvagent/instances/u1/disk'
XML = """<domain><devices>
  <disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>
  <disk type='file' device='cdrom'>
    <source file='/var/lib/hvagent/instances/u1/disk.config'/>
    <target dev='hdc'/></disk>
  <disk type='file' device='disk'><source file='/srv/volumes/v1'/>
    <target dev='vdb'/></disk>
  <disk type='network' device='disk'><source protocol='nbd' name='x'/>
    <target dev='vdc'/></disk>
</devices></domain>""" % ROOT


@pytest.mark.parametrize('value, expected', [
    ('10.251.0.2', '10.251.0.2'),
    ('::1', '::1'),
    ('2001:DB8::1', '2001:db8::1'),
    ('::ffff:1.2.3.4', '::ffff:102:304'),
    ('h2', 'h2'),
    ('node-1.example.com', 'node-1.example.com'),
    ('a' * 63 + '.example', 'a' * 63 + '.example'),
])
def test_check_address_accepts(value, expected):
    assert migration.check_address(value) == expected


@pytest.mark.parametrize('value', [
    '', ' 10.0.0.1', '10.0.0.1 ', '10.0.0.1\n', 'h2\n', 'h2\r\n',
    '10.0.0.1:49152', '[::1]', 'tcp://10.0.0.1', '10.0.0.1/24',
    'h2?x=y', 'h2#frag', 'user@h2', 'h2;rm -rf /', 'h2 h3', 'h2/..',
    'a..b', '-a', 'a-', 'h2.', '.h2', 'a_b', 'a' * 64, 'é.example',
    'fe80::1%eth0', 'fe80::1%a?c@d', 'fe80::1%a b',
    '0x7f.1', '127.1', '01.2.3.4', '999.1.1.1', '2130706433',
    ('x.' * 127) + 'xyz',      # longer than 253
    None, 10, b'10.0.0.1',
])
def test_check_address_refuses(value):
    with pytest.raises(ValueError):
        migration.check_address(value)


def test_stream_uri_brackets_ipv6_and_refuses_the_rest():
    assert lvmig.stream_uri('10.251.0.2') == 'tcp://10.251.0.2'
    assert lvmig.stream_uri('fd00::2') == 'tcp://[fd00::2]'
    assert lvmig.stream_uri('h2') == 'tcp://h2'
    with pytest.raises(ValueError):
        lvmig.stream_uri('10.0.0.1:22/x')


def test_flags():
    base = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
            libvirt.VIR_MIGRATE_PERSIST_DEST |
            libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    opts = migration.LiveMigrationOptions
    assert lvmig.migrate_flags(opts(block_migration=False)) == base
    assert lvmig.migrate_flags(opts()) == \
        base | libvirt.VIR_MIGRATE_NON_SHARED_INC
    assert lvmig.migrate_flags(opts(block_migration=False,
                                    native_tls=True)) == \
        base | libvirt.VIR_MIGRATE_TLS
    # never copy-all, tunnelled, post-copy, unsafe or offline
    for flag in (libvirt.VIR_MIGRATE_NON_SHARED_DISK,
                 libvirt.VIR_MIGRATE_TUNNELLED,
                 libvirt.VIR_MIGRATE_POSTCOPY, libvirt.VIR_MIGRATE_UNSAFE,
                 libvirt.VIR_MIGRATE_OFFLINE):
        assert not lvmig.migrate_flags(opts(native_tls=True)) & flag


def test_params():
    opts = migration.LiveMigrationOptions
    assert lvmig.migrate_params('10.0.0.2', opts(), ['vda']) == {
        libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://10.0.0.2',
        libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ['vda']}
    assert lvmig.migrate_params(
        'fd00::2', opts(block_migration=False, bandwidth_mibps=50),
        ['vda']) == {libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://[fd00::2]',
                     libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 50}
    with pytest.raises(ValueError):
        lvmig.migrate_params('h2@evil', opts(), ['vda'])


def test_only_the_root_disk_is_copied():
    assert lvmig.disks_to_copy(XML, ROOT) == ['vda']
    assert lvmig.disks_to_copy(XML, '/elsewhere/disk') == []


@pytest.mark.parametrize('options, words', [
    (dict(timeout_action='pray'), 'timeout_action'),
    (dict(timeout_action=''), 'timeout_action'),
    (dict(bandwidth_mibps=-1), 'bandwidth_mibps'),
    (dict(max_downtime_ms=-5), 'max_downtime_ms'),
    (dict(poll_interval_s=0), 'positive'),
    (dict(completion_timeout_s=-1), 'positive'),
])
def test_options_refused(options, words):
    with pytest.raises(ValueError, match=words):
        lvmig.check_options(migration.LiveMigrationOptions(**options))


def test_options_default_accepted():
    lvmig.check_options(migration.LiveMigrationOptions())
    lvmig.check_options(migration.LiveMigrationOptions(
        timeout_action='force_complete'))


def test_progress_from_stats():
    stats = {'type': libvirt.VIR_DOMAIN_JOB_UNBOUNDED, 'time_elapsed': 888,
             'downtime': 258, 'memory_total': 134750208,
             'memory_processed': 98746991, 'memory_remaining': 0,
             'disk_total': 10, 'disk_processed': 4, 'disk_remaining': 6,
             'memory_iteration': 3}
    assert lvmig.progress_from_stats(stats) == migration.MigrationProgress(
        elapsed_ms=888, memory_total_bytes=134750208,
        memory_processed_bytes=98746991, memory_remaining_bytes=0,
        disk_total_bytes=10, disk_processed_bytes=4, disk_remaining_bytes=6,
        downtime_ms=258, iterations=3)
    assert lvmig.progress_from_stats({}) == migration.MigrationProgress()
    assert lvmig.job_active(stats)
    assert not lvmig.job_active({'type': libvirt.VIR_DOMAIN_JOB_NONE})
    assert not lvmig.job_active({})


def test_reason_is_one_line():
    err = libvirt.libvirtError('x')
    err.err = (libvirt.VIR_ERR_OPERATION_ABORTED, libvirt.VIR_FROM_QEMU,
               'operation aborted:\n  migration out job: canceled by client',
               2, None, None, None, 0, 0)
    assert lvmig.reason_of(err) == \
        'operation aborted: migration out job: canceled by client'


def test_uuid_checked_before_it_names_a_directory():
    u = '0b6f7a4e-5d0a-4c1e-9a51-2f3c2d1e0f99'
    assert lvmig.checked_uuid(u) == u
    for bad in ('..', '../../etc', '', u.upper(), u + '/..', '/' + u,
                u.replace('-', ''), '{%s}' % u, None):
        with pytest.raises(ValueError):
            lvmig.checked_uuid(bad)


def _libvirt_error(code):
    err = libvirt.libvirtError('test')
    err.err = (code, 0, 'test', 0, '', None, None, 0, 0)
    return err


@pytest.mark.parametrize('code', [libvirt.VIR_ERR_OPERATION_INVALID,
                                  libvirt.VIR_ERR_NO_DOMAIN])
def test_a_guest_gone_or_with_no_job_is_nothing_to_do(code):
    """A move that finished between the domain's lookup and the call (its
    domain left the source) is not an error (it was raised from
    migrateSetMaxDowntime under load)."""
    with lvmig._no_job_is_fine():
        raise _libvirt_error(code)


def test_other_libvirt_errors_still_raise():
    with pytest.raises(libvirt.libvirtError):
        with lvmig._no_job_is_fine():
            raise _libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR)


class _GoneMidCall(lvmig.LiveMigrationMixin):
    """A guest whose domain left between its lookup and the call."""

    def _do(self, uuid, method, *args):
        raise _libvirt_error(libvirt.VIR_ERR_NO_DOMAIN)


def test_no_job_when_the_domain_left_mid_call():
    """The restarted source asks for the job while the move ends: the
    answer is 'no job' (then it looks where the guest is), not an error
    that killed its resume thread."""
    assert _GoneMidCall().live_migration_job(str(uuid.uuid4())) is None
