"""Live migration cost: LibvirtDriver.live_migrate against raw virsh.

    python -m tools.bench.live_migration [--runs 3]

Two hypervisor hosts on this machine: the machine's libvirtd (h1) and a
second one in namespaces of its own (tests/fixtures/second_host.py, h2),
linked by a veth. Each run boots the test guest (128 MiB, TCG) on h1 with
the driver, waits for its boot banner (an idle guest: the figures are not
those of a guest dirtying memory), has h2's driver prepare its files (the
overlay on h2's cached base, the config drive), then moves it h1 -> h2 by
one variant and removes it. Timed: the move alone (not the boot, not the
prepare).

Variants, one function each (``VARIANTS``), same guest, same run:

- ``raw_virsh``: ``virsh migrate --live --p2p --persistent
  --undefinesource --copy-storage-inc --migrateuri tcp://<h2> DOM <h2>``,
  downtime from ``virsh domjobinfo --completed`` on h2;
- ``driver``: ``LibvirtDriver.live_migrate`` (same flags; progress polled
  every 0.5 s) and ``finish_incoming``, downtime from its final figures.

A third, the whole move through the agents and the conductor over RPC,
goes in as one more function of the same shape once the orchestration is
there. Printed: p50 of ``--runs`` runs of each (total time and downtime),
the ratio driver/raw, with the date and the machine. Needs root, libvirtd
with QEMU, and the test guest image (tools/build-test-image).
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import time
import uuid

from oslo_config import cfg

import agent.conf  # noqa: F401
from tests.fixtures import guest_image
from tests.fixtures import second_host
from tests.fixtures.remote_driver import RemoteDriver
from tests.fixtures.waiting import wait_until
from virt import driver as virt_driver
from virt import migration
from virt.libvirt import designer
from virt.libvirt import driver as libvirt_driver

CONF = cfg.CONF
H1 = 'qemu:///system'


def overrides(h2, inbound):
    image_dir = os.path.dirname(guest_image.ensure_image()['disk'])
    return [('instances_path', h2.instances_path, 'compute'),
            ('image_cache_path', h2.image_cache_path, 'libvirt'),
            ('virt_type', 'qemu', 'libvirt'),
            ('connection_uri', H1, 'libvirt'),
            ('allowed_image_dirs', [image_dir], 'libvirt'),
            ('live_migration_inbound_addr', inbound, 'libvirt')]


def guest_spec(image, memory_mb=128):
    return virt_driver.GuestSpec(
        uuid=str(uuid.uuid4()), name='bench-mig', vcpus=1,
        memory_mb=memory_mb,
        root_gb=1, image_ref=image['disk'], kernel_ref=image['kernel'],
        ramdisk_ref=image['ramdisk'], config_drive=True)


# --------------------------------------------------------------- variants
def raw_virsh(env, spec):
    """(total ms, downtime ms) of a raw virsh migrate h1 -> h2."""
    name = designer.domain_name(spec.uuid)
    t0 = time.perf_counter()
    subprocess.run(['virsh', '-c', H1, 'migrate', '--live', '--p2p',
                    '--persistent', '--undefinesource', '--copy-storage-inc',
                    '--migrateuri', 'tcp://' + env.h2.address, name,
                    env.h2.uri], check=True, capture_output=True, text=True,
                   timeout=600)
    total = (time.perf_counter() - t0) * 1e3
    info = env.h2.virsh('domjobinfo', '--completed', name).stdout
    downtime = next(float(line.split(':')[1].split()[0])
                    for line in info.splitlines()
                    if line.startswith('Total downtime'))
    return total, downtime


def driver(env, spec):
    """(total ms, downtime ms) of LibvirtDriver.live_migrate h1 -> h2."""
    target = env.remote.incoming_target()
    t0 = time.perf_counter()
    final = env.h1.live_migrate(spec.uuid, target, env.h2.uri,
                                migration.LiveMigrationOptions(),
                                lambda p: None)
    env.remote.finish_incoming(spec.uuid)
    total = (time.perf_counter() - t0) * 1e3
    env.h1.cleanup_migrated_source(spec.uuid, False)
    return total, final.downtime_ms


VARIANTS = {'raw virsh migrate': raw_virsh,
            'LibvirtDriver.live_migrate': driver}


def one_run(env, variant, memory_mb=128):
    """Boot on h1, prepare h2, move by ``variant`` (timed), remove."""
    spec = guest_spec(env.image, memory_mb)
    env.h1.spawn(spec)
    try:
        wait_booted(env, spec)
        env.remote.prepare_incoming(spec, False)
        return variant(env, spec)
    finally:
        env.h1.destroy(spec.uuid)
        env.remote.destroy(spec.uuid)


def wait_booted(env, spec):
    wait_until(lambda: guest_image.booted_uuids(
        env.h1.get_console_output(spec.uuid, 1 << 20)), 300,
        interval=0.5, message='the guest booting')


class Env:
    def __init__(self, h2, h1, remote, image):
        self.h2, self.h1, self.remote, self.image = h2, h1, remote, image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    why = second_host.unsupported()
    if why:
        raise SystemExit('cannot run: %s' % why)
    image = guest_image.ensure_image()
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])
    h2 = second_host.SecondHost()
    remote = h1 = None
    try:
        h2.start()
        for name, value, group in overrides(h2, h2.h1_address):
            CONF.set_override(name, value, group=group)
        h1 = libvirt_driver.LibvirtDriver()
        h1.init_host('h1')
        remote = RemoteDriver(h2, overrides(h2, h2.address))
        env = Env(h2, h1, remote, image)
        figures = {label: [] for label in VARIANTS}
        for _ in range(args.runs):      # interleaved: same load for both
            for label, variant in VARIANTS.items():
                figures[label].append(one_run(env, variant))
    finally:
        if remote is not None:
            remote.close()
        if h1 is not None:
            h1.cleanup_host()
        h2.stop()
    print('%s, %s (%d CPUs), libvirt live migration of the test guest '
          '(128 MiB, idle, TCG) h1 -> h2 over a veth, --copy-storage-inc, '
          'p50 of %d runs:' % (datetime.date.today().isoformat(),
                               platform.node(), os.cpu_count(), args.runs))
    p50 = {}
    for label, runs in figures.items():
        total = statistics.median(t for t, _ in runs)
        downtime = statistics.median(d for _, d in runs)
        p50[label] = total
        print('  %-28s total %6.0f ms   downtime %5.0f ms' % (
            label, total, downtime))
    raw, mine = p50['raw virsh migrate'], p50['LibvirtDriver.live_migrate']
    print('  driver / raw: %.2fx total time' % (mine / raw))


if __name__ == '__main__':
    main()
