"""Live migration over RabbitMQ between two compute agents (fake driver).

The conductor and scheduler run as controllers; ``hvtest-node1`` and
``hvtest-node2`` each run hvagent-compute with what a production compute
node has: its own broker user (broker_perms.compute) and only its host
key. Every step of a move goes agent -> conductor -> agent through the
broker as it would in production, so these tests also prove that the
compute nodes' rights suffice for a move and that each step is admitted
from the right side only.
"""
import uuid

import pytest

from agent import context
from agent import exception
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states as S
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

NODES = ('hvtest-node1', 'hvtest-node2')


def node_config(dep, vhost, host, **extra):
    return deployment.compute_node_config(
        dep.tmp_path, host, vhost.compute_user(host),
        migration={'progress_interval': 0.2}, **extra)


@pytest.fixture
def cloud(tmp_path, vhost, rpc_client_transport):
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'))
    try:
        dep.start('hvagent-conductor', 'hvagent-scheduler')
        for host in NODES:
            dep.start('hvagent-compute', as_name=host, config=node_config(
                dep, vhost, host,
                fake_driver={'migration_seconds': 20}
                if host == NODES[1] else {}))
        rpc_client_transport(vhost.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.admin = context.RequestContext(user_id='admin',
                                           project_id='admin', is_admin=True)
        wait_until(lambda: {h['service'].host for h in dep.conductor.host_list(
            dep.ctxt) if h['service'].up} >= set(NODES), 60)
        yield dep
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


def boot_on(dep, host):
    inst = dep.conductor.boot_instance(
        dep.ctxt, name='mover-%s' % uuid.uuid4().hex[:6], flavor='m1.tiny',
        image_ref=None, availability_zone=None, hints={}, metadata={},
        networks=[])
    inst = deployment.settle(dep, inst.uuid)
    if inst.host != host:
        dep.conductor.live_migrate(dep.admin, ref=inst.uuid, host=host)
        inst = deployment.settle(dep, inst.uuid)
    assert (inst.host, inst.vm_state) == (host, S.ACTIVE)
    return inst


def migration_of(dep, inst):
    return dep.conductor.migration_list(dep.admin, ref=inst.uuid)[0]


def test_live_migration_there_and_back(cloud):
    """node1 -> node2 (the scheduler's choice), node2 -> node1 (named)."""
    inst = boot_on(cloud, NODES[0])
    mig = cloud.conductor.live_migrate(cloud.admin, ref=inst.uuid)
    inst = deployment.settle(cloud, inst.uuid)
    assert (inst.host, inst.vm_state, inst.power_state) == (
        NODES[1], S.ACTIVE, S.RUNNING)
    assert cloud.conductor.migration_show(
        cloud.admin, migration_uuid=mig.uuid).status == S.MIGRATION_COMPLETED
    out = cloud.conductor.console_output(cloud.ctxt, ref=inst.uuid,
                                         length=None)
    assert 'migrated in' in out and 'fake-bios' not in out
    cloud.conductor.live_migrate(cloud.admin, ref=inst.uuid, host=NODES[0])
    inst = deployment.settle(cloud, inst.uuid)
    assert inst.host == NODES[0]
    for name in NODES:
        log = cloud.log(name)
        assert 'Traceback' not in log and ' ERROR ' not in log, log


def test_abort_over_the_bus(cloud):
    """node2's moves take 20 s: aborted while it copies, the guest stays
    there, the move is cancelled and node1 has nothing left."""
    inst = boot_on(cloud, NODES[1])
    mig = cloud.conductor.live_migrate(cloud.admin, ref=inst.uuid)
    wait_until(lambda: migration_of(cloud, inst).memory_processed > 0, 30)
    cloud.conductor.migration_abort(cloud.admin, ref=inst.uuid)
    inst = deployment.settle(cloud, inst.uuid)
    assert (inst.host, inst.vm_state) == (NODES[1], S.ACTIVE)
    mig = cloud.conductor.migration_show(cloud.admin, migration_uuid=mig.uuid)
    assert mig.status == S.MIGRATION_CANCELLED
    assert mig.error.startswith('Live migration of %s was aborted'
                                % inst.uuid), mig.error
    hosts = {h['node'].host: h['node'] for h in cloud.conductor.host_list(
        cloud.ctxt) if h['node']}
    assert hosts[NODES[0]].running_vms == 0
    assert hosts[NODES[1]].running_vms == 1


def test_users_cannot_move_instances(cloud):
    inst = boot_on(cloud, NODES[0])
    with pytest.raises(exception.AdminRequired):
        cloud.conductor.live_migrate(cloud.ctxt, ref=inst.uuid)
    with pytest.raises(exception.AdminRequired):
        cloud.conductor.migration_list(cloud.ctxt)
