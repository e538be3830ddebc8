"""What the conductor's endpoints share: their RPC target, their engine
and, for those that tell the agents of a change, the agents' client."""
import oslo_messaging as messaging

from agent.compute import rpcapi as compute_rpcapi
from agent.db import session as db_session


class Endpoint:
    target = messaging.Target(version='1.2')  # see conductor_rpcapi.ConductorAPI

    def __init__(self, engine=None, compute=None):
        self.engine = engine or db_session.get_engine()
        self._compute = compute

    def _session(self):
        return db_session.session_scope(self.engine)

    @property
    def compute(self):
        """The agents' client (compute_rpcapi.ComputeAPI), made at the first cast."""
        if self._compute is None:
            self._compute = compute_rpcapi.ComputeAPI()
        return self._compute
