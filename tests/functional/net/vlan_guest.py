"""Run a test script inside the net test guest: a throw-away QEMU (TCG)
machine whose kernel has what the CI host's may lack (802.1Q VLANs above
all), built by ``tools/build-net-test-image``.

::

    out = vlan_guest.run_in_vlan_guest(
        {'net/wiring.py': b'...', ...},       # path under /hvtest -> bytes
        '#!/usr/bin/python3\\nprint("HVTEST hello OK")\\n')
    assert 'HVTEST hello OK' in vlan_guest.payload_lines(out)

How: the script becomes ``/hvtest/run`` (mode 0755, so it needs a ``#!``
line) and the payload files go under ``/hvtest/`` in a second cpio archive
(newc, gzip) appended to the cached initrd.img; the kernel unpacks
concatenated archives in order, so ours lands on top of the image's root
filesystem. The guest's /init runs ``/hvtest/run`` (cwd /hvtest,
``PYTHONPATH=/hvtest``, unbuffered Python) with its output on the serial
console between ``HVTEST-BEGIN`` and ``HVTEST-EXIT <status>`` lines, then
powers off, which ends QEMU.

The guest has Debian bookworm's python3 (3.11), python3-pyroute2 (0.7),
iproute2, kmod, ping and nft, and no network device at all: tests build
their topology from namespaces, veth pairs, bridges and VLANs inside it.
Ship the venv's pyroute2 (``python_files``) to test with the
version the agent really uses.

Nothing here asserts on speed: TCG on a loaded 2-core CI box is slow.
"""
import gzip
import importlib.util
import io
import marshal
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILDER = REPO / 'tools' / 'build-net-test-image'
DEFAULT_DIR = '/var/cache/hvagent/net-test-image'
QEMU = shutil.which('qemu-system-x86_64')
QEMU_HINT = ('qemu-system-x86_64 is not installed '
             '(CI: apt-get install -y qemu-system-x86)')
CMDLINE = 'console=ttyS0 quiet panic=-1'
BUILD_TIMEOUT = 900
BEGIN = 'HVTEST-BEGIN'
EXIT = 'HVTEST-EXIT '
GUEST_ROOT = '/hvtest'
GUEST_PYTHON = (3, 11)           # Debian bookworm's python3

_image = None


class GuestError(Exception):
    """The guest did not run the script to its end (QEMU failed, timed out,
    or the guest died). ``console`` holds everything it printed."""

    def __init__(self, message, console=''):
        tail = '\n'.join(console.splitlines()[-60:])
        super().__init__('%s; console ends:\n%s' % (message, tail))
        self.console = console


def image_dir():
    return pathlib.Path(os.environ.get('HVAGENT_NET_TEST_IMAGE_DIR')
                        or DEFAULT_DIR)


def ensure_image() -> dict:
    """Build (or reuse) the net test guest; skip the calling test, saying
    why, if we can't. Returns ``{'kernel': ..., 'ramdisk': ...}``."""
    global _image
    if QEMU is None:
        pytest.skip(QEMU_HINT)
    if _image is None:
        try:
            proc = subprocess.run([str(BUILDER)], capture_output=True,
                                  text=True, timeout=BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip('cannot build the net test guest image: %s' % exc)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            pytest.skip('tools/build-net-test-image failed (exit %d): %s'
                        % (proc.returncode, ' | '.join(tail)))
        d = image_dir().resolve()
        _image = {'kernel': str(d / 'vmlinuz'),
                  'ramdisk': str(d / 'initrd.img')}
    return dict(_image)


# ------------------------------------------------------------------ cpio
def _newc_entry(name, mode, data=b'', ino=0, mtime=0, nlink=1):
    """One member of a "newc" (SVR4, no CRC) cpio archive: a 110-byte ASCII
    header of 13 8-digit hex fields, the NUL-terminated name padded to a
    multiple of 4 (counting the header), then the data padded likewise."""
    name_b = name.encode() + b'\0'
    fields = (ino, mode, 0, 0, nlink, mtime, len(data),
              0, 0, 0, 0,                  # dev major/minor, rdev major/minor
              len(name_b), 0)              # name size (with NUL), check
    header = b'070701' + b''.join(b'%08X' % f for f in fields)
    out = header + name_b
    out += b'\0' * (-len(out) % 4)
    out += data + b'\0' * (-len(data) % 4)
    return out


def make_cpio(files, mtime=None) -> bytes:
    """A newc cpio archive of ``files`` ({absolute path: (mode, bytes)}),
    every parent directory included first (the kernel's unpacker does not
    create missing parents). Owner root."""
    mtime = int(time.time()) if mtime is None else mtime
    dirs = set()
    for path in files:
        parent = pathlib.PurePosixPath(path).parent
        while str(parent) != '/':
            dirs.add(str(parent))
            parent = parent.parent
    entries = [(d, stat.S_IFDIR | 0o755, b'') for d in sorted(dirs)]
    entries += [(p, stat.S_IFREG | mode, data)
                for p, (mode, data) in sorted(files.items())]
    buf = io.BytesIO()
    for ino, (path, mode, data) in enumerate(entries, start=1):
        buf.write(_newc_entry(path.lstrip('/'), mode, data, ino=ino,
                              mtime=mtime,
                              nlink=2 if stat.S_ISDIR(mode) else 1))
    buf.write(_newc_entry('TRAILER!!!', 0))
    return buf.getvalue()


# --------------------------------------------------------------- payload
def python_files(src, dest=None) -> dict:
    """{path under /hvtest: bytes} for a Python module file, or for every
    .py file of a package directory (e.g. the venv's pyroute2, so that the
    guest runs the version the agent uses, not Debian's). ``dest`` (the
    path under /hvtest) defaults to the file's or directory's name, which
    lands it on the guest's PYTHONPATH.

    When this interpreter is the guest's Python version, each module comes
    with its bytecode, so the guest need not compile it (pyroute2 takes
    ~6 s to compile under TCG)."""
    src = pathlib.Path(src)
    dest = dest or src.name
    if src.is_file():
        paths = {dest: src}
    else:
        paths = {'%s/%s' % (dest, p.relative_to(src).as_posix()): p
                 for p in sorted(src.rglob('*.py'))
                 if '__pycache__' not in p.parts}
    files = {}
    for rel, path in paths.items():
        source = path.read_bytes()
        files[rel] = source
        pyc = _pyc(source, '%s/%s' % (GUEST_ROOT, rel))
        if pyc is not None:
            parent, _, name = rel.rpartition('/')
            cached = '__pycache__/%s.%s.pyc' % (name[:-3],
                                                 sys.implementation.cache_tag)
            files['%s/%s' % (parent, cached) if parent else cached] = pyc
    return files


def _pyc(source, guest_path):
    """The "checked hash" .pyc of ``source`` (PEP 552: valid whatever the
    file's mtime in the guest, as long as the source is unchanged); None
    if this interpreter's bytecode is not the guest's."""
    if (sys.implementation.name != 'cpython'
            or sys.version_info[:2] != GUEST_PYTHON):
        return None
    try:
        code = compile(source, guest_path, 'exec', dont_inherit=True)
    except SyntaxError:
        return None                # let the guest report it
    flags = 0b11                   # hash based, check the source
    return (importlib.util.MAGIC_NUMBER + flags.to_bytes(4, 'little')
            + importlib.util.source_hash(source) + marshal.dumps(code))


def payload_lines(console) -> list:
    """The lines the script printed (between HVTEST-BEGIN and HVTEST-EXIT),
    stripped; the HVTEST-EXIT line itself is the last one."""
    lines = [ln.strip() for ln in console.splitlines()]
    try:
        start = lines.index(BEGIN) + 1
    except ValueError:
        return []
    out = []
    for line in lines[start:]:
        out.append(line)
        if line.startswith(EXIT):
            break
    return out


def exit_status(console):
    """The exit status of /hvtest/run, None if it never finished."""
    for line in reversed(payload_lines(console)):
        if line.startswith(EXIT):
            return int(line[len(EXIT):].split()[0])
    return None


# ------------------------------------------------------------------ boot
def run_in_vlan_guest(payload_files, script, timeout=300, memory_mb=512):
    """Boot the net test guest with ``script`` as /hvtest/run and
    ``payload_files`` ({path relative to /hvtest, or absolute: bytes}) in
    its root filesystem; return its console output (``\\n`` line ends)
    once it has powered off.

    Raises GuestError if QEMU fails, the run takes longer than ``timeout``
    seconds (QEMU is killed) or the guest stops without an HVTEST-EXIT
    line. A script that fails is not an error here: check
    ``exit_status(output)``. Skips the test if QEMU or the image is
    missing.
    """
    if not script.startswith('#!'):
        raise ValueError('the script is executed as /hvtest/run: it needs '
                         'a #! line (e.g. #!/usr/bin/python3)')
    img = ensure_image()
    files = {}
    for path, data in payload_files.items():
        if not path.startswith('/'):
            path = '%s/%s' % (GUEST_ROOT, path)
        files[path] = (0o755 if data.startswith(b'#!') else 0o644, data)
    files[GUEST_ROOT + '/run'] = (0o755, script.encode())
    payload = gzip.compress(make_cpio(files), compresslevel=1)

    with tempfile.TemporaryDirectory(prefix='hvtest-vlan-guest-') as tmp:
        tmp = pathlib.Path(tmp)
        initrd = tmp / 'initrd.img'
        console = tmp / 'console.log'
        # The image's archive (zstd) then ours (gzip): each member of a
        # concatenated initramfs is decompressed on its own.
        with open(img['ramdisk'], 'rb') as src, open(initrd, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.write(payload)
        argv = [QEMU, '-accel', 'tcg', '-m', str(memory_mb), '-smp', '1',
                '-nodefaults', '-no-user-config', '-display', 'none',
                '-no-reboot',                # guest power off/panic: exit
                '-serial', 'file:%s' % console,
                '-kernel', img['kernel'], '-initrd', str(initrd),
                '-append', CMDLINE]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            qemu_out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise GuestError('the guest did not power off within %ss'
                             % timeout, _read(console))
        text = _read(console)
        if proc.returncode != 0:
            raise GuestError('qemu exited with %d: %s' % (
                proc.returncode, qemu_out.decode(errors='replace').strip()),
                text)
        if exit_status(text) is None:
            raise GuestError('the guest stopped before /hvtest/run finished',
                             text)
        return text


def _read(path):
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ''
    return raw.decode(errors='replace').replace('\r\n', '\n')
