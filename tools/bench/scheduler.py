"""Placements per second of the scheduler: filter + weigh + database claim.

    python -m tools.bench.scheduler [--hosts 1000 10000] [--placements N]
                                    [--db URL] [--churn SECONDS]
                                    [--threads N]

For each host count: a fresh database (a SQLite file in a temporary
directory, or ``--db``, whose tables are dropped and re-created) gets N
synthetic compute hosts - varied sizes and zones, some down, disabled or
without a service row - and one instance row per placement. Then
``SchedulerManager.select`` places them one after another and the rate and
latency are printed. The baseline, run in the same process on the same
database, is the naive scheduler: per request, load every host and service
with the ORM, filter and weigh in a Python loop, then the same claim.

``--churn S``: the placements run again while another process hands every
host's resource report, once per S seconds, to the conductor's own report
writer (agent.conductor.report_batcher: batches every 50 ms, each node's
UPDATE and one heartbeat UPDATE per batch); the ratio to the quiet run is
printed.

Last, the race: two schedulers with separate caches - in two threads, then
in two processes - place identical instances on 4 small hosts until no host
is left; the database must show no host over its capacity x ratio, usage
columns equal to the sum of the claimed instances, and every slot used.
"""
import argparse
import datetime
import multiprocessing
import os
import random
import tempfile
import threading
import time
import types
import uuid
from concurrent import futures

import numpy as np
import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

import agent.conf  # noqa: F401
from agent import exception
from agent import objects
from agent.conductor import report_batcher
from agent.db import models
from agent.db import session as db_session
from agent.scheduler import Settings
from agent.scheduler import claim
from agent.scheduler import manager

CONF = cfg.CONF
FLAVORS = [(1, 2048, 20), (2, 4096, 40), (4, 8192, 80)]
# RAM binds: 1 GB instances -> 8+12+16+6 slots. No more hosts than
# claim_attempts, so a scheduler stops only when every host is really full.
RACE_HOSTS = [(16, 8192, 500), (16, 12288, 500), (16, 16384, 500),
              (16, 6144, 500)]
RACE_FLAVOR = (1, 1024, 10)


def init_conf():
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])


def fresh_db(url):
    engine = db_session.get_engine(url)
    models.Base.metadata.drop_all(engine)
    models.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Flavor.__table__).values(
            id=1, name='bench', vcpus=1, memory_mb=1, root_gb=0))
    return engine


def add_hosts(engine, sizes, rng, odd=True):
    """Compute nodes + services for (vcpus, memory_mb, local_gb) sizes; with
    ``odd``, some hosts are down, disabled, or have no service row."""
    now = models.utcnow()
    old = now - datetime.timedelta(hours=1)
    beat = datetime.timedelta(seconds=10)   # heartbeats spread like real ones
    nodes, services = [], []
    for i, (vcpus, ram, disk) in enumerate(sizes):
        host = 'node-%05d' % i
        nodes.append(dict(uuid=str(uuid.uuid4()), host=host,
                          hypervisor_type='fake', vcpus=vcpus, memory_mb=ram,
                          local_gb=disk, availability_zone='az%d' % (i % 3),
                          generation=1))
        roll = rng.random() if odd else 1.0
        if roll >= 0.01:
            services.append(dict(host=host, binary='hvagent-compute',
                                 topic='compute', disabled=roll < 0.03,
                                 last_seen_up=old if roll < 0.06
                                 else now - beat * rng.random()))
    with engine.begin() as conn:
        conn.execute(sa.insert(models.ComputeNode.__table__), nodes)
        conn.execute(sa.insert(models.Service.__table__), services)


def add_instances(engine, flavors, rng, hints=False):
    """One instance row per flavor; return their RequestSpecs."""
    rows, specs = [], []
    for i, (vcpus, ram, disk) in enumerate(flavors):
        u = str(uuid.uuid4())
        rows.append(dict(uuid=u, name='vm-%d' % i, project_id='bench',
                         user_id='bench', flavor_id=1, vcpus=vcpus,
                         memory_mb=ram, root_gb=disk, vm_state='building',
                         task_state='scheduling'))
        zone = 'az%d' % rng.randrange(3) if hints and i % 4 == 0 else None
        apart = [specs[-1].instance_uuid] if hints and i % 20 == 19 else []
        specs.append(objects.RequestSpec(
            instance_uuid=u, project_id='bench', vcpus=vcpus, memory_mb=ram,
            root_gb=disk, availability_zone=zone, different_host=apart))
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Instance.__table__), rows)
    return specs


def churn(url, interval, stop, ready):
    """Until ``stop`` is set: every host reports once per ``interval``
    seconds to the conductor's own report writer (free RAM and CPU load
    vary; capacity does not), which writes them in its 50 ms batches."""
    init_conf()
    engine = db_session.get_engine(url)
    with engine.connect() as conn:
        nodes = [types.SimpleNamespace(**row._asdict()) for row in
                 conn.execute(sa.select(
                     models.ComputeNode.uuid, models.ComputeNode.host,
                     models.ComputeNode.vcpus, models.ComputeNode.memory_mb,
                     models.ComputeNode.local_gb,
                     models.ComputeNode.availability_zone))]
    writer = report_batcher.ReportBatcher(engine)
    for node in nodes:
        node.hypervisor_type = 'fake'
        writer.learned(node)     # as after each node's first report
    rng = random.Random(1)
    per_batch = max(1, round(len(nodes) * report_batcher.GAP / interval))
    written, nxt, ready_at = 0, 0, time.monotonic()
    ready.set()
    while not stop.is_set():
        for i in range(per_batch):
            node = nodes[(nxt + i) % len(nodes)]
            node.free_ram_mb = rng.randrange(node.memory_mb)
            node.free_disk_gb = rng.randrange(node.local_gb)
            node.cpu_load = rng.random() * node.vcpus
            assert writer.accept(node)
        nxt = (nxt + per_batch) % len(nodes)
        written += per_batch
        ready_at += report_batcher.GAP
        time.sleep(max(0.0, ready_at - time.monotonic()))
    writer.stop()
    engine.dispose()
    return written


def run_churned(url, specs, interval, threads=1):
    """run_fast while a churn process writes reports; also the reports
    per second it managed."""
    ctx = multiprocessing.get_context('spawn')
    with ctx.Manager() as sync:
        stop, ready = sync.Event(), sync.Event()
        with futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            job = pool.submit(churn, url, interval, stop, ready)
            ready.wait(120)
            t0 = time.perf_counter()
            try:
                result = run_fast(url, specs, threads)
            finally:
                stop.set()
            reports = job.result() / (time.perf_counter() - t0)
    return result, reports


def run_fast(url, specs, threads=1):
    """Place ``specs`` with one SchedulerManager, from ``threads`` threads
    at once (as its RPC executor calls it); (placements/s, latencies in
    ms, initial load ms, CPU ms per placement)."""
    sched = manager.SchedulerManager(url)
    t0 = time.perf_counter()
    sched.hosts.refresh()
    load_ms = (time.perf_counter() - t0) * 1e3

    def place(spec):
        t0 = time.perf_counter()
        sched.select(spec)
        return (time.perf_counter() - t0) * 1e3
    start, cpu = time.perf_counter(), time.process_time()
    if threads == 1:
        times = [place(spec) for spec in specs]
    else:
        with futures.ThreadPoolExecutor(threads) as pool:
            times = list(pool.map(place, specs))
    cpu_ms = (time.process_time() - cpu) * 1e3 / len(specs)
    return len(specs) / (time.perf_counter() - start), times, load_ms, cpu_ms


def naive_select(engine, spec, settings, rng):
    """Per request: ORM load of every host, Python filter loop and weigh."""
    with orm.Session(engine) as s:
        nodes = s.scalars(sa.select(models.ComputeNode)).all()
        services = {x.host: x for x in s.scalars(sa.select(
            models.Service).where(models.Service.binary == 'hvagent-compute'))}
        avoid = set(s.scalars(sa.select(models.Instance.host).where(
            models.Instance.uuid.in_(spec.different_host),
            models.Instance.deleted == 0))) if spec.different_host else set()
    now = models.utcnow()
    cpu, ram, disk = settings.ratios
    fits = []
    for n in nodes:
        svc = services.get(n.host)
        if svc is None or svc.disabled or svc.last_seen_up is None or (
                now - svc.last_seen_up).total_seconds() > \
                settings.service_down_time:
            continue
        free = (n.memory_mb * ram - n.memory_mb_used,
                n.vcpus * cpu - n.vcpus_used,
                n.local_gb * disk - n.local_gb_used, -n.running_vms)
        if (spec.availability_zone in (None, n.availability_zone)
                and free[0] >= spec.memory_mb and free[1] >= spec.vcpus
                and free[2] >= spec.root_gb and n.host not in avoid
                and n.running_vms < settings.max_instances_per_host):
            fits.append((n, free))
    weights = [0.0] * len(fits)
    for col in range(4):
        values = [f[col] for _, f in fits]
        lo, hi = min(values), max(values)
        for i, v in enumerate(values):
            weights[i] += (v - lo) / (hi - lo) if hi > lo else 0.0
    top = max(weights)
    node = rng.choice([n for (n, _), w in zip(fits, weights) if w == top])
    assert claim.claim(engine, node.id, node.host, spec, settings)
    return node.host


def run_naive(engine, specs):
    settings, rng = Settings.from_conf(), random.Random()
    start = time.perf_counter()
    for spec in specs:
        naive_select(engine, spec, settings, rng)
    return len(specs) / (time.perf_counter() - start)


def bench_hosts(url, n_hosts, placements, baseline_n, churn_interval=0,
                threads=1):
    rng = random.Random(n_hosts)
    engine = fresh_db(url)
    add_hosts(engine, [(rng.choice([16, 32, 64]),
                        rng.choice([65536, 131072, 262144]),
                        rng.choice([500, 1000, 2000]))
                       for _ in range(n_hosts)], rng)
    flavors = [rng.choice(FLAVORS) for _ in range(placements + baseline_n)]
    specs = add_instances(engine, flavors, rng, hints=True)
    rate, times, load_ms, cpu_ms = run_fast(url, specs[:placements],
                                            threads)
    print('scheduler %d hosts%s: %.0f placements/s (p50 %.2f ms, p95 %.2f ms)'
          '; %.2f ms CPU per placement; initial load %.0f ms'
          % (n_hosts, ', %d threads' % threads if threads > 1 else '',
             rate, *np.percentile(times, [50, 95]), cpu_ms, load_ms))
    if churn_interval:
        more = add_instances(engine, [rng.choice(FLAVORS)
                                      for _ in range(placements)], rng,
                             hints=True)
        (churned, times, _, cpu_ms), reports = run_churned(
            url, more, churn_interval, threads)
        print('  with churn (every host reports every %gs: %.0f reports/s '
              'written): %.0f placements/s (p50 %.2f ms, p95 %.2f ms); '
              '%.2f ms CPU per placement; x%.2f of quiet'
              % (churn_interval, reports, churned,
                 *np.percentile(times, [50, 95]), cpu_ms, churned / rate))
    base = run_naive(engine, specs[placements:])
    print('baseline  %d hosts: %.1f placements/s (naive: ORM load of all '
          'hosts + Python loop per request, %d requests) -> scheduler x%.0f'
          % (n_hosts, base, baseline_n, rate / base))


def place_until_full(url, uuids, barrier):
    """A scheduler of its own places until NoValidHost; return how many
    it placed and how many of its claims lost a race."""
    sched = manager.SchedulerManager(url)
    sched.hosts.refresh()
    barrier.wait()
    placed = 0
    for u in uuids:
        spec = objects.RequestSpec(
            instance_uuid=u, project_id='bench', vcpus=RACE_FLAVOR[0],
            memory_mb=RACE_FLAVOR[1], root_gb=RACE_FLAVOR[2])
        try:
            sched.select(spec)
        except exception.NoValidHost:
            return placed, sched.lost_races
        placed += 1
    raise RuntimeError('ran out of instances before the hosts were full')


def check_usage(engine):
    """(hosts over capacity x ratio, hosts whose usage != sum of claims)."""
    cpu, ram, disk = Settings.from_conf().ratios
    n, i = models.ComputeNode, models.Instance
    with orm.Session(engine) as s:
        sums = {row.host: row for row in s.execute(sa.select(
            i.host, sa.func.sum(i.vcpus).label('vcpus'),
            sa.func.sum(i.memory_mb).label('ram'),
            sa.func.sum(i.root_gb).label('disk'),
            sa.func.count().label('vms')).where(
                i.claimed == sa.true()).group_by(i.host))}
        over = bad = 0
        for node in s.scalars(sa.select(n)):
            over += (node.vcpus_used > node.vcpus * cpu
                     or node.memory_mb_used > node.memory_mb * ram
                     or node.local_gb_used > node.local_gb * disk)
            got = sums.get(node.host)
            want = (got.vcpus, got.ram, got.disk, got.vms) if got else \
                (0, 0, 0, 0)
            bad += want != (node.vcpus_used, node.memory_mb_used,
                            node.local_gb_used, node.running_vms)
    return over, bad


def race(url, label, pair):
    engine = fresh_db(url)
    add_hosts(engine, RACE_HOSTS, random.Random(0), odd=False)
    capacity = sum(ram // RACE_FLAVOR[1] for _, ram, _ in RACE_HOSTS)
    halves = [[s.instance_uuid for s in add_instances(
        engine, [RACE_FLAVOR] * (capacity + 5), None)] for _ in range(2)]
    (placed_a, lost_a), (placed_b, lost_b) = pair(url, halves)
    over, bad = check_usage(engine)
    total = placed_a + placed_b
    print('race %s: placed %d + %d = %d of %d slots on %d hosts (lost races '
          '%d + %d), over-commit: %d, usage mismatches: %d'
          % (label, placed_a, placed_b, total, capacity, len(RACE_HOSTS),
             lost_a, lost_b, over, bad))
    return over == 0 and bad == 0 and total == capacity


def run_pair(executor, url, halves, barrier):
    """Both schedulers start together; return what each one reported."""
    with executor as pool:
        return list(pool.map(place_until_full, [url, url], halves,
                             [barrier, barrier]))


def pair_in_threads(url, halves):
    return run_pair(futures.ThreadPoolExecutor(2), url, halves,
                    threading.Barrier(2))


def pair_in_processes(url, halves):
    ctx = multiprocessing.get_context('spawn')
    with ctx.Manager() as sync:
        return run_pair(futures.ProcessPoolExecutor(
            2, mp_context=ctx, initializer=init_conf), url, halves,
            sync.Barrier(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hosts', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--placements', type=int, default=5000)
    parser.add_argument('--baseline', type=int, default=10,
                        help='requests placed by the naive baseline')
    parser.add_argument('--churn', type=float, default=0, metavar='S',
                        help='also place while every host reports every S '
                        'seconds (e.g. 10)')
    parser.add_argument('--threads', type=int, default=1,
                        help='place from this many threads at once, as the '
                        'RPC executor does (the baseline stays sequential)')
    parser.add_argument('--db', help='database URL to use (tables are '
                        'dropped and re-created) instead of a SQLite file')
    args = parser.parse_args()
    init_conf()
    with tempfile.TemporaryDirectory() as tmp:
        def url(name):
            return args.db or 'sqlite:///' + os.path.join(tmp, name)
        for n_hosts in args.hosts:
            bench_hosts(url('hosts%d.sqlite' % n_hosts), n_hosts,
                        args.placements, args.baseline, args.churn,
                        args.threads)
        ok = race(url('race-threads.sqlite'), '2 threads', pair_in_threads)
        ok &= race(url('race-procs.sqlite'), '2 processes', pair_in_processes)
        db_session.dispose_all()
    print('race checks: %s' % ('OK' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())
