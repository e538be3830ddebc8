"""Spawn cost of the libvirt driver against raw libvirt, and report cost.

    python -m tools.bench.libvirt_spawn [--rounds 5] [--concurrent 20]
                                        [--report-guests 200]

1. Spawn, image cached: ``LibvirtDriver.spawn`` (overlay, config drive,
   XML, define, start) against the baseline run in the same process: the
   identical domain XML given to ``defineXML`` + ``create`` on a disk made
   beforehand (untimed). Median of ``--rounds``; each guest is destroyed
   right after, so every start competes with nothing.
2. ``--concurrent`` spawns at once on threads (as the agent's build pool
   runs them): wall time against one spawn, and the same for raw
   define + create, since QEMU start-up is CPU work that 2 cores cannot
   run 20 times in parallel.
3. One resource report (ResourceTracker.build_node) with
   ``--report-guests`` running guests of libvirt's ``test:///default``
   driver: CPU time, against the per-guest lookup loop (the driver
   interface's default) in the same run.

Needs libvirtd with QEMU (TCG is fine) and the test guest image
(tools/build-test-image); guests get 128 MiB and boot from the image's
kernel, so a start costs what QEMU's start costs, not a boot.
"""
import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent import futures

from oslo_config import cfg

import agent.conf  # noqa: F401
from agent.compute import resource_tracker
from virt import driver as virt_driver
from virt.libvirt import designer
from virt.libvirt import driver as libvirt_driver

CONF = cfg.CONF
IMAGE_DIR = '/var/cache/hvagent/test-image'


def spec(image, name='bench'):
    return virt_driver.GuestSpec(
        uuid=str(uuid.uuid4()), name=name, vcpus=1, memory_mb=128, root_gb=1,
        image_ref=image + '/disk.qcow2', kernel_ref=image + '/vmlinuz',
        ramdisk_ref=image + '/initrd.img', config_drive=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def raw_spawn_ms(drv, conn, image):
    """define + create of the XML the driver would write, disk made first."""
    s = spec(image, 'bench-raw')
    xml = drv._prepare(s).to_xml()        # the guest's files, untimed
    try:
        return timed(lambda: conn.defineXML(xml).create())
    finally:
        drv.destroy(s.uuid)


def agent_spawn_ms(drv, image):
    s = spec(image)
    try:
        return timed(drv.spawn, s)
    finally:
        drv.destroy(s.uuid)


def concurrent_wall_ms(drv, conn, image, n, raw=False):
    """Wall time of ``n`` spawns at once: the agent's, or (``raw``) define
    + create of the same XML with the files made beforehand."""
    specs = [spec(image, 'bench-%d' % i) for i in range(n)]
    if raw:
        xmls = [drv._prepare(s).to_xml() for s in specs]
        work, items = (lambda xml: conn.defineXML(xml).create()), xmls
    else:
        work, items = drv.spawn, specs
    try:
        with futures.ThreadPoolExecutor(n) as pool:
            t0 = time.perf_counter()
            list(pool.map(work, items))
            return (time.perf_counter() - t0) * 1e3
    finally:
        for s in specs:
            drv.destroy(s.uuid)


def report_cpu_ms(guests):
    """CPU of one resource report over ``guests`` test:///default guests,
    and of the per-guest loop, in the same run."""
    CONF.set_override('connection_uri', 'test:///default', 'libvirt')
    drv = libvirt_driver.LibvirtDriver()
    conn = drv.host.get_connection()
    made = []
    for i in range(guests):
        u = str(uuid.uuid4())
        dom = conn.defineXML(
            "<domain type='test'><name>%s</name><uuid>%s</uuid>"
            "<memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
            "</domain>" % (designer.domain_name(u), u))
        dom.create()
        made.append(dom)
    tracker = resource_tracker.ResourceTracker(drv, None, 'bench',
                                               str(uuid.uuid4()))
    try:
        def cpu(fn, n=20):
            t0 = time.process_time()
            for _ in range(n):
                fn()
            return (time.process_time() - t0) * 1e3 / n
        report = cpu(tracker.build_node)
        loop = cpu(lambda: virt_driver.ComputeDriver.list_guest_infos(drv))
        bulk = cpu(drv.list_guest_infos)
        node = tracker.build_node()
        assert node.running_vms >= guests, node
    finally:
        for dom in made:
            dom.destroy()
            dom.undefine()
        CONF.clear_override('connection_uri', 'libvirt')
    return report, bulk, loop


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--concurrent', type=int, default=20)
    parser.add_argument('--report-guests', type=int, default=200)
    args = parser.parse_args()
    subprocess.run(['tools/build-test-image'], check=True,
                   stderr=subprocess.DEVNULL)
    state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvbench-')
    subprocess.run(['chmod', '0755', state], check=True)
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])
    CONF.set_override('state_path', state)
    CONF.set_override('virt_type', 'qemu', 'libvirt')
    try:
        report, bulk, loop = report_cpu_ms(args.report_guests)
        drv = libvirt_driver.LibvirtDriver()
        drv.init_host('bench')
        conn = drv.host.get_connection()
        agent_spawn_ms(drv, IMAGE_DIR)            # warm: image cached
        raw = statistics.median(raw_spawn_ms(drv, conn, IMAGE_DIR)
                                for _ in range(args.rounds))
        mine = statistics.median(agent_spawn_ms(drv, IMAGE_DIR)
                                 for _ in range(args.rounds))
        wall = concurrent_wall_ms(drv, conn, IMAGE_DIR, args.concurrent)
        raw_wall = concurrent_wall_ms(drv, conn, IMAGE_DIR, args.concurrent,
                                      raw=True)
        drv.cleanup_host()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print('libvirt spawn (image cached, median of %d): agent %.0f ms, raw '
          'defineXML+create %.0f ms, ratio %.2fx (goal <= 1.15x)'
          % (args.rounds, mine, raw, mine / raw))
    print('libvirt %d concurrent spawns: wall %.0f ms = %.2fx one spawn '
          '(goal <= 1.5x); raw define+create of %d at once: %.0f ms = %.2fx '
          'one raw start; agent/raw %.2fx' % (
              args.concurrent, wall, wall / mine, args.concurrent, raw_wall,
              raw_wall / raw, wall / raw_wall))
    print('resource report, %d guests (test:///default): %.1f ms CPU '
          '(goal < 50); bulk stats %.1f ms vs per-guest lookups %.1f ms '
          '(%.1fx)' % (args.report_guests, report, bulk, loop, loop / bulk))


if __name__ == '__main__':
    main()
