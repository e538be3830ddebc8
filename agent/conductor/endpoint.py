"""What the conductor's endpoints share: their RPC target, their engine
and, for those that tell the agents of a change, the agents' client."""
import oslo_messaging as messaging

from agent import rpc
from agent.db import session as db_session


class Endpoint:
    target = messaging.Target(version='1.2')  # see rpc.ConductorAPI

    def __init__(self, engine=None, compute=None):
        self.engine = engine or db_session.get_engine()
        self._compute = compute

    def _session(self):
        return db_session.session_scope(self.engine)

    @property
    def compute(self):
        """The agents' client (rpc.ComputeAPI), made at the first cast."""
        if self._compute is None:
            self._compute = rpc.ComputeAPI()
        return self._compute
