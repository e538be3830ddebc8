"""How a boot that cannot go on ends, and the sweep that ends the boots a
stopped conductor or scheduler left behind.

A new instance is in task ``scheduling`` from the moment its row is
written until its host's agent starts the build (a compare and swap from
``scheduling`` to ``spawning``). The conductor that took the boot request
asks a scheduler for a host, which claims it, then casts the build to
that host. A conductor killed in between leaves the instance there for
ever: nothing else would move it. So every conductor sweeps, every
``[conductor] sweep_interval`` seconds, for boots in ``scheduling`` longer
than they can legitimately be:

- not placed (no claim) for more than twice ``rpc_call_timeout``: a live
  conductor fails such a boot itself once the scheduler has not answered
  within one. It ends in ``error``.
- placed (claimed) but not started for as long: the build request may
  never have reached the host (its conductor stopped between the claim
  and the cast). The build is sent to the host again; that is safe, for a
  build runs once (a second request finds the instance started, and is
  skipped, or adopts the guest a first one left: agent.compute.manager).
  Again every twice ``rpc_call_timeout`` while the host's agent has not
  started it.
- placed more than ``[conductor] scheduling_timeout`` ago and still not
  started: the host stayed away all that time. It ends in ``error``.

A boot ended here has a fault; its claim and ports are given back and its
``create`` action finishes as Error. Every write is a guarded UPDATE
(still ``scheduling``, still as old, claimed as read), so when conductors
race, or the host's agent starts the build at that very moment, exactly
one of them wins; the agent's late start then finds the instance no
longer ``scheduling`` and leaves it alone, and a scheduler's late claim
finds it unclaimable (agent.scheduler.claim).
"""
import datetime
import logging

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

from agent import context
from agent import exception
from agent.conductor import ipam
from agent.db import api as db
from agent.db import models
from agent.objects import states
from agent.scheduler import claim

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

_I = models.Instance.__table__
_A = models.InstanceAction.__table__
_AGE = sa.func.coalesce(_I.c.updated_at, _I.c.created_at)
_STUCK = sa.select(_I.c.uuid, _I.c.claimed, _I.c.host, _I.c.created_at).where(
    _I.c.deleted == 0, _I.c.task_state == states.SCHEDULING,
    _AGE < sa.bindparam('before'))


def _guarded(clock):
    """An UPDATE of a boot still in ``scheduling``, claimed as read and
    with ``clock`` still before ``before``."""
    return sa.update(_I).where(
        _I.c.uuid == sa.bindparam('u'), _I.c.deleted == 0,
        _I.c.task_state == states.SCHEDULING,
        _I.c.claimed == sa.bindparam('was_claimed'),
        clock < sa.bindparam('before'))


#: the failure of a boot unchanged (unplaced) or made (placed) too long ago
_SETTLE = {placed: _guarded(clock).values(vm_state=states.ERROR,
                                          task_state=None)
           for placed, clock in ((False, _AGE), (True, _I.c.created_at))}
#: a placed boot's build sent again: its clock starts over
_RESEND = _guarded(_AGE).values(updated_at=sa.bindparam('now'))
_CREATE = sa.select(_A.c.request_id, _A.c.user_id, _A.c.project_id).where(
    _A.c.instance_uuid == sa.bindparam('u'), _A.c.action == 'create'
).order_by(_A.c.id.desc()).limit(1)

def fail(session, row, message, code=500, request_id=None):
    """End the boot of instance ``row`` (read for update in the caller's
    transaction) in ``error`` with ``message`` as its fault: its claim and
    ports given back, its ``create`` action (of ``request_id``, else the
    open one) finished as Error."""
    claim.release(session, row)
    ipam.release(session, row.uuid)
    row.vm_state, row.task_state = states.ERROR, None
    row.fixed_ips = 0
    db.fault_create(session, row.uuid, message, code=code)
    if request_id is not None:
        action = db.action_get(session, row.uuid, request_id)
    else:
        action = session.scalar(sa.select(models.InstanceAction).where(
            models.InstanceAction.instance_uuid == row.uuid,
            models.InstanceAction.action == 'create',
            models.InstanceAction.finish_time.is_(None)).limit(1))
    if action is not None:
        db.action_finish(action, 'Error', message)


def unplaced_timeout():
    """Seconds an unplaced boot may stay in ``scheduling``."""
    return min(2 * CONF.rpc_call_timeout, CONF.conductor.scheduling_timeout)


class Sweeper:
    """``sweep()`` settles the stuck boots (see the module's text); a
    conductor runs it as a periodic task. ``compute``: the agents' client
    (agent.compute.rpcapi.ComputeAPI) a build is sent again with."""

    def __init__(self, engine, compute):
        self.engine, self.compute = engine, compute

    def sweep(self):
        """Settle every stuck boot; return ``(ended, resent)``, the uuids
        ended in error and those whose build was sent again, here."""
        now = models.utcnow()
        idle, limit = unplaced_timeout(), CONF.conductor.scheduling_timeout
        idle_since = now - datetime.timedelta(seconds=idle)
        made_before = now - datetime.timedelta(seconds=limit)
        with self.engine.connect() as conn:
            rows = conn.execute(_STUCK, {'before': idle_since}).all()
            conn.rollback()
        ended, resent = [], []
        for uuid, claimed, host, created_at in rows:
            if not claimed:
                if self._end(uuid, False, idle_since, (
                        'Scheduling was interrupted: no host was chosen '
                        'within %d s (the conductor or scheduler handling '
                        'the boot stopped)' % idle)):
                    ended.append(uuid)
            elif created_at < made_before:
                if self._end(uuid, True, made_before, (
                        'Host %s did not start the build within %d s of the '
                        'boot request (the host was away, or the build '
                        'request was lost)' % (host, limit))):
                    ended.append(uuid)
            elif self._resend(uuid, host, idle_since, now, idle):
                resent.append(uuid)
        return ended, resent

    def _end(self, uuid, placed, before, message):
        with orm.Session(self.engine) as session, session.begin():
            if session.execute(_SETTLE[placed], {
                    'u': uuid, 'was_claimed': placed,
                    'before': before}).rowcount != 1:
                return False      # started, deleted or settled meanwhile
            row = db.instance_get(session, uuid, for_update=True)
            fail(session, row, message)
            db.mark_changed(session, uuid, busy=False)
        LOG.warning('Instance %s: %s', uuid, message)
        return True

    def _resend(self, uuid, host, before, now, idle):
        with self.engine.begin() as conn:
            if conn.execute(_RESEND, {'u': uuid, 'was_claimed': True,
                                      'before': before,
                                      'now': now}).rowcount != 1:
                return False
            action = conn.execute(_CREATE, {'u': uuid}).one_or_none()
        # the boot's own request: the agent records its build in the boot's
        # create action
        ctxt = context.RequestContext(
            request_id=action and action.request_id,
            user_id=action and action.user_id,
            project_id=action and action.project_id)
        LOG.warning('Instance %s: host %s has not started its build within '
                    '%d s; sending the build request again', uuid, host,
                    idle)
        try:
            self.compute.build_and_run_instance(ctxt, host, uuid)
        except Exception as e:   # the next sweep tries again
            LOG.error('Instance %s: sending the build to %s again failed: '
                      '%s', uuid, host, exception.text(e))
            return False
        return True
