"""The man pages tools/build-manpages writes, rendered by man-db and groff.

Each page must render with ``man --warnings -l -Tutf8`` without a single
warning; hvctl(1) must name every sub-command of the real parser,
hvagent.conf(5) every group and option
of the oslo.config definitions, each daemon page its options.
"""
import gzip
import os
import re
import shutil
import subprocess
import sys

import pytest

from agent import cli
from tools import manpages

pytestmark = pytest.mark.functional
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PAGES = ('man1/hvctl.1', 'man5/hvagent.conf.5', 'man8/hvagent-compute.8',
         'man8/hvagent-conductor.8', 'man8/hvagent-scheduler.8',
         'man8/hvagent-api.8', 'man8/hvagent-console-proxy.8')


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp('man')
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools',
                                                     'build-manpages'),
                        str(out)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(
        str(out / (p + '.gz')) for p in PAGES)
    return out


def render(path):
    """The page as text, failing on any groff or man warning."""
    if shutil.which('man') is None or shutil.which('groff') is None:
        pytest.skip('man-db and groff not installed (packages man-db, '
                    'groff-base)')
    r = subprocess.run(['man', '--warnings', '-l', '-Tutf8', str(path)],
                       capture_output=True, timeout=60,
                       env=dict(os.environ, MANWIDTH='80', LANG='C.UTF-8'))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr == b'', r.stderr.decode()
    # man's -Tutf8 keeps overstrikes (bold, underline) and hyphens U+2010
    text = re.sub('.\b', '', r.stdout.decode()).replace('\u2010', '-')
    return ' '.join(text.split())   # words joined across line breaks


@pytest.mark.parametrize('page', PAGES)
def test_page_renders_without_warnings(built, page):
    text = render(built / (page + '.gz'))
    name = os.path.basename(page).rsplit('.', 1)[0]
    assert text.startswith(name.upper()), text[:80]
    assert 'SEE ALSO' in text


def test_hvctl_names_every_command(built):
    text = render(built / 'man1/hvctl.1.gz')
    commands = [name for name, _p, _h in manpages.subcommands(
        cli.build_parser())]
    assert len(commands) > 30
    for name in commands:
        assert ' hvctl %s' % name in text, name


def test_conf_names_every_group_and_option(built):
    text = render(built / 'man5/hvagent.conf.5.gz')
    groups = manpages.groups()
    assert {'DEFAULT', 'compute', 'metrics', 'database'} <= {
        g for g, _o in groups}
    for group, options in groups:
        assert '[%s]' % group in text, group
        for opt in options:
            assert re.search(r'\b%s = ' % re.escape(opt.dest), text), (
                group, opt.dest)
    # a type, a default and the help of one known option
    assert ('report_interval = 10 (integer value; min 1) Seconds between '
            'service heartbeats') in text


@pytest.mark.parametrize('daemon', sorted(manpages.DAEMONS))
def test_daemon_pages(built, daemon):
    text = render(built / ('man8/%s.8.gz' % daemon))
    for option in ('--config-file PATH', '--config-dir DIR',
                   'EXIT STATUS', '78', 'hvagent.conf(5)'):
        assert option in text, option
    if daemon == 'hvagent-api':
        assert '--bootstrap' in text and '--password-file' in text


def test_pages_are_reproducible(built, tmp_path):
    again = manpages.write(tmp_path)
    for path in again:
        rel = path.relative_to(tmp_path)
        assert path.read_bytes() == (built / rel).read_bytes(), rel
        assert gzip.decompress(path.read_bytes()).startswith(b'.TH ')
