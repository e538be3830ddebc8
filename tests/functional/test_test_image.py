"""The test guest of tools/build-test-image boots under plain QEMU (TCG),
reports the uuid of its config drive, its disks with their sizes (a
resize shows) and its NICs with their addresses (a NIC plugged while it
runs gets a lease), and powers off on an ACPI power button.

Timeouts are generous (TCG on a loaded 2-core CI box); nothing here asserts
on how fast things happen.
"""
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from tests.fixtures import guest_image
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

QEMU = shutil.which('qemu-system-x86_64')
BOOT_TIMEOUT = 300
POWEROFF_TIMEOUT = 120


def _wait_for(predicate, timeout, proc, console):
    """Poll the console log until predicate(text) is truthy; fail if QEMU
    exits or the timeout passes, showing the end of the console."""
    def text():
        return console.read_text(errors='replace') if console.exists() else ''

    def seen():
        result = predicate(text())
        if not result and proc.poll() is not None:
            pytest.fail('qemu exited (%s) early; console ends:\n%s'
                        % (proc.returncode, text()[-3000:]))
        return result
    return wait_until(seen, timeout, interval=0.5, message=lambda:
                      'console ends:\n%s' % text()[-3000:])


def _monitor(sock_path, command):
    """Send one HMP command over QEMU's unix monitor socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.recv(4096)                       # greeting + prompt
        s.sendall(command.encode() + b'\n')
        time.sleep(0.5)


@pytest.mark.skipif(QEMU is None, reason='qemu-system-x86_64 is not '
                    'installed (apt-get install qemu-system-x86)')
def test_boot_config_drive_uuid_and_acpi_poweroff(tmp_path):
    img = guest_image.ensure_image()
    overlay = tmp_path / 'root.qcow2'
    # larger than the image, as a flavor's disk: the marker lives past
    # the image's filesystem, in the last sector
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2',
                    '-b', img['disk'], '-F', 'qcow2', str(overlay), '128M'],
                   check=True)
    instance_uuid = str(uuid.uuid4())
    drive = guest_image.make_config_drive(
        tmp_path / 'config.iso', instance_uuid, name='test-image',
        meta={'marker': 'marked-1'})
    data = tmp_path / 'data.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(data),
                    '16M'], check=True)
    console = tmp_path / 'console.log'
    monitor = tmp_path / 'mon.sock'
    # The config drive wins over the cmdline uuid (and root= is ignored).
    cmdline = '%s root=/dev/vda hvagent.uuid=%s' % (guest_image.CMDLINE,
                                                    uuid.uuid4())
    cmd = [QEMU, '-accel', 'tcg', '-machine', 'pc', '-m', '256',
           '-nodefaults', '-display', 'none',
           '-serial', 'file:%s' % console,
           '-monitor', 'unix:%s,server=on,wait=off' % monitor,
           '-kernel', img['kernel'], '-initrd', img['ramdisk'],
           '-append', cmdline,
           '-drive', 'file=%s,if=virtio,format=qcow2' % overlay,
           '-drive', 'file=%s,if=ide,media=cdrom,readonly=on,format=raw'
           % drive,
           '-drive', 'file=%s,if=none,id=data,format=qcow2' % data,
           '-device', 'virtio-blk-pci,drive=data,addr=0x9',
           # QEMU's user network: its DHCP server leases 10.0.2.15
           '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0']
    with open(tmp_path / 'qemu.log', 'wb') as qemu_log:
        proc = subprocess.Popen(cmd, stdout=qemu_log, stderr=qemu_log,
                                stdin=subprocess.DEVNULL)
    try:
        uuids = _wait_for(guest_image.booted_uuids, BOOT_TIMEOUT, proc,
                          console)
        assert uuids == [instance_uuid]
        disks = _wait_for(guest_image.last_disks, 60, proc, console)
        assert 'vda' in disks and 'sr0' in disks, disks
        sizes = _wait_for(guest_image.last_disk_sizes, 60, proc, console)
        assert (sizes['vda'], sizes['vdb']) == (128 << 20, 16 << 20), sizes
        assert guest_image.markers(console.read_text()) == ['marked-1']
        assert 'marker written: marked-1' in console.read_text()
        nics = _wait_for(guest_image.last_nics, 60, proc, console)
        assert nics == {'eth0': '10.0.2.15/24'}, nics
        # grown while it runs, as a volume extend does
        _monitor(monitor, 'block_resize data 32M')
        _wait_for(lambda t: (guest_image.last_disk_sizes(t) or {}).get(
            'vdb') == 32 << 20, 60, proc, console)
        # a NIC plugged while it runs asks for a lease
        _monitor(monitor, 'netdev_add user,id=n1')
        _monitor(monitor, 'device_add virtio-net-pci,netdev=n1,id=nic1')
        nics = _wait_for(lambda t: (lambda n: n if n and n.get('eth1')
                                    else None)(guest_image.last_nics(t)),
                         120, proc, console)
        assert nics == {'eth0': '10.0.2.15/24', 'eth1': '10.0.2.15/24'}, \
            nics        # (each user network leases the same address)

        _monitor(monitor, 'system_powerdown')
        try:
            rc = proc.wait(POWEROFF_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail('guest ignored system_powerdown; console ends:\n%s'
                        % console.read_text(errors='replace')[-3000:])
        assert rc == 0, (tmp_path / 'qemu.log').read_text(errors='replace')
        text = console.read_text(errors='replace')
        assert 'powering off' in text
        assert guest_image.booted_uuids(text) == [instance_uuid]
        # the guest wrote it to its disk: the overlay's last sector
        raw = tmp_path / 'root.raw'
        subprocess.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw',
                        str(overlay), str(raw)], check=True)
        with open(raw, 'rb') as f:
            f.seek(-512, 2)
            assert f.read().rstrip(b'\0') == b'hvagent-marker:marked-1'
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
