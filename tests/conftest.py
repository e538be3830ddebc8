"""Parse the global oslo config once, with no files, for every test."""
import pytest
from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
import agent.rpc.transport  # noqa: F401  (registers transport_url & co)
from agent.security import bus_auth


@pytest.fixture(scope='session', autouse=True)
def _conf(tmp_path_factory):
    cfg.CONF([], project='hvagent', default_config_files=[],
             default_config_dirs=[])
    # one bus master secret for the session: this process signs with it,
    # and the services the functional tests start are given it
    # (tests.functional.deployment), as controllers sharing one secret
    secret = tmp_path_factory.mktemp('bus') / 'bus.secret'
    bus_auth.create_secret(str(secret))
    cfg.CONF.set_override('secret_file', str(secret), group='bus')
    yield
    cfg.CONF.reset()
