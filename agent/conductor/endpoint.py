"""What the conductor's 1.2 endpoints share: their RPC target and engine."""
import oslo_messaging as messaging

from agent.db import session as db_session


class Endpoint:
    target = messaging.Target(version='1.2')  # see rpc.ConductorAPI

    def __init__(self, engine=None):
        self.engine = engine or db_session.get_engine()

    def _session(self):
        return db_session.session_scope(self.engine)
