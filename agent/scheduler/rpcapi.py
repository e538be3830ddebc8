"""The client of hvagent-scheduler's RPC server (topic ``scheduler``).
The server is agent.scheduler.manager.SchedulerManager."""
from agent.rpc import clients


class SchedulerAPI(clients.Client):
    """Client side of topic ``scheduler``.

    Version history:
      1.0 - select_destination (call): place one RequestSpec, claim it in
            the database, return the host name
      1.1 - select_destination_for_move (call): the same for a move
            (RequestSpec 1.1 with migration_uuid; the claim is the
            migration's, the source is not a candidate)
    """
    TOPIC = 'scheduler'
    SERVICE = 'scheduler'

    def select_destination(self, ctxt, spec):
        return self._call(ctxt, 'select_destination', spec=spec)

    def select_destination_for_move(self, ctxt, spec):
        return self._call(ctxt, 'select_destination_for_move', spec=spec,
                          version='1.1')
