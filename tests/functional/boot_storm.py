"""A boot storm with a failure in the middle, and what must hold after it.

Shared by the tests that kill part of the control plane or of the broker
during a storm (test_control_plane_failover, test_rabbit_cluster): the
load generator (tools.fleet.load) runs concurrent clients booting for
``seconds``; ``fail()`` is called ``fail_after`` seconds in, and not
before a first boot has settled (the clients' clock starts once their
process has loaded, which takes seconds on a slow machine); then the
database is read once no boot is in flight, and ``check`` asserts that
every boot ended active or in error with a fault, every client got an
answer or a clear error, and the hosts' usage is exactly the sum of the
claims held (none leaked, none taken twice)."""
import collections
import dataclasses
import json
import sys
import time

import sqlalchemy as sa

from agent.db import models
from agent.objects import states

_I, _N, _F = (models.Instance.__table__, models.ComputeNode.__table__,
              models.InstanceFault.__table__)


@dataclasses.dataclass
class Outcome:
    results: list        # the clients' (tools.fleet.load)
    rows: list           # the instances' rows once settled
    faults: dict         # instance uuid -> fault message
    nodes: list          # the compute nodes' usage
    fail_at: float       # when fail() was called, on the clients' clock


def settled(engine, deadline):
    """Wait until no boot is in flight; return the instances' rows."""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(
                _I.c.uuid, _I.c.vm_state, _I.c.task_state, _I.c.host,
                _I.c.claimed, _I.c.vcpus, _I.c.memory_mb).where(
                _I.c.deleted == 0)).all()
        if all(r.task_state is None for r in rows) or \
                time.monotonic() > deadline:
            return rows
        time.sleep(1)


def first_boot(engine, deadline):
    """Wait until one instance is active (the storm is under way)."""
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(sa.select(_I.c.uuid).where(
                    _I.c.vm_state == states.ACTIVE).limit(1)).first():
                return
        time.sleep(0.2)
    raise AssertionError('no boot settled before the failure was due')


def run(fleet, workdir, fail, clients=8, seconds=14, fail_after=5,
        settle=90):
    """Storm ``fleet`` (started), call ``fail()`` mid-storm; the Outcome."""
    out = workdir / 'load.json'
    engine = sa.create_engine(fleet.db_url)
    load = fleet.spawn('load', [
        sys.executable, '-m', 'tools.fleet.load', '--config-file',
        str(fleet.config), '--clients', str(clients), '--seconds',
        str(seconds), '--mix', 'boot', '--timeout', '60', '--out', str(out)])
    due = time.monotonic() + fail_after
    try:
        first_boot(engine, due + 60)
        time.sleep(max(0.5, due - time.monotonic()))
        failed_at = time.time()
        fail()
        assert load.wait(timeout=seconds + 150) == 0
        report = json.loads(out.read_text())
        results = report['results']
        rows = settled(engine, time.monotonic() + settle)
        with engine.connect() as conn:
            faults = dict(conn.execute(sa.select(
                _F.c.instance_uuid, _F.c.message)).all())
            nodes = conn.execute(sa.select(
                _N.c.host, _N.c.vcpus_used, _N.c.memory_mb_used,
                _N.c.running_vms)).all()
    finally:
        engine.dispose()
    return Outcome(results, rows, faults, nodes,
                   failed_at - report['started_at'])


def check(outcome):
    """Assert that the storm lost nothing; print what happened."""
    results, rows = outcome.results, outcome.rows
    states_seen = collections.Counter((r.vm_state, r.task_state)
                                      for r in rows)
    print('%d boots, failure at %.1f s: %s; faults: %s; clients: %s' % (
        len(rows), outcome.fail_at, dict(states_seen),
        collections.Counter(m[:60] for m in outcome.faults.values()),
        collections.Counter((r['fault'] or 'ok')[:60] for r in results)))
    # the storm ran on both sides of the failure, and booted after it
    fail_at = outcome.fail_at
    assert sum(r['end'] < fail_at for r in results) > 0, results
    assert sum(r['ok'] and r['end'] > fail_at + 3 for r in results) > 0, \
        results
    # none stuck: every boot active or in error, every error with a fault
    assert set(states_seen) <= {(states.ACTIVE, None),
                                (states.ERROR, None)}, states_seen
    errors = {r.uuid for r in rows if r.vm_state == states.ERROR}
    assert errors <= set(outcome.faults), errors - set(outcome.faults)
    # every client got an instance that settled, or a clear error
    by_uuid = {r.uuid: r for r in rows}
    for result in results:
        if result['uuid']:
            assert by_uuid[result['uuid']].task_state is None
        if not result['ok']:
            assert result['fault'], result
    # the claims held are exactly the hosts' usage: no leak, no double
    held = collections.defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r.claimed:
            # (a build that failed on its host keeps its claim until
            # deleted, as in Nova)
            assert r.host, r
            held[r.host][0] += r.vcpus
            held[r.host][1] += r.memory_mb
            held[r.host][2] += 1
    for node in outcome.nodes:
        assert [node.vcpus_used, node.memory_mb_used, node.running_vms] \
            == held[node.host], node
    return states_seen
