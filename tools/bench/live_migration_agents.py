"""Live migration through the agents, and a host drain, against raw virsh.

    python -m tools.bench.live_migration_agents [--runs 3] [--guests 3]

Two hypervisor hosts on this machine (tests/fixtures/two_host_cloud.py):
the machine's libvirtd (h1) and a second one in namespaces of its own
(h2), each with its own hvagent-compute (real LibvirtDriver, TCG), the
conductor and the scheduler as processes, all over RabbitMQ. The test
guest (idle, TCG) moves h1 -> h2 by block migration of its overlay.

Cases, interleaved run by run so that both sides see the same load:

- one move: ``live_migrate`` through the conductor until the instance has
  settled on h2 (scheduler claim, prepare on h2, the copy, the switch-over
  and the rebinding of ports: everything an operator waits for), against
  a raw ``virsh migrate --live --p2p --copy-storage-inc`` of a guest the
  bench's own LibvirtDriver booted on h1 with the same memory (512 MiB,
  m1.tiny's) (tools/bench/live_migration.py);
  downtime is libvirt's figure either way;
- drain: ``hvctl host-drain h1`` (as a process, over the bus) with
  ``--guests`` guests on h1, at ``--max-concurrent`` 1 and 2, against the
  same number of raw virsh migrations one after the other.

Goal (issue 18): one move <= 1.2x raw total time, downtime no worse.
Needs root, libvirtd with QEMU, RabbitMQ and the test guest image.
"""
import argparse
import contextlib
import datetime
import os
import pathlib
import platform
import shutil
import statistics
import tempfile
import time

from oslo_config import cfg

import agent.conf  # noqa: F401
import agent.rpc.transport  # noqa: F401  (registers transport_url)
from agent.objects import models
from agent.security import bus_auth
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures import second_host
from tests.fixtures import two_host_cloud as two
from tests.fixtures.remote_driver import RemoteDriver
from tools.bench import live_migration as raw
from virt.libvirt import driver as libvirt_driver

CONF = cfg.CONF
H1, H2 = two.H1, two.H2
#: the agents' guests are m1.tiny; the raw ones get as much memory
FLAVOR_MB = 512


def agent_move(dep, env):
    """(total ms, downtime ms) of one move through the agents, and the
    ms of each step. Timed by the conductor's own records (the action's
    start to its last event's end), so the bench's polling (every 0.25
    s, not to load the 2 cores the move runs on) adds nothing."""
    (inst,) = two.boot_on(dep, H1)
    try:
        mig = dep.conductor.live_migrate(dep.admin, ref=inst.uuid, host=H2)
        after = deployment.settle(dep, inst.uuid, timeout=two.MOVE_TIMEOUT,
                                  interval=0.25)
        mig = dep.conductor.migration_show(dep.admin,
                                           migration_uuid=mig.uuid)
        assert (after.host, mig.status) == (H2, 'completed'), (after, mig)
        total, steps = action_times(dep, inst, 'live-migration')
        return total, mig.downtime_ms, steps
    finally:
        two.delete(dep, inst)


def action_times(dep, inst, name):
    """(ms from the action's start to its last event's end, {event:
    ms}) of the instance's last action ``name``."""
    (action,) = [a for a in dep.conductor.action_list(dep.ctxt,
                                                      ref=inst.uuid)
                 if a.action == name][-1:]
    end = max(e.finish_time for e in action.events)
    steps = {'%s (%s)' % (e.event, e.host): ms(e.finish_time - e.start_time)
             for e in action.events}
    return ms(end - action.start_time), steps


def ms(delta):
    return delta.total_seconds() * 1e3


def raw_move(dep, env):
    return (*raw.one_run(env, raw.raw_virsh, memory_mb=FLAVOR_MB), {})


def agent_drain(dep, count, concurrency):
    """Seconds of ``hvctl host-drain h1`` with ``count`` guests there."""
    guests = two.boot_on(dep, H1, count)
    try:
        t0 = time.perf_counter()
        proc = two.hvctl(dep, 'host-drain', H1, '--max-concurrent',
                         str(concurrency), '--timeout', '600')
        took = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError('drain failed:\n%s%s'
                               % (proc.stdout, proc.stderr))
        return took
    finally:
        dep.conductor.service_update(dep.admin, host=H1,
                                     binary=models.COMPUTE_BINARY,
                                     disabled=False)
        for inst in guests:
            two.delete(dep, inst)


def raw_drain(env, count):
    """Seconds of ``count`` raw virsh migrations one after the other
    (each guest booted and prepared on h2 first, untimed)."""
    specs = [raw.guest_spec(env.image, FLAVOR_MB) for _ in range(count)]
    try:
        for spec in specs:
            env.h1.spawn(spec)
        for spec in specs:
            raw.wait_booted(env, spec)
            env.remote.prepare_incoming(spec, False)
        t0 = time.perf_counter()
        for spec in specs:
            raw.raw_virsh(env, spec)
        return time.perf_counter() - t0
    finally:
        for spec in specs:
            env.h1.destroy(spec.uuid)
            env.remote.destroy(spec.uuid)


@contextlib.contextmanager
def raw_env(h2, image):
    """The bench's own LibvirtDriver on h1 and a driver on h2 (for the
    raw virsh baseline: guests the agents never knew)."""
    for name, value, group in raw.overrides(h2, h2.h1_address):
        CONF.set_override(name, value, group=group)
    h1 = libvirt_driver.LibvirtDriver()
    h1.init_host('bench-h1')
    remote = RemoteDriver(h2, raw.overrides(h2, h2.address))
    try:
        yield raw.Env(h2, h1, remote, image)
    finally:
        remote.close()
        h1.cleanup_host()


def configure(workdir):
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])
    secret = os.path.join(workdir, 'bus.secret')
    bus_auth.create_secret(secret)
    CONF.set_override('secret_file', secret, group='bus')


def measure(args, dep, env):
    moves = {'agents': [], 'raw': []}
    drains = {'raw': []}
    drains.update({'agents x%d' % c: [] for c in args.concurrency})
    for _ in range(args.runs):
        moves['raw'].append(raw_move(dep, env))
        moves['agents'].append(agent_move(dep, env))
    for _ in range(args.drain_runs):
        drains['raw'].append(raw_drain(env, args.guests))
        for c in args.concurrency:
            drains['agents x%d' % c].append(
                agent_drain(dep, args.guests, c))
    return moves, drains


def print_steps(steps):
    """The p50 of each step over runs (``steps``: a {step: ms} per run),
    the longest first."""
    for name in sorted(steps[0], key=lambda n: -steps[0][n]):
        print('    %-55s %6.0f ms' % (name, statistics.median(
            s[name] for s in steps if name in s)))


def report(args, moves, drains):
    print('%s, %s (%d CPUs), test guest (idle, TCG) h1 -> h2 over a veth, '
          '--copy-storage-inc:' % (datetime.date.today().isoformat(),
                                   platform.node(), os.cpu_count()))
    p50 = {}
    for label, runs in moves.items():
        p50[label] = (statistics.median(t for t, _, _ in runs),
                      statistics.median(d for _, d, _ in runs))
        print('  one move, %-7s p50 of %d: total %6.0f ms  downtime %4.0f ms'
              % (label, len(runs), *p50[label]))
    print('  one move, agents / raw: %.2fx total, %.2fx downtime' % (
        p50['agents'][0] / p50['raw'][0], p50['agents'][1] / p50['raw'][1]))
    print('  where the agents\' move spends its time (p50 of each step; '
          'the steps of the two hosts overlap):')
    print_steps([s for _, _, s in moves['agents']])
    base = statistics.median(drains['raw'])
    for label, runs in drains.items():
        took = statistics.median(runs)
        print('  drain of %d guests, %-10s p50 of %d: %5.1f s  (x%.2f raw)'
              % (args.guests, label, len(runs), took, took / base))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--guests', type=int, default=3)
    parser.add_argument('--drain-runs', type=int, default=1)
    parser.add_argument('--concurrency', type=int, nargs='+',
                        default=[1, 2])
    args = parser.parse_args()
    with cloud('hvbench-mig-') as (dep, env):
        moves, drains = measure(args, dep, env)
    report(args, moves, drains)


@contextlib.contextmanager
def cloud(prefix):
    """(the two-host cloud's Deployment, the raw baseline's Env), both
    gone afterwards; SystemExit saying why where h2 cannot run."""
    why = second_host.unsupported()
    if why:
        raise SystemExit('cannot run: %s' % why)
    image = guest_image.ensure_image()
    workdir = tempfile.mkdtemp(prefix=prefix, dir='/var/tmp')
    configure(workdir)
    h2 = second_host.SecondHost()
    try:
        h2.start()
        with two.started(pathlib.Path(workdir), h2, image) as dep, \
                raw_env(h2, image) as env:
            yield dep, env
    finally:
        h2.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
