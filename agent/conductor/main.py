"""hvagent-conductor: the database's only writer, serving topic conductor."""
from oslo_config import cfg
import sqlalchemy as sa

from agent import bus
from agent import bus_auth
from agent import rpc
from agent import service
from agent.conductor import auth
from agent.conductor import fixed_ips
from agent.conductor import floating_ips
from agent.conductor import identity
from agent.conductor import images
from agent.conductor import instances
from agent.conductor import keypairs
from agent.conductor import manager
from agent.conductor import networks
from agent.conductor import quota
from agent.conductor import tasks
from agent.conductor import volumes
from agent.db import migration
from agent.db import session as db_session
from agent.metrics import controller as controller_metrics
from agent.metrics import server as metrics_server

CONF = cfg.CONF
BINARY = 'hvagent-conductor'


def build_service(engine=None):
    """Open the metrics endpoint, migrate the database to head, then
    serve the conductor endpoints."""
    return metrics_server.build_with_metrics(
        BINARY, 'conductor_port',
        lambda m: _build(engine or db_session.get_engine(), m))


def _build(engine, metrics):
    bus_auth.create_secret(CONF.bus.secret_file)
    service.wait_for(BINARY, 'the database', lambda: migration.reachable(
        engine), sa.exc.OperationalError)
    migration.upgrade(engine.url.render_as_string(hide_password=False))
    # one server per audience (rpc.ConductorAPI): compute nodes reach only
    # the first, and the broker keeps them off the other two's queues
    agents = rpc.get_server(rpc.AGENT_TOPIC, CONF.host, [
        manager.ConductorManager(engine)], audience=bus_auth.AGENTS)
    users = rpc.get_server(rpc.API_TOPIC, CONF.host, [
        tasks.ComputeTaskManager(engine), networks.NetworkManager(engine),
        instances.InstanceManager(engine), keypairs.KeyPairManager(engine),
        quota.QuotaManager(engine), images.ImageManager(engine),
        volumes.VolumeManager(engine),
        floating_ips.FloatingIPManager(engine),
        fixed_ips.FixedIPManager(engine)])
    identity_server = rpc.get_server(rpc.IDENTITY_TOPIC, CONF.host, [
        identity.IdentityManager(engine), auth.AuthManager(engine)])
    # a heartbeat only while the conductor serves its queue: cut off from
    # the message bus it shows down
    heartbeat = service.Periodic(
        'heartbeat', CONF.report_interval, bus.heartbeat_while_linked(
            bus.BusLink(BINARY, agents),
            lambda: manager.conductor_heartbeat(engine, CONF.host, BINARY)))
    if metrics is not None:
        metrics.add(controller_metrics.ServiceStatusCollector(engine))
    return service.Service(BINARY, [agents, users, identity_server],
                           [heartbeat])


def main(argv=None):
    return service.run(build_service, argv)
