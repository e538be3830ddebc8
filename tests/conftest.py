"""Parse the global oslo config once, with no files, for every test."""
import pytest
from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
import agent.rpc  # noqa: F401  (registers transport_url & co)


@pytest.fixture(scope='session', autouse=True)
def _conf():
    cfg.CONF([], project='hvagent', default_config_files=[],
             default_config_dirs=[])
    yield
    cfg.CONF.reset()
