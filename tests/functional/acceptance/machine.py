"""The acceptance guest as the test drives it: a Debian machine with
systemd as PID 1 (tools/build-acceptance-image), booted under QEMU with
the packages under test on a second disk.

``Machine(workdir, debs, params).run(timeout)`` makes a qcow2 overlay of
the cached root disk (the cache is never written), a payload disk (label
hvaccept) holding the .debs, ``guest-check`` and ``params.json``, and
boots QEMU: ttyS0 (kernel, systemd, hvaccept.service's own output) goes to
``console.log``, ttyS1 (guest-check's HVACCEPT lines) to ``results.log``.
The guest reboots itself once (QEMU keeps the overlay) and powers off at
the end, which ends QEMU; ``run`` returns {check: result} of the lines.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILDER = REPO / 'tools' / 'build-acceptance-image'
GUEST_CHECK = pathlib.Path(__file__).with_name('guest-check')
#: a result line, wherever it starts on the port (console noise before it)
RESULT = re.compile(r'HVACCEPT (\{.*\})')
#: the host as QEMU's user network shows it to the guest
HOST_FROM_GUEST = '10.0.2.2'


def image_dir():
    return pathlib.Path(os.environ.get('HVAGENT_ACCEPTANCE_IMAGE_DIR') or
                        '/var/cache/hvagent/acceptance-image')


def require_host():
    if os.geteuid() != 0:
        pytest.skip('the acceptance image is built as root (debootstrap)')
    for tool in ('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4',
                 'debootstrap'):
        if not shutil.which(tool):
            pytest.skip('%s is not installed (tools/services-up installs '
                        'it)' % tool)


def ensure_image():
    """Build (or reuse) the acceptance guest; ~3 min from scratch."""
    proc = subprocess.run([str(BUILDER), '--output', str(image_dir())],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return image_dir()


def parse(text):
    """{check: result} of guest-check's lines (the last one of a name)."""
    results = {}
    for match in RESULT.finditer(text):
        try:
            line = json.loads(match.group(1))
        except ValueError:
            continue        # a line cut by the power-off
        results[line['check']] = line
    return results


class Machine:
    def __init__(self, workdir, debs, params):
        self.dir = pathlib.Path(workdir)
        self.debs, self.params = debs, params
        self.console = self.dir / 'console.log'
        self.results = self.dir / 'results.log'

    def _payload(self):
        payload = self.dir / 'payload'
        payload.mkdir()
        for deb in self.debs:
            shutil.copy(deb, payload)
        shutil.copy(GUEST_CHECK, payload / 'guest-check')
        (payload / 'params.json').write_text(json.dumps(self.params))
        size = sum(f.stat().st_size for f in payload.iterdir())
        img = self.dir / 'payload.img'
        with open(img, 'wb') as f:
            f.truncate(size + 64 * 2 ** 20)
        subprocess.run(['mkfs.ext4', '-q', '-F', '-L', 'hvaccept', '-d',
                        str(payload), str(img)], check=True, timeout=120)
        return img

    def _overlay(self, base):
        overlay = self.dir / 'root.qcow2'
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b',
                        str(base / 'root.qcow2'), '-F', 'qcow2',
                        str(overlay)], check=True, timeout=60)
        return overlay

    def command(self, base, overlay, payload):
        return [
            'qemu-system-x86_64', '-accel', 'tcg,thread=multi', '-cpu', 'max',
            '-smp', '2', '-m', '2048', '-display', 'none', '-monitor', 'none',
            '-kernel', str(base / 'vmlinuz'),
            '-initrd', str(base / 'initrd.img'),
            '-append', 'root=LABEL=hvroot rw console=ttyS0 quiet '
            'systemd.show_status=1',
            '-drive', 'file=%s,if=virtio,format=qcow2,cache=unsafe' % overlay,
            '-drive', 'file=%s,if=virtio,format=raw,readonly=on' % payload,
            '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
            '-device', 'virtio-rng-pci',
            '-serial', 'file:%s' % self.console,
            '-serial', 'file:%s' % self.results]

    def run(self, base, timeout):
        cmd = self.command(base, self._overlay(base), self._payload())
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            out += '\n(QEMU killed after %d s)' % timeout
        self.qemu_output = out
        return parse(self.read(self.results))

    @staticmethod
    def read(path):
        try:
            return path.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def console_tail(self, n=80):
        return '\n'.join(self.read(self.console).splitlines()[-n:])
