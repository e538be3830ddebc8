"""hvagent-conductor: the database's only writer, serving topic conductor."""
from oslo_config import cfg

from agent.compute import rpcapi as compute_rpcapi
from agent.conductor import agent_calls
from agent.conductor import auth
from agent.conductor import change_notices
from agent.conductor import consoles
from agent.conductor import evacuations
from agent.conductor import failed_builds
from agent.conductor import fixed_ips
from agent.conductor import floating_ips
from agent.conductor import identity
from agent.conductor import images
from agent.conductor import instances
from agent.conductor import interfaces
from agent.conductor import keypairs
from agent.conductor import lifecycle
from agent.conductor import migration_steps
from agent.conductor import migrations
from agent.conductor import networks
from agent.conductor import quota
from agent.conductor import report_queue
from agent.conductor import resize_steps
from agent.conductor import resizes
from agent.conductor import rpcapi as conductor_rpcapi
from agent.conductor import services as conductor_services
from agent.conductor import snapshots
from agent.conductor import volumes
from agent.conductor import watch
from agent.daemon import service
from agent.db import api as db_api
from agent.db import migration
from agent.db import session as db_session
from agent.metrics import controller as controller_metrics
from agent.metrics import server as metrics_server
from agent.rpc import link
from agent.rpc import servers
from agent.security import bus_auth

CONF = cfg.CONF
BINARY = 'hvagent-conductor'


#: the conductor's endpoints by topic (the clients' classes in
#: agent.conductor.rpcapi: AgentMethods, UserMethods, IdentityMethods)
ENDPOINTS = {
    conductor_rpcapi.AGENT_TOPIC: (agent_calls.AgentManager,
                                   migration_steps.MigrationSteps,
                                   resize_steps.ResizeSteps,
                                   snapshots.SnapshotAgentManager,
                                   interfaces.InterfaceAgentManager),
    conductor_rpcapi.API_TOPIC: (
        lifecycle.LifecycleManager, networks.NetworkManager,
        instances.InstanceManager, keypairs.KeyPairManager,
        quota.QuotaManager, images.ImageManager, volumes.VolumeManager,
        floating_ips.FloatingIPManager, fixed_ips.FixedIPManager,
        migrations.MigrationManager, evacuations.EvacuationManager,
        resizes.ResizeManager, consoles.ConsoleManager,
        snapshots.SnapshotManager, interfaces.InterfaceManager,
        conductor_services.ServiceManager),
    conductor_rpcapi.IDENTITY_TOPIC: (identity.IdentityManager,
                                      auth.AuthManager),
}


def build_service(engine=None):
    """Open the metrics endpoint, migrate the database to head, then
    serve the conductor endpoints."""
    return metrics_server.build_with_metrics(
        BINARY, 'conductor_port',
        lambda m: _build(engine or db_session.get_engine(), m))


def _build(engine, metrics):
    bus_auth.create_secret(CONF.bus.secret_file)
    service.wait_for(BINARY, 'the database', lambda: migration.reachable(
        engine), db_session.NOT_YET)
    migration.upgrade(engine.url.render_as_string(hide_password=False))
    # one server per audience (conductor_rpcapi): compute nodes reach only
    # the first, and the broker keeps them off the other two's queues
    endpoints = {topic: [cls(engine) for cls in classes]
                 for topic, classes in ENDPOINTS.items()}
    agents, users, identity_server = (
        servers.get_server(topic, CONF.host, endpoints[topic],
                           audience=bus_auth.AGENTS
                           if topic == conductor_rpcapi.AGENT_TOPIC
                           else bus_auth.CONTROLLERS)
        for topic in ENDPOINTS)
    # a heartbeat only while the conductor serves its queue: cut off from
    # the message bus it shows down
    heartbeat = service.Periodic(
        'heartbeat', CONF.report_interval, link.heartbeat_while_linked(
            link.BusLink(BINARY, agents),
            lambda: db_api.record_heartbeat(engine, CONF.host, BINARY)))
    # compute nodes' periodic resource reports, in batches
    manager = endpoints[conductor_rpcapi.AGENT_TOPIC][0]
    reader = report_queue.ReportQueue(manager)
    periodics = [heartbeat, service.Periodic(
        'report-queue', 0, reader.read_batch, cancel=reader.cancel)]
    if CONF.conductor.sweep_interval:
        # boots a stopped conductor or scheduler left in scheduling
        periodics.append(service.Periodic(
            'scheduling-sweeper', CONF.conductor.sweep_interval,
            failed_builds.Sweeper(engine,
                                  compute_rpcapi.ComputeAPI()).sweep))
    if metrics is not None:
        metrics.add(controller_metrics.ServiceStatusCollector(engine))
    # instance changes told to the processes that wait on them
    watch.publisher = change_notices.Publisher().start()
    # the queued resource reports are written before the service ends
    return service.Service(BINARY, [agents, users, identity_server],
                           periodics, on_stop=[manager.reports.stop,
                                               reader.close, _stop_notices])


def _stop_notices():
    publisher, watch.publisher = watch.publisher, None
    if publisher is not None:
        publisher.stop()


def main(argv=None):
    return service.run(build_service, argv)
