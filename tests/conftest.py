"""Parse the global oslo config once, with no files, for every test, and
load the shared fixtures (tests/fixtures/) as plugins: a test takes one by
naming it as an argument, no module imports a fixture."""
import pytest
from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
import agent.rpc.transport  # noqa: F401  (registers transport_url & co)
from agent.security import bus_auth

pytest_plugins = [
    'tests.fixtures.fakes',            # conf
    'tests.fixtures.databases',        # empty_db_url, db_url
    'tests.fixtures.conductor',        # db_cloud, nets
    'tests.fixtures.brokers',          # vhost, private_broker,
                                       # rpc_client_transport
    'tests.fixtures.certs',            # tls_pki
    'tests.fixtures.api_cloud',        # api_cloud
    'tests.fixtures.libvirt_guests',   # libvirt_image, libvirt_state_dir,
                                       # libvirt_env
    'tests.fixtures.netns',            # netns_support, make_netns,
                                       # firewalled
    'tests.fixtures.second_host',      # second_host
    'tests.fixtures.libvirt_two_hosts',  # hosts, guest (two libvirtds)
    'tests.fixtures.browser',          # browser (headless Chromium)
]


@pytest.fixture(scope='session', autouse=True)
def _conf(tmp_path_factory):
    cfg.CONF([], project='hvagent', default_config_files=[],
             default_config_dirs=[])
    # one bus master secret for the session: this process signs with it,
    # and the services the functional tests start are given it
    # (tests.fixtures.deployment), as controllers sharing one secret
    secret = tmp_path_factory.mktemp('bus') / 'bus.secret'
    bus_auth.create_secret(str(secret))
    cfg.CONF.set_override('secret_file', str(secret), group='bus')
    yield
    cfg.CONF.reset()


def pytest_addoption(parser):
    parser.addoption(
        '--run-slow', action='store_true', default=False,
        help='also run the tests marked slow (minutes each: the systemd '
        'acceptance run, moves between two real hypervisor hosts); '
        '-m slow runs only them')


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` are skipped, with the way to run them as the
    reason, unless --run-slow is given or -m names the marker."""
    if config.getoption('--run-slow') or 'slow' in (
            config.getoption('markexpr') or ''):
        return
    skip = pytest.mark.skip(reason='slow: run with --run-slow '
                            '(or -m slow for these alone); docs/testing.md')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)
