"""What every conductor endpoint shares: its engine and a session per
transaction (``_session``), the agents' client (``compute``, made at the
first cast) and the cast that tells agents their ports' rules changed
(``refresh_hosts``).

An endpoint class serves one resource; its ``target`` is the newest
conductor RPC version of the methods it serves (the default here is for
those whose methods all came by 1.2; see conductor_rpcapi.ConductorAPI's
version history)."""
import logging

import oslo_messaging as messaging

from agent import context
from agent.compute import rpcapi as compute_rpcapi
from agent.db import session as db_session

LOG = logging.getLogger(__name__)


class Endpoint:
    target = messaging.Target(version='1.2')

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

    def refresh_hosts(self, ctxt, hosts):
        """Cast refresh_networking to ``hosts``, after the commit; without
        the caller's token (agents need none to resync). A lost cast is
        caught by the agents' periodic resync."""
        quiet = context.RequestContext(
            request_id=ctxt.request_id, user_id=ctxt.user_id,
            project_id=ctxt.project_id, is_admin=ctxt.is_admin)
        for host in sorted(h for h in hosts if h):
            try:
                self.compute.refresh_networking(quiet, host)
            except Exception:   # the periodic resync catches up
                LOG.exception('refresh_networking to %s failed', host)
