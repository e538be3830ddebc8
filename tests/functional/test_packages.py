"""The operator packages (tools/build-packages): built as .deb and .rpm,
checked by lintian and rpmlint, installed into scratch roots by the real
dpkg and rpm (files, conffiles, maintainer scripts), upgraded with a locally
modified config, removed and purged cleanly. The build is slow the first
time (a virtualenv with every dependency), then cached: see packages.py."""
import configparser
import gzip
import os
import re
import stat
import tomllib

import pytest

from tests.functional import packages as pk
from tests.functional.packages import REPO
from tests.functional.packages import run

pytestmark = pytest.mark.functional

SITE = f'{pk.VENV}/lib/python3.11/site-packages'
LOCAL_CHANGE = '\n# changed by the operator\n[DEFAULT]\ndebug = true\n'


@pytest.fixture(scope='module')
def built():
    return pk.build(release=1)


@pytest.fixture(scope='module')
def rebuilt():
    """The same tree built with a higher release: an upgrade."""
    return pk.build(release=2)


def version():
    c = configparser.ConfigParser()
    c.read(REPO / 'setup.cfg')
    return c['metadata']['version']


def test_metadata(built):
    pk.require('dpkg-deb', 'rpm')
    require = {n: run('rpm', '-qp', '--requires', built[n, 'rpm']).stdout
               for n in pk.NAMES}
    depends = {n: run('dpkg-deb', '-f', built[n, 'deb'], 'Depends').stdout
               for n in pk.NAMES}
    for n in pk.NAMES:
        assert run('dpkg-deb', '-f', built[n, 'deb'], 'Version').stdout.strip() \
            == f'{version()}-1'
        assert run('rpm', '-qp', '--qf', '%{VERSION}-%{RELEASE}',
                   built[n, 'rpm']).stdout == f'{version()}-1'
    for dep in ('python3.11', 'libvirt0', 'libc6 (>= 2.'):
        assert dep in depends['hvagent-common']
    for dep in ('python3.11', 'libvirt.so.0()(64bit)', 'libc.so.6(GLIBC_2.'):
        assert dep in require['hvagent-common']
    for dep in (f'hvagent-common (= {version()}-1)', 'libvirt-daemon-system',
                'qemu-system-x86 | qemu-kvm', 'qemu-utils', 'dnsmasq-base',
                'nftables', 'iproute2'):
        assert dep in depends['hvagent-compute']
    for dep in (f'hvagent-common = {version()}-1', 'libvirt-daemon-kvm',
                'qemu-kvm', 'qemu-img', 'dnsmasq', 'nftables', 'iproute'):
        assert dep in require['hvagent-compute']
    # the units are systemd/'s, as they are (when the tree is still the one
    # the packages were built from)
    if pk.inputs_digest() == built.digest:
        for name, units in pk.UNITS.items():
            for unit in units:
                rel = f'usr/lib/systemd/system/{unit}'
                for fmt in ('deb', 'rpm'):
                    assert pk.member(built[name, fmt], rel) == \
                        (REPO / 'systemd' / unit).read_bytes()
    for text in (depends['hvagent-controller'], require['hvagent-controller']):
        assert 'hvagent-common' in text
        assert not re.search(r'libvirt|qemu', text), text


MAN_PAGES = {
    'hvagent-common': ['man1/hvctl.1.gz', 'man5/hvagent.conf.5.gz'],
    'hvagent-compute': ['man8/hvagent-compute.8.gz'],
    'hvagent-controller': ['man8/hvagent-conductor.8.gz',
                           'man8/hvagent-scheduler.8.gz',
                           'man8/hvagent-api.8.gz',
                           'man8/hvagent-console-proxy.8.gz']}
#: installed path: the repository's file it is a copy of
MONITORING = {
    'usr/share/hvagent/grafana/hvagent-fleet.json':
        'etc/grafana/hvagent-fleet.json',
    'usr/share/hvagent/grafana/hvagent-host.json':
        'etc/grafana/hvagent-host.json',
    'usr/share/hvagent/prometheus/hvagent-alerts.yml':
        'etc/prometheus/hvagent-alerts.yml',
    # every reference document
    **{'usr/share/doc/hvagent/docs/' + name: 'docs/' + name
       for name in sorted(os.listdir(os.path.join(REPO, 'docs')))
       if name.endswith('.md')}}


def test_man_pages_dashboards_and_alert_rules(built):
    """Each package installs its man pages (gzipped, under
    /usr/share/man), hvagent-common the dashboards and alert rules as they
    are in etc/ and the reference docs."""
    pk.require('dpkg-deb', 'rpm')
    for name, pages in MAN_PAGES.items():
        deb = {line.split()[-1].lstrip('.')
               for line in run('dpkg-deb', '-c', built[name, 'deb'])
               .stdout.splitlines()}
        rpm = set(run('rpm', '-qlp', built[name, 'rpm']).stdout.split())
        wanted = ['/usr/share/man/' + p for p in pages]
        if name == 'hvagent-common':
            wanted += ['/' + m for m in MONITORING]
        for files in (deb, rpm):
            assert set(wanted) <= files, sorted(set(wanted) - files)
    page = pk.member(built['hvagent-common', 'rpm'],
                     'usr/share/man/man1/hvctl.1.gz')
    assert gzip.decompress(page).startswith(b'.TH HVCTL 1 ')
    if pk.inputs_digest() == built.digest:
        for rel, src in MONITORING.items():
            assert pk.member(built['hvagent-common', 'rpm'], rel) == \
                (REPO / src).read_bytes(), rel


def test_lintian_clean(built):
    pk.require('lintian')
    debs = [built[n, 'deb'] for n in pk.NAMES]
    proc = run('lintian', '--fail-on', 'error,warning', '--display-info',
               '--tag-display-limit', '0', *debs, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert not re.search(r'^[EW]: ', out, re.M), out
    # a stale override is a suppression nobody needs any more
    assert 'unused-override' not in out and 'mismatched-override' not in out, out


def test_rpmlint_clean(built, tmp_path):
    pk.require('rpmlint')
    rpms = [built[n, 'rpm'] for n in pk.NAMES]
    config = REPO / 'tools/packaging/rpmlint.toml'
    proc = run('rpmlint', '-c', config, *rpms, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ' 0 errors, 0 warnings,' in proc.stdout, proc.stdout
    # every filter is still needed: it matches something rpmlint reports
    conf = tomllib.loads(config.read_text())
    bare = tmp_path / 'bare.toml'
    bare.write_text(''.join(f'{k} = {conf[k]!r}\n' for k in conf if k != 'Filters'))
    report = run('rpmlint', '-c', bare, *rpms, check=False).stdout.splitlines()
    for f in conf['Filters']:
        assert any(re.search(f, line) for line in report), f'unused filter {f}'


def check_installed(root, built, fmt, pristine=True):
    """What both formats must have put in the root."""
    users, groups = root.entries('passwd'), root.entries('group')
    assert users['hvagent'][3] == groups['hvagent'][2]
    assert users['hvagent'][5:] == ['/var/lib/hvagent', '/usr/sbin/nologin']
    assert 'hvagent' in groups['libvirt'][3].split(',')
    uid, gid = int(users['hvagent'][2]), int(groups['hvagent'][2])
    assert uid < 1000 and gid < 1000        # system ids
    state = os.stat(root / 'var/lib/hvagent')
    assert (state.st_uid, state.st_gid, stat.S_IMODE(state.st_mode)) == \
        (uid, gid, 0o755)
    conf = os.stat(root / pk.CONF)
    assert (conf.st_uid, conf.st_gid, stat.S_IMODE(conf.st_mode)) == (0, gid, 0o640)
    if pristine:   # the generated sample: every option commented out
        lines = (root / pk.CONF).read_text().splitlines()
        assert '[DEFAULT]' in lines and any(re.match(r'#\w+ = ', x) for x in lines)
        assert all(re.match(r'$|#|\[\w+\]$', x) for x in lines)
    for name, units in pk.UNITS.items():
        for unit in units:
            rel = f'usr/lib/systemd/system/{unit}'
            assert (root / rel).read_bytes() == pk.member(built[name, fmt], rel)
    for name in pk.WRAPPERS:
        wrapper = root / f'usr/bin/{name}'
        target = wrapper.parent / os.readlink(wrapper)     # relative link
        assert target.resolve() == (root / f'{pk.VENV}/bin/{name}').resolve()
        assert os.access(target, os.X_OK)
        assert target.read_text().startswith(f'#!/{pk.VENV}/bin/python3.11\n')
    assert os.readlink(root / f'{pk.VENV}/bin/python3.11') == \
        '../../../../bin/python3.11'
    cfg = (root / f'{pk.VENV}/pyvenv.cfg').read_text()
    assert 'home = /usr/bin' in cfg and '/tmp' not in cfg
    assert (root / 'usr/lib/sysusers.d/hvagent.conf').exists()


def check_venv_runs(root):
    """The installed venv runs on the host's python3.11: the code, its
    compiled dependencies, the compute agent's entry point."""
    python = root / f'{pk.VENV}/bin/python3.11'
    out = run(python, '-c', 'import sys, agent, virt, net, libvirt, pyroute2, '
              'numpy, pymysql; print(sys.prefix, libvirt.__file__)').stdout
    assert out.split()[0] == str(root / pk.VENV), out
    assert out.split()[1].startswith(str(root / SITE)), out
    for name in ('hvagent-compute', 'hvctl'):
        proc = run(python, root / f'usr/bin/{name}', '--help')
        assert 'usage' in proc.stdout.lower(), proc.stdout


def test_deb_install_remove_purge(built, tmp_path):
    pk.require('dpkg', 'dpkg-query')
    host_passwd = open('/etc/passwd').read()
    root = pk.DebRoot(tmp_path / 'root')
    root.with_python()
    before = root.snapshot()
    root.dpkg('-i', *(built[n, 'deb'] for n in pk.NAMES))
    assert root.query('${Package} ${Version} ${db:Status-Abbrev}\n', *pk.NAMES) \
        .split('\n')[:3] == [f'{n} {version()}-1 ii ' for n in pk.NAMES]
    conffiles = root.query('${Conffiles}', 'hvagent-common')
    assert re.search(r'^ /etc/hvagent/hvagent\.conf [0-9a-f]{32}$', conffiles, re.M)
    check_installed(root, built, 'deb')
    check_venv_runs(root)
    # the postinst compiled the bytecode, for the target's paths
    pyc = list((root / f'{SITE}/agent/__pycache__').glob('*.cpython-311.pyc'))
    assert pyc and all(str(root.path).encode() not in p.read_bytes() for p in pyc)
    assert open('/etc/passwd').read() == host_passwd   # the host is untouched

    root.dpkg('-r', *pk.NAMES)
    left = root.snapshot() - before
    assert {p for p in left if p.startswith(('usr/', 'etc/systemd'))} == set()
    assert pk.CONF in left and 'var/lib/hvagent' in left   # kept until purge
    root.dpkg('-P', *pk.NAMES)
    left = root.snapshot() - before
    # the user stays (Debian policy); an empty var/lib/systemd of the helper
    assert left <= {'etc/passwd-', 'etc/group-', 'etc/shadow-', 'etc/gshadow-',
                    'var/lib/systemd'}, left
    assert 'hvagent' in root.entries('passwd')
    gone = run('dpkg-query', f'--admindir={root.path}/var/lib/dpkg', '-W',
               *pk.NAMES, check=False)
    assert gone.returncode == 1 and not gone.stdout.strip(), gone


@pytest.mark.slow      # a second build (a minute or more): docs/testing.md
def test_deb_upgrade_keeps_modified_config(built, rebuilt, tmp_path):
    pk.require('dpkg', 'dpkg-query')
    root = pk.DebRoot(tmp_path / 'root')
    root.dpkg('-i', *(built[n, 'deb'] for n in pk.NAMES))
    with open(root / pk.CONF, 'a') as f:
        f.write(LOCAL_CHANGE)
    changed = (root / pk.CONF).read_text()
    # what an unattended upgrade passes: never ask, keep the local file
    root.dpkg('--force-confdef', '--force-confold',
              '-i', *(rebuilt[n, 'deb'] for n in pk.NAMES))
    assert root.query('${Version}\n', *pk.NAMES).split() == [f'{version()}-2'] * 3
    assert (root / pk.CONF).read_text() == changed
    new = pk.member(rebuilt['hvagent-common', 'deb'], pk.CONF)
    if new == pk.member(built['hvagent-common', 'deb'], pk.CONF):
        assert not list((root / 'etc/hvagent').glob('*.dpkg-*'))
    else:     # the tree's config sample changed between the two builds
        assert (root / f'{pk.CONF}.dpkg-dist').read_bytes() == new
    assert list(root.entries('passwd')).count('hvagent') == 1
    check_installed(root, rebuilt, 'deb', pristine=False)
    root.dpkg('-P', *pk.NAMES)
    assert not (root / 'etc/hvagent').exists()
    assert not (root / 'var/lib/hvagent').exists()


def test_rpm_install_erase(built, tmp_path):
    pk.require('rpm')
    root = pk.RpmRoot(tmp_path / 'root')
    before = root.snapshot()
    root.rpm('-i', '--nodeps', *(built[n, 'rpm'] for n in pk.NAMES))
    assert root.rpm('-q', *pk.NAMES).stdout.split() == \
        [f'{n}-{version()}-1.{a}' for n, a in zip(
            pk.NAMES, ('x86_64', 'noarch', 'noarch'))]
    assert root.rpm('-qc', 'hvagent-common').stdout.split() == ['/' + pk.CONF]
    check_installed(root, built, 'rpm')
    python = root.with_python()       # the chroot has no python3.11 to run
    check_venv_runs(root)
    python.unlink()
    root.rpm('-e', *pk.NAMES)
    left = root.snapshot() - before
    # rpm leaves the user (no purge in rpm); the state dir went once empty;
    # the system's directories (of the filesystem and systemd packages on a
    # real system; the man directories are the filesystem package's) and
    # var/tmp (rpm's, for the scriptlets) stay
    assert left <= {'etc/passwd-', 'etc/group-', 'etc/shadow-', 'etc/gshadow-',
                    'etc/.pwd.lock', 'var/tmp', 'usr/share', 'usr/share/doc',
                    'usr/share/licenses', 'usr/share/man',
                    'usr/share/man/man1', 'usr/share/man/man5',
                    'usr/share/man/man8', 'usr/lib/systemd',
                    'usr/lib/systemd/system', 'usr/lib/sysusers.d'}, left
    assert 'hvagent' in root.entries('passwd')


@pytest.mark.slow      # a second build (a minute or more): docs/testing.md
def test_rpm_upgrade_keeps_modified_config(built, rebuilt, tmp_path):
    pk.require('rpm')
    root = pk.RpmRoot(tmp_path / 'root')
    root.rpm('-i', '--nodeps', *(built[n, 'rpm'] for n in pk.NAMES))
    with open(root / pk.CONF, 'a') as f:
        f.write(LOCAL_CHANGE)
    changed = (root / pk.CONF).read_text()
    root.rpm('-U', '--nodeps', *(rebuilt[n, 'rpm'] for n in pk.NAMES))
    assert root.rpm('-q', '--qf', '%{VERSION}-%{RELEASE}\n', *pk.NAMES).stdout \
        .split() == [f'{version()}-2'] * 3
    assert (root / pk.CONF).read_text() == changed
    new = pk.member(rebuilt['hvagent-common', 'rpm'], pk.CONF)
    if new == pk.member(built['hvagent-common', 'rpm'], pk.CONF):
        assert not list((root / 'etc/hvagent').glob('*.rpm*'))
    else:     # the tree's config sample changed between the two builds
        assert (root / f'{pk.CONF}.rpmnew').read_bytes() == new
    check_installed(root, rebuilt, 'rpm', pristine=False)
    root.rpm('-e', *pk.NAMES)
    # a modified config file is saved, never silently deleted
    assert (root / f'{pk.CONF}.rpmsave').read_text() == changed
