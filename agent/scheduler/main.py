"""hvagent-scheduler: places instances, serving topic scheduler."""
import sqlalchemy as sa
from oslo_config import cfg

from agent.daemon import service
from agent.db import api as db_api
from agent.db import migration
from agent.db import session as db_session
from agent.metrics import server as metrics_server
from agent.rpc import link
from agent.rpc import servers
from agent.scheduler import manager

CONF = cfg.CONF
BINARY = 'hvagent-scheduler'


def build_service(engine=None):
    """Open the metrics endpoint, then serve the scheduler endpoint."""
    return metrics_server.build_with_metrics(
        BINARY, 'scheduler_port', lambda m: _build(engine, m))


def _build(engine, metrics):
    engine = engine or db_session.get_engine()
    service.wait_for_bus_key(BINARY)
    # the conductor migrates the database; heartbeats and claims need its
    # tables (started together on a fresh database, they are not there)
    service.wait_for(BINARY, 'the database schema (hvagent-conductor '
                     'migrates it)', lambda: migration.migrated(engine),
                     (sa.exc.SQLAlchemyError, *db_session.NOT_YET))
    scheduler = manager.SchedulerManager(engine)
    if metrics is not None:
        metrics.add(*scheduler.metrics.collectors())
    server = servers.get_server('scheduler', CONF.host, [scheduler])
    heartbeat = service.Periodic(
        'heartbeat', CONF.report_interval, link.heartbeat_while_linked(
            link.BusLink(BINARY, server),
            lambda: db_api.record_heartbeat(engine, CONF.host, BINARY)))
    return service.Service(BINARY, [server], [heartbeat])


def main(argv=None):
    return service.run(build_service, argv)
