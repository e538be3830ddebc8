"""Cold migration through the agents against the same by hand.

    python -m tools.bench.cold_migration [--runs 3]

The two-host cloud of tools/bench/live_migration_agents.py (h1 and h2,
each with its own hvagent-compute, real LibvirtDriver, TCG; conductor and
scheduler over RabbitMQ). The test guest (m1.tiny, booted) moves h1 -> h2
stopped, in the same run, run by run interleaved:

- agents: an admin's ``migrate`` to h2 through the conductor, timed by
  the conductor's records from the action's start to its last event (the
  guest started on h2): the scheduler's claim, the ACPI shutdown on h1,
  the offer of its overlay, h2 reading it through h1's libvirtd, vetting,
  rebasing and growing it, the config drive, define and start;
- by hand (the recipe's cold path, what an operator would script): ACPI
  shutdown with ``virsh shutdown``, a ``cp`` of the overlay into h2's
  instance directory (h2 holds the base image and config drive already,
  untimed), ``virsh migrate --offline --persistent --undefinesource``,
  ``virsh start`` on h2.

Both end when the domain starts on h2; the guest's boot is not counted.
Needs root, libvirtd with QEMU, RabbitMQ and the test guest image.
"""
import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import time

from tests.fixtures import deployment
from tests.fixtures import two_host_cloud as two
from tests.fixtures.waiting import wait_until
from tools.bench import live_migration as raw
from tools.bench import live_migration_agents as agents
from virt.libvirt import designer

H1, H2 = two.H1, two.H2


def agent_cold(dep, _env):
    """(total ms, {step: ms}) of one cold migration through the agents."""
    (inst,) = two.boot_on(dep, H1)
    try:
        dep.conductor.migrate(dep.admin, ref=inst.uuid, host=H2)
        after = deployment.settle(dep, inst.uuid, timeout=two.MOVE_TIMEOUT,
                                  interval=0.25)
        assert (after.host, after.vm_state) == (H2, 'resized'), after
        return agents.action_times(dep, inst, 'migrate')
    finally:
        two.delete(dep, inst)


def raw_cold(_dep, env):
    """(total ms, {step: ms}) of the same by hand."""
    spec = raw.guest_spec(env.image, agents.FLAVOR_MB)
    name = designer.domain_name(spec.uuid)
    env.h1.spawn(spec)
    try:
        raw.wait_booted(env, spec)
        env.remote.prepare_incoming(spec, False)
        steps, t0 = {}, time.perf_counter()

        def step(label, since):
            now = time.perf_counter()
            steps[label] = (now - since) * 1e3
            return now
        virsh(raw.H1, 'shutdown', name)
        wait_until(lambda: 'shut off' in virsh(raw.H1, 'domstate', name),
                   120, interval=0.05, message='the guest stopping')
        t = step('shutdown', t0)
        shutil.copyfile(
            os.path.join(env.h1.instances_path, spec.uuid, 'disk'),
            os.path.join(env.h2.dir, 'instances', spec.uuid, 'disk'))
        t = step('copy the overlay', t)
        virsh(raw.H1, 'migrate', '--offline', '--persistent',
              '--undefinesource', name, env.h2.uri)
        t = step('migrate --offline', t)
        virsh(env.h2.uri, 'start', name)
        step('start on h2', t)
        return (time.perf_counter() - t0) * 1e3, steps
    finally:
        env.h1.destroy(spec.uuid)
        env.remote.destroy(spec.uuid)


def virsh(uri, *args):
    return subprocess.run(['virsh', '-c', uri, *args], check=True,
                          capture_output=True, text=True, timeout=300).stdout


def report(runs):
    print('%s, %s (%d CPUs), test guest (m1.tiny, TCG) cold h1 -> h2 over a '
          'veth, to the domain started on h2:' % (
              datetime.date.today().isoformat(), platform.node(),
              os.cpu_count()))
    p50 = {}
    for label, results in runs.items():
        p50[label] = statistics.median(t for t, _ in results)
        print('  %-8s p50 of %d: %6.0f ms' % (label, len(results),
                                               p50[label]))
        agents.print_steps([s for _, s in results])
    print('  agents / by hand: %.2fx' % (p50['agents'] / p50['by hand']))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    runs = {'by hand': [], 'agents': []}
    with agents.cloud('hvbench-cold-') as (dep, env):
        for _ in range(args.runs):
            runs['by hand'].append(raw_cold(dep, env))
            runs['agents'].append(agent_cold(dep, env))
    report(runs)


if __name__ == '__main__':
    main()
