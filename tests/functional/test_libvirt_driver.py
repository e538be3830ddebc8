"""The ComputeManager with the real LibvirtDriver, against libvirtd and QEMU.

Every test drives the manager (or, where said, the driver) the way the
conductor's casts would, with the in-memory FakeConductor of the unit tests,
and then looks from the outside with libvirt itself (does the domain exist,
what state, what XML and metadata) and from the inside through the guest's
serial console: the test guest (tools/build-test-image) prints
``hvagent-test-guest booted uuid=<uuid>`` once per boot and a
``hvagent-test-guest disks: ...`` line every second.

Guests run under TCG (``virt_type=qemu``) and boot in seconds, but a loaded
2-core box can be much slower, so every wait polls for a condition with a
generous timeout and nothing asserts on how long something took. An ACPI
power button press that arrives before the guest's acpid runs is lost, so
soft reboot and stop always wait for the boot banner first.

State lives in a 0755 directory under /var/tmp: QEMU runs as libvirt-qemu
and must traverse every parent of the disks (pytest's tmp_path is 0700).
Every domain a test made is destroyed and undefined in a finalizer, also
when the test fails.
"""
import os
import subprocess
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt
import pytest
from oslo_config import cfg

from agent import exception
from agent import objects
from agent.objects import states as S
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.fakes import ctxt
from tests.fixtures.libvirt_guests import build
from tests.fixtures.libvirt_guests import console
from tests.fixtures.libvirt_guests import domains_of
from tests.fixtures.libvirt_guests import set_task
from tests.fixtures.libvirt_guests import states_of
from tests.fixtures.libvirt_guests import virt
from tests.fixtures.libvirt_guests import wait_boots
from tests.fixtures.libvirt_guests import wait_console
from virt import driver as virt_driver
from virt.libvirt import config as vconfig
from virt.libvirt import designer

pytestmark = pytest.mark.functional

CONF = cfg.CONF
NS = vconfig.NS
LIBVIRT_RUNNING = libvirt.VIR_DOMAIN_RUNNING
LIBVIRT_PAUSED = libvirt.VIR_DOMAIN_PAUSED
LIBVIRT_SHUTOFF = libvirt.VIR_DOMAIN_SHUTOFF
POWERING_OFF = 'hvagent-test-guest: ACPI power button, powering off'


def fault_text(env, uuid):
    return ' | '.join(f['message'] for f in env.conductor.faults_of(uuid))


def assert_ok(env, uuid, expected_states):
    """The instance's (vm_state, task_state, power_state), no fault."""
    assert not env.conductor.faults_of(uuid), fault_text(env, uuid)
    assert states_of(env, uuid) == expected_states


def lv_state(uuid):
    with virt() as conn:
        return conn.lookupByUUIDString(uuid).state()[0]


def lv_id(uuid):
    """The running domain's id: a new one means a new QEMU process."""
    with virt() as conn:
        return conn.lookupByUUIDString(uuid).ID()


def lv_xml(uuid):
    with virt() as conn:
        return conn.lookupByUUIDString(uuid).XMLDesc(0)


def lv_metadata(uuid):
    """Our metadata element as virDomainGetMetadata returns it."""
    with virt() as conn:
        return conn.lookupByUUIDString(uuid).metadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0)


def wait_disks(env, uuid, predicate, what):
    """Wait for a disks line written after now that satisfies
    ``predicate(disks)``; return those disks."""
    start = len(console(env, uuid))

    def check(text):
        disks = guest_image.last_disks(text[start:])
        return disks if disks is not None and predicate(disks) else None
    return wait_console(env, uuid, check, what)


def volume_file(env, name='vol', size='64M'):
    d = os.path.join(env.state_dir, 'volumes')
    os.makedirs(d, mode=0o755, exist_ok=True)
    path = os.path.join(d, '%s-%s.qcow2' % (name, uuidlib.uuid4().hex[:8]))
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, size],
                   check=True, timeout=60)
    return path


def xml_disks(xml):
    """[(target dev, source file, serial)] of a domain XML's disks."""
    return [(d.find('target').get('dev'),
             d.find('source').get('file') if d.find('source') is not None
             else None, d.findtext('serial'))
            for d in ET.fromstring(xml).iterfind('devices/disk')]


def spec_of(env, uuid, name='direct'):
    img = env.image
    return virt_driver.GuestSpec(
        uuid=uuid, name=name, vcpus=1, memory_mb=192, root_gb=1,
        image_ref=img['disk'], kernel_ref=img['kernel'],
        ramdisk_ref=img['ramdisk'], config_drive=True)


# --------------------------------------------------------------------- tests
def test_lifecycle(libvirt_env):
    """spawn, soft and hard reboot, stop/start, pause/unpause, volume
    attach/detach and delete of one guest, as the conductor would ask."""
    uuid = build(libvirt_env, name='lifecycle-vm')
    instance_dir = os.path.join(CONF.compute.instances_path, uuid)

    # ---- spawn
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert libvirt_env.conductor.get(uuid).launched_at is not None
    assert domains_of(uuid) == [designer.domain_name(uuid)]
    assert lv_state(uuid) == LIBVIRT_RUNNING
    root = ET.fromstring(lv_xml(uuid))
    assert root.get('type') == 'qemu'
    assert root.findtext('uuid') == uuid
    meta = root.find('metadata/{%s}instance' % NS)
    assert meta is not None, lv_xml(uuid)
    assert meta.findtext('{%s}uuid' % NS) == uuid
    assert meta.findtext('{%s}name' % NS) == 'lifecycle-vm'
    fl = meta.find('{%s}flavor' % NS)
    assert fl.get('name') == 'm1.test'
    assert (fl.findtext('{%s}vcpus' % NS), fl.findtext('{%s}memory_mb' % NS),
            fl.findtext('{%s}root_gb' % NS)) == ('1', '192', '1')
    owner = meta.find('{%s}owner' % NS)
    assert owner.find('{%s}project' % NS).get('id') == 'p1'
    assert owner.find('{%s}user' % NS).get('id') == 'u1'
    assert os.path.isfile(os.path.join(instance_dir, 'disk'))
    assert os.path.isfile(os.path.join(instance_dir, 'disk.config'))
    wait_boots(libvirt_env, uuid, 1)     # the config drive's uuid

    # ---- soft reboot: ACPI shutdown, then start again
    set_task(libvirt_env, uuid, S.REBOOTING)
    libvirt_env.mgr.reboot_instance(ctxt(), instance_uuid=uuid, reboot_type='SOFT')
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert lv_state(uuid) == LIBVIRT_RUNNING
    text = console(libvirt_env, uuid)
    assert text.count(POWERING_OFF) == 1, 'no graceful shutdown:\n' + \
        text[-3000:]
    wait_boots(libvirt_env, uuid, 2)

    # ---- hard reboot: a new QEMU process, no shutdown in the guest
    first_id = lv_id(uuid)
    set_task(libvirt_env, uuid, S.REBOOTING_HARD)
    libvirt_env.mgr.reboot_instance(ctxt(), instance_uuid=uuid, reboot_type='HARD')
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert lv_state(uuid) == LIBVIRT_RUNNING
    assert lv_id(uuid) != first_id
    wait_boots(libvirt_env, uuid, 3)
    assert console(libvirt_env, uuid).count(POWERING_OFF) == 1

    # ---- stop (graceful) and start
    set_task(libvirt_env, uuid, S.POWERING_OFF)
    libvirt_env.mgr.stop_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.STOPPED, None, S.SHUTDOWN))
    assert lv_state(uuid) == LIBVIRT_SHUTOFF
    assert console(libvirt_env, uuid).count(POWERING_OFF) == 2   # not pulled plug
    set_task(libvirt_env, uuid, S.POWERING_ON)
    libvirt_env.mgr.start_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert lv_state(uuid) == LIBVIRT_RUNNING
    wait_boots(libvirt_env, uuid, 4)

    # ---- pause / unpause
    set_task(libvirt_env, uuid, S.PAUSING)
    libvirt_env.mgr.pause_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.PAUSED, None, S.PAUSED_POWER))
    assert lv_state(uuid) == LIBVIRT_PAUSED
    set_task(libvirt_env, uuid, S.UNPAUSING)
    libvirt_env.mgr.unpause_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert lv_state(uuid) == LIBVIRT_RUNNING
    before = wait_disks(libvirt_env, uuid, lambda d: True, 'guest alive after unpause')
    assert 'vda' in before and 'sr0' in before, before

    # ---- attach a volume: the guest sees a new virtio disk
    path = volume_file(libvirt_env)
    vol = str(uuidlib.uuid4())
    set_task(libvirt_env, uuid, S.ATTACHING_VOLUME, block_devices=[
        objects.BlockDevice(volume_id=vol, connection_info={
            'driver_volume_type': 'file', 'path': path, 'format': 'qcow2'})])
    libvirt_env.mgr.attach_volume(ctxt(), instance_uuid=uuid, volume_id=vol)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    [bdm] = libvirt_env.conductor.get(uuid).block_devices
    assert bdm.status == 'attached'
    dev = bdm.device_name
    assert dev == 'vdb'
    assert (dev, path, vol[:20]) in xml_disks(lv_xml(uuid))
    after = wait_disks(libvirt_env, uuid, lambda d: dev in d,
                       '%s in the disks line' % dev)
    assert set(after) - set(before) == {dev}, (before, after)

    # ---- detach it: gone from the guest and from the domain
    set_task(libvirt_env, uuid, S.DETACHING_VOLUME)
    libvirt_env.mgr.detach_volume(ctxt(), instance_uuid=uuid, volume_id=vol)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert libvirt_env.conductor.get(uuid).block_devices == []
    assert all(d[1] != path and d[2] != vol[:20]
               for d in xml_disks(lv_xml(uuid))), lv_xml(uuid)
    with virt() as conn:   # the persistent definition lost it too
        inactive = conn.lookupByUUIDString(uuid).XMLDesc(
            libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert all(d[1] != path for d in xml_disks(inactive)), inactive
    gone = wait_disks(libvirt_env, uuid, lambda d: dev not in d,
                      '%s gone from the disks line' % dev)
    assert sorted(gone) == sorted(before), (before, gone)

    # ---- delete
    set_task(libvirt_env, uuid, S.DELETING)
    libvirt_env.mgr.terminate_instance(ctxt(), instance_uuid=uuid)
    assert libvirt_env.conductor.get(uuid).vm_state == S.DELETED
    assert not libvirt_env.conductor.faults_of(uuid), fault_text(libvirt_env, uuid)
    assert domains_of(uuid) == []
    assert not os.path.exists(instance_dir)
    assert os.path.exists(path)   # the volume is not the driver's to delete
    assert libvirt_env.conductor.events_of(uuid)[-1] == (
        'finish', 'compute_terminate_instance', 'Success')


def test_spawn_twice_makes_one_guest(libvirt_env):
    """A redelivered build adopts the guest; a second driver.spawn raises
    InstanceExists and leaves the guest and its files alone."""
    uuid = build(libvirt_env)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    qemu_id = lv_id(uuid)

    set_task(libvirt_env, uuid, S.SPAWNING, vm_state=S.BUILDING)   # redelivered
    libvirt_env.mgr.build_and_run_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert [e for e in libvirt_env.conductor.events_of(uuid) if e[0] == 'finish'] \
        == [('finish', 'compute_build_and_run_instance', 'Success')] * 2

    with pytest.raises(exception.InstanceExists):
        libvirt_env.driver.spawn(spec_of(libvirt_env, uuid))

    assert domains_of(uuid) == [designer.domain_name(uuid)]
    assert lv_state(uuid) == LIBVIRT_RUNNING
    assert lv_id(uuid) == qemu_id          # the same QEMU all along
    instance_dir = os.path.join(CONF.compute.instances_path, uuid)
    assert sorted(os.listdir(instance_dir)) == [
        'console.log', 'disk', 'disk.config']
    assert libvirt_env.driver.list_guests().count(uuid) == 1

    # and straight at the driver: spawn, spawn again
    other = str(uuidlib.uuid4())
    libvirt_env.extra_uuids.add(other)
    libvirt_env.driver.spawn(spec_of(libvirt_env, other))
    other_id = lv_id(other)
    with pytest.raises(exception.InstanceExists):
        libvirt_env.driver.spawn(spec_of(libvirt_env, other, name='again'))
    assert domains_of(other) == [designer.domain_name(other)]
    assert lv_id(other) == other_id
    assert vconfig.Metadata.from_xml(lv_metadata(other)).display_name == \
        'direct'
    libvirt_env.driver.destroy(other)
    assert domains_of(other) == []


def test_operations_survive_libvirtd_restart(libvirt_env):
    """libvirtd restarts under a running guest: the same driver object
    carries on (reconnecting), and the guest never noticed."""
    uuid = build(libvirt_env)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    qemu_id = lv_id(uuid)
    assert libvirt_env.driver.get_info(uuid).power_state == S.RUNNING

    libvirtd.restart_libvirtd()

    set_task(libvirt_env, uuid, S.PAUSING)
    libvirt_env.mgr.pause_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.PAUSED, None, S.PAUSED_POWER))
    assert lv_state(uuid) == LIBVIRT_PAUSED
    set_task(libvirt_env, uuid, S.UNPAUSING)
    libvirt_env.mgr.unpause_instance(ctxt(), instance_uuid=uuid)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    assert lv_state(uuid) == LIBVIRT_RUNNING
    info = libvirt_env.driver.get_info(uuid)
    assert (info.power_state, info.vcpus, info.memory_mb) == (
        S.RUNNING, 1, 192)
    assert lv_id(uuid) == qemu_id          # QEMU survived the restart
    wait_boots(libvirt_env, uuid, 1)               # one boot, still going
    wait_disks(libvirt_env, uuid, lambda d: 'vda' in d, 'guest alive')
    assert uuid in libvirt_env.driver.list_guests()


NASTY_NAME = 'a <b>&amp; \'single\' "double" ]]> </metadata> & done'


def test_name_with_xml_special_characters(libvirt_env):
    """The user's name goes into XML (metadata) and JSON (config drive)
    escaped: the guest boots and the name comes back exactly."""
    uuid = build(libvirt_env, name=NASTY_NAME)
    assert_ok(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))
    root = ET.fromstring(lv_xml(uuid))      # well-formed
    assert root.findtext('metadata/{%s}instance/{%s}name' % (NS, NS)) == \
        NASTY_NAME
    assert root.findtext('name') == designer.domain_name(uuid)
    meta = vconfig.Metadata.from_xml(lv_metadata(uuid))
    assert (meta.instance_uuid, meta.display_name) == (uuid, NASTY_NAME)
    wait_boots(libvirt_env, uuid, 1)

    # the live console through the driver, bounded
    for max_bytes in (1, 7, 100, 1000):
        out = libvirt_env.driver.get_console_output(uuid, max_bytes)
        assert len(out.encode('utf-8')) <= max_bytes, (max_bytes, out)
        assert out, max_bytes
    small = libvirt_env.driver.get_console_output(uuid, 200)
    assert small in libvirt_env.driver.get_console_output(uuid, 16 << 20)

    set_task(libvirt_env, uuid, S.DELETING)
    libvirt_env.mgr.terminate_instance(ctxt(), instance_uuid=uuid)
    assert domains_of(uuid) == []


def test_failed_spawn_leaves_nothing_missing_image(libvirt_env):
    """The image is missing: a readable fault, nothing left behind."""
    missing = os.path.join(libvirt_env.state_dir, 'no-such-image.qcow2')
    uuid = build(libvirt_env, image_ref=missing)
    assert states_of(libvirt_env, uuid)[:2] == (S.ERROR, None)
    [fault] = libvirt_env.conductor.faults_of(uuid)
    assert fault['message'] == (
        'Image %s could not be found: no such file' % missing), fault
    assert 'ImageNotFound' in fault['details']
    assert_nothing_left(libvirt_env, uuid)


def test_failed_spawn_leaves_nothing_qemu_refuses(libvirt_env):
    """QEMU refuses to start (a 'kernel' of zeros with an initrd) after the
    domain was defined: that is undone too."""
    bogus = os.path.join(libvirt_env.state_dir, 'zero-kernel')
    with open(bogus, 'wb') as f:
        f.write(b'\0' * (1 << 20))
    os.chmod(bogus, 0o644)
    uuid = build(libvirt_env, kernel_ref=bogus)
    assert states_of(libvirt_env, uuid)[:2] == (S.ERROR, None)
    [fault] = libvirt_env.conductor.faults_of(uuid)
    assert fault['message'].startswith('libvirtError: '), fault
    assert 'qemu' in fault['message'].lower(), fault   # QEMU's own reason
    assert_nothing_left(libvirt_env, uuid)


def assert_nothing_left(env, uuid):
    assert domains_of(uuid) == []
    assert not os.path.exists(os.path.join(CONF.compute.instances_path,
                                           uuid))
    cache = CONF.libvirt.image_cache_path
    leftovers = [n for n in (os.listdir(cache) if os.path.isdir(cache)
                             else ()) if n.endswith(('.part', '.tmp'))]
    assert leftovers == []
    assert env.conductor.events_of(uuid)[-1] == (
        'finish', 'compute_build_and_run_instance', 'Error')


def test_console_output_is_bounded(libvirt_env):
    """driver.get_console_output(uuid, n) returns the last n bytes at most,
    whole characters only, also when n cuts a character or the log holds
    bytes that are not UTF-8; and the manager applies its own bound."""
    uuid = str(uuidlib.uuid4())
    libvirt_env.extra_uuids.add(uuid)
    libvirt_env.driver.spawn(spec_of(libvirt_env, uuid))
    libvirt_env.driver.power_off(uuid, timeout=0)   # nothing writes the log now
    log = os.path.join(CONF.compute.instances_path, uuid, 'console.log')
    content = (b'line %d\n' * 300 % tuple(range(300)) +
               'caf\u00e9 \u20ac\u20ac \U0001f600\n'.encode() +
               b'bad \xff\xfe bytes\n' + '\u20ac'.encode() * 3)
    with open(log, 'wb') as f:
        f.write(content)
    full = content.decode('utf-8', errors='replace')
    for max_bytes in (1, 2, 3, 4, 5, 10, 17, 24, 30, 100, 4096,
                      len(content), len(content) + 100):
        out = libvirt_env.driver.get_console_output(uuid, max_bytes)
        assert len(out.encode('utf-8')) <= max_bytes, (max_bytes, out)
        assert full.endswith(out), (max_bytes, out)
        assert len(out.encode('utf-8')) >= max_bytes - 3 or \
            out == full, (max_bytes, out)
    assert libvirt_env.driver.get_console_output(uuid, 1 << 20) == full

    # the manager: its bound and tail_length
    inst = libvirt_env.conductor.add_instance(uuid=uuid, vm_state=S.STOPPED,
                                      task_state=None)
    assert inst.uuid == uuid
    saved = CONF.compute.console_output_max_bytes
    CONF.set_override('console_output_max_bytes', 1024, group='compute')
    try:
        out = libvirt_env.mgr.get_console_output(ctxt(), instance_uuid=uuid,
                                         tail_length=None)
    finally:     # back to the module's override (cleared with it)
        CONF.set_override('console_output_max_bytes', saved,
                          group='compute')
    assert len(out.encode('utf-8')) <= 1024 and full.endswith(out)
    assert libvirt_env.mgr.get_console_output(
        ctxt(), instance_uuid=uuid, tail_length=2) == \
        'bad \ufffd\ufffd bytes\n' + '\u20ac' * 3
