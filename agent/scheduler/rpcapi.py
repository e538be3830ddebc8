"""The client of hvagent-scheduler's RPC server (topic ``scheduler``).
The server is agent.scheduler.manager.SchedulerManager."""
from agent.rpc import clients


class SchedulerAPI(clients.Client):
    """Client side of topic ``scheduler``.

    Version history:
      1.0 - select_destination (call): place one RequestSpec, claim it in
            the database, return the host name
    """
    TOPIC = 'scheduler'
    SERVICE = 'scheduler'

    def select_destination(self, ctxt, spec):
        return self._call(ctxt, 'select_destination', spec=spec)
