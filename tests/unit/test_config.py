"""Config: the sample is current, files and --config-dir are read, and the
entry points setup.cfg declares resolve."""
import importlib.metadata
import os
import pathlib
import socket
import subprocess
import sys

from oslo_config import cfg

from agent.conf import opts as conf_opts
from virt import driver as virt_driver

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fresh_conf():
    conf = cfg.ConfigOpts()
    for group, options in conf_opts.list_opts():
        conf.register_opts(options, group=None if group == 'DEFAULT'
                           else group)
    return conf


def test_sample_config_is_current(tmp_path):
    out = tmp_path / 'sample.conf'
    generator = os.path.join(os.path.dirname(sys.executable),
                             'oslo-config-generator')
    subprocess.run([generator, '--config-file',
                    str(ROOT / 'etc/oslo-config-generator/hvagent.conf'),
                    '--output-file', str(out)], check=True, cwd=ROOT,
                   capture_output=True)
    current = (ROOT / 'etc/hvagent/hvagent.conf.sample').read_text()
    assert out.read_text() == current, (
        'etc/hvagent/hvagent.conf.sample is stale: regenerate it with '
        'oslo-config-generator --config-file '
        'etc/oslo-config-generator/hvagent.conf')


def test_host_defaults_to_hostname_and_files_override(tmp_path):
    conf = fresh_conf()
    conf([], default_config_files=[], default_config_dirs=[])
    assert conf.host == socket.gethostname()
    main = tmp_path / 'hvagent.conf'
    main.write_text('[DEFAULT]\nhost = node7\n[compute]\n'
                    'max_concurrent_builds = 3\n')
    confd = tmp_path / 'hvagent.conf.d'
    confd.mkdir()
    (confd / '10-db.conf').write_text(
        '[database]\nconnection = mysql+pymysql://u@db/hv\n')
    conf = fresh_conf()
    conf(['--config-file', str(main), '--config-dir', str(confd)])
    assert conf.host == 'node7'
    assert conf.compute.max_concurrent_builds == 3
    assert conf.database.connection == 'mysql+pymysql://u@db/hv'
    assert conf.compute.instances_path == conf.state_path + '/instances'


def test_entry_points_resolve():
    scripts = {ep.name: ep for ep in importlib.metadata.entry_points(
        group='console_scripts') if ep.name.startswith(('hvagent', 'hvctl'))}
    assert set(scripts) == {'hvagent-compute', 'hvagent-conductor',
                            'hvagent-scheduler', 'hvagent-allinone', 'hvctl',
                            'hvagent-api', 'hvagent-console-proxy'}
    for ep in scripts.values():
        assert callable(ep.load())
    assert type(virt_driver.load_driver('fake')).__name__ == 'FakeDriver'
    (opts,) = [ep for ep in importlib.metadata.entry_points(
        group='oslo.config.opts') if ep.name == 'hvagent']
    groups = [g if isinstance(g, str) else g.name for g, _ in opts.load()()]
    assert groups == ['DEFAULT', 'api', 'bus', 'compute', 'conductor',
                      'console', 'database', 'fake_driver', 'libvirt',
                      'metrics', 'migration', 'network',
                      'oslo_messaging_rabbit', 'quota', 'scheduler',
                      'upgrade_levels']
