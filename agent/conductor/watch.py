"""Long polls on instance state: woken by commits, not by a timer.

A waiter (``instance_wait``, used by ``hvctl --wait`` and the all-in-one)
would otherwise poll the database over RPC every few milliseconds, loading
the conductor it waits on. Instead every committed change of an instance
row in this process wakes the waiters of that instance at once. Changes
made by another conductor process are not seen that way, so a waiter also
re-reads the database every ``RECHECK`` seconds. The same changes go to
``publisher`` (change_notices), which tells the waiting processes.

Changes are collected per session: ORM changes of Instance rows when they
are flushed, and the Core UPDATEs of ``db.api.instance_update``, which
marks them itself; they are announced only after the commit.
"""
import threading
import time

from sqlalchemy import event, orm

from agent.db import api as db
from agent.db import models

RECHECK = 0.5
_changed = threading.Condition()
_watched = {}   # uuid -> [waiters, committed changes]; only while waited on
#: the conductor's change_notices.Publisher (None: nothing announced
#: beyond this process)
publisher = None


@event.listens_for(orm.Session, 'after_flush')
def _collect(session, _flush_context):
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, models.Instance):
            db.mark_changed(session, obj.uuid,
                            busy=obj.task_state is not None)


@event.listens_for(orm.Session, 'after_commit')
def _announce(session):
    uuids = session.info.pop(db.CHANGED_KEY, {})
    if uuids and publisher is not None:
        publisher.changed(uuids)
    with _changed:
        watched = [_watched[u] for u in uuids if u in _watched]
        for entry in watched:
            entry[1] += 1
        if watched:
            _changed.notify_all()


@event.listens_for(orm.Session, 'after_rollback')
def _forget(session):
    session.info.pop(db.CHANGED_KEY, None)


def wait(uuid, read, done, timeout, probe=None):
    """Return ``read()`` once ``done`` holds for it, or when ``timeout``
    seconds have passed (``read`` runs at least once). With ``probe``, a
    cheaper read ``done`` also accepts, each wakeup runs the probe and
    ``read`` only once the probe says done (or at the timeout)."""
    deadline = time.monotonic() + timeout
    with _changed:
        entry = _watched.setdefault(uuid, [0, 0])
        entry[0] += 1
    try:
        while True:
            generation = entry[1]
            left = deadline - time.monotonic()
            if probe is None or left <= 0 or done(probe()):
                current = read()
                if done(current) or left <= 0:
                    return current
            with _changed:
                _changed.wait_for(lambda: entry[1] != generation,
                                  min(left, RECHECK))
    finally:
        with _changed:
            entry[0] -= 1
            if not entry[0]:
                del _watched[uuid]
