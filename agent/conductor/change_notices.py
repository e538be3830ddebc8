"""The conductor's side of the instance change notices
(agent.conductor.changes_rpcapi): every committed change of an instance
row is announced to the waiting processes, batched.

The committing thread only adds the uuids to a set; one thread sends them,
at once if it is idle, else together with everything that changed while
it was sending and during ``GAP`` seconds after: at most 1/GAP notices a
second whatever the commit rate, each naming up to ``MAX_UUIDS`` uuids. A
notice that cannot be sent (broker away) is dropped with a warning: a
waiter also re-reads on a timer (agent.cli.change_waiter).
"""
import logging
import threading

from agent import context
from agent.conductor import changes_rpcapi

LOG = logging.getLogger(__name__)
GAP = 0.01
MAX_UUIDS = 500


class Publisher:
    def __init__(self, api=None):
        self.api = api or changes_rpcapi.ChangesAPI()
        self._pending: dict[str, bool | None] = {}   # uuid -> busy
        self._cond = threading.Condition()
        self._stopping = False
        self.sent = 0       # notices sent, for tests and benchmarks
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='change-notices')

    def start(self):
        self._thread.start()
        return self

    def changed(self, uuids):
        """Announce ``uuids`` ({uuid: busy}, see db.mark_changed; called
        after a commit, never blocks on the broker)."""
        with self._cond:
            self._pending.update(uuids)
            self._cond.notify()

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self):
        ctxt = context.admin_context()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                pending, self._pending = self._pending, {}
            batch = sorted(pending)
            for start in range(0, len(batch), MAX_UUIDS):
                part = batch[start:start + MAX_UUIDS]
                try:
                    self.api.instances_changed(
                        ctxt, uuids=part, busy=[u for u in part if pending[u]])
                    self.sent += 1
                except Exception as e:   # waiters re-read on their timer
                    LOG.warning('Instance change notice not sent (%s): '
                                'waiters see the change on their next '
                                'read', e)
            with self._cond:    # gather what changes meanwhile
                self._cond.wait_for(lambda: self._stopping, GAP)
