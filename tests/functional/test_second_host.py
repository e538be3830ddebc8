"""The second_host fixture: an independent libvirtd "h2" beside the
machine's ("h1"), and a raw ``virsh migrate`` of the test guest between
them and back, as the recipe does (no hvagent code moves the guest here:
the guest's files are made with qemu-img, its XML by the designer).
"""
import os
import shutil
import subprocess
import uuid as uuidlib

import libvirt
import pytest

from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.waiting import wait_until
from virt import driver as virt_driver
from virt.libvirt import designer

pytestmark = pytest.mark.functional

H1 = libvirtd.URI
BOOT_TIMEOUT = 300
MIGRATE_TIMEOUT = 300


def _host_uuid(uri):
    conn = libvirt.openReadOnly(uri)
    try:
        return conn.getCapabilities().split('<uuid>')[1].split('<')[0]
    finally:
        conn.close()


def test_h2_is_another_host(second_host):
    h2 = second_host
    assert h2.virsh('hostname').stdout.strip() == 'h2'
    assert _host_uuid(h2.uri) == h2.host_uuid != _host_uuid(H1)
    assert h2.run(['hostname']).stdout.strip() == 'h2'
    # the veth links the namespaces, both ways
    assert h2.run(['ping', '-c', '1', '-W', '5', h2.h1_address]).returncode \
        == 0
    assert subprocess.run(['ping', '-c', '1', '-W', '5', h2.address],
                          capture_output=True).returncode == 0
    # h2 sees its own files at the shared paths, h1 its own
    marker = os.path.join(h2.instances_path, 'h1-only')
    open(marker, 'w').close()
    try:
        assert h2.run(['test', '-e', marker]).returncode == 1
    finally:
        os.unlink(marker)
    # h2's daemon reaches h1's
    assert h2.run(['virsh', '-c', h2.uri_from_h2_to_h1,
                   'hostname']).returncode == 0


def test_forward_reaches_the_root_namespace(second_host):
    import socket
    server = socket.create_server(('127.0.0.1', 0))
    port = server.getsockname()[1]
    second_host.forward(port)
    probe = second_host.popen(
        ['python3', '-c', 'import socket; s = socket.create_connection(('
         '"127.0.0.1", %d)); s.sendall(b"ping"); print(s.recv(4).decode())'
         % port], stdout=subprocess.PIPE, text=True)
    conn, _ = server.accept()
    assert conn.recv(4) == b'ping'
    conn.sendall(b'pong')
    assert probe.communicate(timeout=30)[0].strip() == 'pong'
    conn.close()
    server.close()


# ---------------------------------------------------- a raw migration
def _files(h2, uuid, image, on_h2):
    """The guest's files in hvagent's layout (overlay on the cached base,
    config drive) on h1, or on h2 through its namespace; return paths."""
    base = os.path.join(h2.image_cache_path, 'test-base.qcow2')
    inst = os.path.join(h2.instances_path, uuid)
    disk = os.path.join(inst, 'disk')
    cd = os.path.join(inst, 'disk.config')

    def run(argv):
        proc = h2.run(argv) if on_h2 else subprocess.run(
            argv, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    run(['mkdir', '-p', '-m', '0755', inst])
    run(['cp', '-n', image['disk'], base])
    run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b',
         base, disk, str(1 << 30)])
    if on_h2:   # the same drive h1 has (libvirt never copies it)
        shutil.copy(cd, os.path.join(h2.dir, 'instances', uuid,
                                     'disk.config'))
    else:
        guest_image.make_config_drive(cd, uuid)
    return disk, cd, os.path.join(inst, 'console.log')


def _console(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def _migrate(src, dst, address):
    def go(dom):
        return subprocess.run(
            ['virsh', '-c', src, 'migrate', '--live', '--p2p',
             '--persistent', '--undefinesource', '--copy-storage-inc',
             '--migrateuri', 'tcp://' + address, dom, dst],
            capture_output=True, text=True, timeout=MIGRATE_TIMEOUT)
    return go


def _jobinfo(uri, dom):
    out = subprocess.run(['virsh', '-c', uri, 'domjobinfo', '--completed',
                          dom], capture_output=True, text=True).stdout
    return dict(line.split(':', 1) for line in out.splitlines()
                if ':' in line)


def _remove(uri, dom):
    for cmd in (['destroy', dom], ['undefine', dom]):
        subprocess.run(['virsh', '-c', uri] + cmd, capture_output=True)


def test_raw_virsh_migrate_there_and_back(second_host, libvirt_image):
    h2 = second_host
    uuid = str(uuidlib.uuid4())
    name = designer.domain_name(uuid)
    disk, cd, log = _files(h2, uuid, libvirt_image, on_h2=False)
    log_on_h2 = os.path.join(h2.dir, 'instances', uuid, 'console.log')
    spec = virt_driver.GuestSpec(uuid=uuid, name='raw', vcpus=1,
                                 memory_mb=128, root_gb=1)
    xml = designer.domain_for(
        spec, virt_type='qemu', disk_path=disk, console_log_path=log,
        kernel_path=libvirt_image['kernel'],
        ramdisk_path=libvirt_image['ramdisk'], config_drive_path=cd,
        kernel_cmdline=guest_image.CMDLINE).to_xml()
    conn = libvirt.open(H1)
    try:
        conn.defineXML(xml).create()
        wait_until(lambda: guest_image.booted_uuids(_console(log)),
                   BOOT_TIMEOUT, message='the guest booting on h1')

        _files(h2, uuid, libvirt_image, on_h2=True)
        r = _migrate(H1, h2.uri, h2.address)(name)
        assert r.returncode == 0, r.stderr
        assert h2.virsh('domstate', name).stdout.strip() == 'running'
        assert subprocess.run(['virsh', '-c', H1, 'domstate', name],
                              capture_output=True).returncode != 0
        # the guest goes on printing on h2; it did not boot again
        wait_until(lambda: guest_image.DISKS in _console(log_on_h2), 60,
                   message="the guest's disks line on h2")
        assert not guest_image.booted_uuids(_console(log_on_h2))
        assert 'Time elapsed' in _jobinfo(h2.uri, name)

        # back: h1's overlay is stale, made afresh as a destination would
        os.unlink(disk)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F',
                        'qcow2', '-b', os.path.join(h2.image_cache_path,
                                                    'test-base.qcow2'),
                        disk, str(1 << 30)], check=True)
        r = _migrate(h2.uri, h2.uri_from_h2_to_h1, h2.h1_address)(name)
        assert r.returncode == 0, r.stderr
        assert conn.lookupByName(name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert h2.virsh('domstate', name).returncode != 0
        start = len(_console(log))
        wait_until(lambda: guest_image.DISKS in _console(log)[start:], 60,
                   message="the guest's disks line back on h1")
        assert len(guest_image.booted_uuids(_console(log))) == 1
    finally:
        conn.close()
        _remove(H1, name)
        _remove(h2.uri, name)
        shutil.rmtree(os.path.join(h2.instances_path, uuid),
                      ignore_errors=True)
