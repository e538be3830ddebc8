"""The production broker: a three-node RabbitMQ cluster (private nodes on
loopback, tests.fixtures.rabbit_cluster), quorum queues for the durable
topics, every service on the multi-host transport URL. One node is killed
(SIGKILL) in the middle of a boot storm: the services connected to it
fail over to the others, the queues it led elect new leaders, and no
boot is lost or stranded
(tests.functional.boot_storm), on MariaDB and on PostgreSQL."""
import pytest

from tests.fixtures.rabbit_cluster import RabbitCluster
from tests.functional import boot_storm
from tools.fleet import cloud

CALL_TIMEOUT = 6


@pytest.mark.parametrize('backend', [
    'mysql',
    # the same storm on PostgreSQL: slow (CI's time), run with --run-slow
    pytest.param('postgresql', marks=pytest.mark.slow)])
def test_killing_a_broker_node_mid_storm_loses_no_boot(tmp_path, backend):
    # (skips, with the reason, where rabbitmq-server is not installed; the
    # shared broker is not used)
    cluster = RabbitCluster().start()
    fleet = cloud.Fleet(
        tmp_path, hosts=4, per_process=2, db=backend, report_interval=2,
        transport_url=cluster.url,
        extra={'DEFAULT': {'rpc_call_timeout': CALL_TIMEOUT},
               'oslo_messaging_rabbit': {'rabbit_quorum_queue': True},
               'conductor': {'sweep_interval': 1,
                             'scheduling_timeout': 30}})
    try:
        assert len(cluster.running_nodes()) == 3
        fleet.start(conductors=2, schedulers=2)
        types = cluster.queue_types()
        durable = [q for q in types if q in ('conductor', 'scheduler')
                   or q.startswith('compute.')]
        assert len(durable) >= 6, types
        assert {types[q] for q in durable} == {'quorum'}, types
        # the services spread over the nodes (oslo.messaging shuffles
        # the URL's hosts); some are on the node about to die
        before = cluster.connections()
        assert before[0] > 0, before
        outcome = boot_storm.run(fleet, tmp_path,
                                 lambda: cluster.kill(0))
        # the two left still hold the quorum queues, and the services
        assert len(cluster.running_nodes(via=1)) == 2
        after = cluster.connections(via=1)
        assert 0 not in after and sum(after.values()) >= \
            sum(before.values()) - 2, (before, after)
        print('connections before the kill: %s, after: %s'
              % (dict(before), dict(after)))
        assert {cluster.queue_types(via=1)[q] for q in durable} \
            == {'quorum'}
    finally:
        fleet.stop()
        cluster.stop()
    boot_storm.check(outcome)
