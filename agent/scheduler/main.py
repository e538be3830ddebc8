"""hvagent-scheduler: places instances, serving topic scheduler."""
from oslo_config import cfg

from agent import rpc
from agent import service
from agent.conductor.manager import conductor_heartbeat
from agent.db import session as db_session
from agent.scheduler import manager

CONF = cfg.CONF
BINARY = 'hvagent-scheduler'


def build_service(engine=None):
    engine = engine or db_session.get_engine()
    server = rpc.get_server('scheduler', CONF.host,
                            [manager.SchedulerManager(engine)])
    heartbeat = service.Periodic(
        'heartbeat', CONF.report_interval,
        lambda: conductor_heartbeat(engine, CONF.host, BINARY))
    return service.Service(BINARY, [server], [heartbeat])


def main(argv=None):
    return service.run(build_service, argv)
