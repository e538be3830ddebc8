"""Fixtures shared by the functional tests (real daemons, real servers)."""
from agent.rpc import transport as rpc_transport
import pytest

from tests.dbfixtures import db_url, empty_db_url  # noqa: F401
from tests.functional.api_cloud import api_cloud  # noqa: F401
from tests.functional import rabbit


@pytest.fixture
def vhost():
    vh = rabbit.VHost()
    yield vh
    vh.delete()


@pytest.fixture
def rpc_client_transport():
    """Point this process's RPC clients at a URL (torn down afterwards)."""
    def init(url):
        rpc_transport.cleanup()
        return rpc_transport.init(url=url)
    yield init
    rpc_transport.cleanup()
