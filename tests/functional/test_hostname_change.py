"""The host's name changes under a compute node: the agent keeps its
identity (the node uuid persisted in its state directory), refuses to start
under the new name with a message saying what to do, and the database
never gets a second compute node for the same machine.

Real processes over real RabbitMQ (a private vhost), fake driver, SQLite.
"""

import pytest
import sqlalchemy as sa

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.db import models
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

COMPUTE = 'hvagent-compute'


def compute_nodes(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(
                models.ComputeNode.uuid, models.ComputeNode.host)).all()
    finally:
        engine.dispose()


def test_renamed_host_refuses_to_start_and_never_duplicates_its_node(
        tmp_path, vhost, rpc_client_transport):
    db_url = 'sqlite:///%s' % (tmp_path / 'hv.sqlite')
    dep = deployment.Deployment(tmp_path, vhost.url, db_url,
                                host='oldname')
    rpc_client_transport(vhost.url)
    conductor = conductor_rpcapi.ConductorAPI(timeout=30)
    ctxt = context.RequestContext(user_id='admin', project_id='admin')
    try:
        dep.start('hvagent-conductor', 'hvagent-scheduler', COMPUTE)
        dep.ready(COMPUTE)
        [(node_uuid, host)] = compute_nodes(db_url)
        assert host == 'oldname'
        identity = (tmp_path / 'state' / 'compute_node_uuid').read_text()
        assert identity.strip() == node_uuid
        assert dep.stop(COMPUTE) == {COMPUTE: 0}

        # the machine is renamed: same state directory, new host name
        dep.config.write_text(dep.config.read_text().replace(
            'host = oldname', 'host = newname'))
        dep.start(COMPUTE)
        proc = dep.procs[COMPUTE]
        assert proc.wait(60) != 0
        log = dep.log(COMPUTE, this_life=True)
        assert 'belongs to host oldname' in log, log
        assert '[DEFAULT] host = oldname' in log, log    # what to do
        assert 'Traceback' not in log, log
        dep.procs.pop(COMPUTE)
        assert compute_nodes(db_url) == [(node_uuid, 'oldname')]

        # back to the old name: the same node again, still one row
        dep.config.write_text(dep.config.read_text().replace(
            'host = newname', 'host = oldname'))
        dep.start(COMPUTE)
        dep.ready(COMPUTE)
        wait_until(lambda: any(
            h['service'].up and h['service'].host == 'oldname'
            for h in conductor.host_list(ctxt)
            if h['service'].binary == COMPUTE), 30, interval=0.2,
            message='the agent under its old name up again')
        assert compute_nodes(db_url) == [(node_uuid, 'oldname')]
    finally:
        codes = dep.stop()
    assert set(codes.values()) <= {0}, codes
