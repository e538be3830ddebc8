"""``hvctl host-drain``: every live-movable instance off a host, a few at
a time, client-side as novaclient's host-evacuate-live (admins).

``Drain`` is the bookkeeping alone (which instance moves next, what
changed, what the summary says), with no I/O; ``host_drain`` runs it
against either back end (``b``: a bus_backend.Backend or an
api_backend.Backend): it disables the host (reason "drain") unless told
not to, starts at most ``--max-concurrent`` moves at once, prints one line
per change and at the end the summary; exit code 0 if every instance
moved.
"""
import collections
import dataclasses
import sys
import time

from agent.cli import output
from agent.cli import views
from agent.objects import models
from agent.objects import states

COMPUTE = models.COMPUTE_BINARY
REASON = 'drain'
#: the vm_states a guest moves live in (the conductor's LIVE_STATES)
LIVE = (states.ACTIVE, states.PAUSED)
MOVED = states.MIGRATION_COMPLETED
FAILED = (states.MIGRATION_ERROR, states.MIGRATION_CANCELLED)
#: seconds between two looks at the moves in progress (one migration_show
#: per running move each time); a drain at --max-concurrent 1 waits up to
#: this long between two moves (tools/bench/live_migration_agents.py)
POLL = 0.2


@dataclasses.dataclass
class Move:
    """One instance of the host and how far its move got."""
    uuid: str
    name: str
    host: str
    vm_state: str
    migration: str | None = None
    status: str | None = None       # the migration's; None: not started
    memory: str | None = None       # percent of memory copied
    dest: str | None = None
    reason: str | None = None       # why it did not move
    done: bool = False

    @property
    def moved(self):
        return self.status == MOVED

    def line(self):
        """The progress line of this move as it stands."""
        text = '%s (%s): %s' % (self.name, self.uuid, self.status)
        if self.dest and not self.done:
            text += ' -> %s' % self.dest
        if self.memory is not None and not self.done:
            text += ', memory %s' % self.memory
        if self.done:
            text += ' (moved to %s)' % self.dest if self.moved else \
                ': %s' % self.reason
        return views.safe(text)


class Drain:
    """What a drain of ``instances`` (records with uuid, name, host and
    vm_state) did so far, with at most ``max_concurrent`` moves at once."""

    def __init__(self, instances, max_concurrent=2):
        self.moves = [Move(i['uuid'], i['name'], i['host'], i['vm_state'])
                      for i in instances]
        self.max_concurrent = max(1, max_concurrent)
        self.waiting = collections.deque()
        for move in self.moves:
            if move.vm_state in LIVE:
                self.waiting.append(move)
            else:
                self._end(move, 'not moved', 'vm_state %s: only active '
                          'and paused instances move live' % move.vm_state)

    def _end(self, move, status, reason=None):
        move.status, move.reason, move.done = status, reason, True
        return move.line()

    def skipped(self):
        """The lines of the instances that will not be tried."""
        return [m.line() for m in self.moves if m.done]

    def running(self):
        return [m for m in self.moves if m.migration and not m.done]

    def to_start(self):
        """The instances to start moving now (taken off the queue)."""
        free = self.max_concurrent - len(self.running())
        return [self.waiting.popleft()
                for _ in range(min(free, len(self.waiting)))]

    def refused(self, move, reason):
        """The move was refused at its start (no host fits...)."""
        return self._end(move, 'refused', reason)

    def update(self, move, migration):
        """Record a look at the move's migration (a record as the views
        read it); the progress line if something changed, else None."""
        before = (move.status, move.memory, move.dest)
        move.migration = migration['id']
        move.status, move.dest = migration['status'], \
            migration['dest_compute']
        move.memory = views.percent(migration['memory_processed_bytes'],
                              migration['memory_total_bytes'])
        if move.status == MOVED:
            move.done = True
        elif move.status in FAILED:
            move.done = True
            move.reason = migration['error'] or move.status
        if (move.status, move.memory, move.dest) == before:
            return None
        return move.line()

    def time_out(self, seconds):
        """Give up on what is left; the lines of those moves (a move in
        progress carries on without us)."""
        left = self.running() + list(self.waiting)
        self.waiting.clear()
        return [self._end(m, 'timed out', 'still %s after %gs' % (
            m.status or 'waiting to start', seconds)) for m in left]

    @property
    def finished(self):
        return not self.waiting and not self.running()

    def summary(self):
        """One record per instance for views.DRAIN."""
        return [{'uuid': m.uuid, 'name': m.name,
                 'result': 'moved' if m.moved else 'not moved',
                 'host': m.dest if m.moved else m.host,
                 'migration': m.migration,
                 'reason': None if m.moved else m.reason}
                for m in self.moves]

    @property
    def exit_code(self):
        return 0 if all(m.moved for m in self.moves) else 1


def host_drain(b, args, out, sleep=time.sleep, clock=time.monotonic):
    progress = out if not args.json else (
        lambda line: print(line, file=sys.stderr))
    if not args.no_disable:
        b.service_update(args.host, COMPUTE, True, REASON)
    plan = Drain([b.adapt('instance', i) for i in b.instances_on(args.host)],
                 args.max_concurrent)
    for line in plan.skipped():
        progress(line)
    deadline = None if args.drain_timeout is None \
        else clock() + args.drain_timeout
    while not plan.finished:
        for move in plan.to_start():
            try:
                mig = b.live_migrate(move.uuid, None, None)
            except b.refusals as e:
                progress(plan.refused(move, b.reason(e)))
                continue
            progress(plan.update(move, b.adapt('migration', mig)))
        for move in plan.running():
            line = plan.update(move, b.adapt('migration',
                                             b.migration(move.migration)))
            if line:
                progress(line)
        if plan.finished:
            break
        if deadline is not None and clock() >= deadline:
            for line in plan.time_out(args.drain_timeout):
                progress(line)
            break
        sleep(POLL)
    if args.json:
        out(output.dumps(plan.summary()))
    else:
        out(views.DRAIN.render(plan.summary()))
    return plan.exit_code
