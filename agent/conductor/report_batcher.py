"""Resource reports and heartbeats of known compute nodes, written together.

Every compute node reports every ``report_interval`` seconds; written one
by one, each report is a transaction of its own (a connection from the
pool, two statements, a commit) on the conductor's hot path. A node this
conductor has already recorded once (its first report goes the checked,
synchronous way: db.compute_node_update refuses a node claimed by another
host) is only queued here; one thread writes what has queued, at once if
it is idle, else ``GAP`` seconds after its last write: each node's UPDATE
and one heartbeat UPDATE for all of their hosts, in one transaction.

The agent's call returns once its report is queued: a conductor killed
before the write loses at most ``GAP`` seconds of reports, which the next
ones (``report_interval`` later) replace. A node whose row went away (or
moved to another host) is forgotten, and its next report is checked again.
"""
import logging
import threading

from agent.db import api as db
from agent.db import models
from agent.db import session as db_session

LOG = logging.getLogger(__name__)
GAP = 0.05
BINARY = 'hvagent-compute'


class ReportBatcher:
    def __init__(self, engine):
        self.engine = engine
        self._known: dict[str, str] = {}      # node uuid -> its host
        self._pending: dict[str, tuple] = {}  # node uuid -> (host, values)
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None
        self._writing = threading.Lock()   # one write at a time
        self.writes = 0      # transactions written, for tests and benchmarks

    def learned(self, node):
        """``node``'s report was recorded the checked way."""
        with self._cond:
            self._known[node.uuid] = node.host

    def accept(self, node):
        """Queue ``node``'s report if the node is known; False if it must
        go the checked way."""
        values = {name: getattr(node, name)
                  for name in db.REPORTED_NODE_FIELDS}
        with self._cond:
            if self._stopping or self._known.get(node.uuid) != node.host:
                return False
            self._pending[node.uuid] = (node.host, values)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name='report-writer')
                self._thread.start()
            self._cond.notify()
        return True

    def stop(self):
        """Write what is queued, then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
        else:
            self.flush()

    def _run(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
            self.flush()
            with self._cond:
                if self._stopping and not self._pending:
                    return
                self._cond.wait_for(lambda: self._stopping, GAP)

    def flush(self):
        """Write what is queued; when it returns, every report queued
        before the call is written (or dropped with a warning)."""
        with self._writing:
            self._flush()

    def _flush(self):
        with self._cond:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        now = models.utcnow()
        try:
            with db_session.session_scope(self.engine) as s:
                gone = db.compute_node_reports(s, batch, now)
                hosts = {host for uuid, (host, _) in batch.items()
                         if uuid not in gone}
                if hosts and db.service_heartbeats(s, hosts, BINARY,
                                                   now) < len(hosts):
                    gone = list(batch)   # a service row went: check all
            self.writes += 1
        except Exception as e:     # the next reports replace these
            LOG.warning('%d resource report(s) not recorded (%s); the '
                        'next ones will be', len(batch), e)
            return
        if gone:
            with self._cond:
                for uuid in gone:
                    self._known.pop(uuid, None)
