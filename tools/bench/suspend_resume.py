"""Suspend and resume through hvagent against raw virsh, in the same run.

    python -m tools.bench.suspend_resume [--runs 5] [--flavor m1.tiny]
                                         [--db URL]

One host: conductor, scheduler and hvagent-compute (LibvirtDriver, TCG)
over RabbitMQ (a vhost of their own), the database at ``--db`` (default
a SQLite file; a MariaDB or PostgreSQL URL for a durable one). Two idle
test guests of the same size, both booted and running:

- hvagent: the conductor's ``suspend`` (then ``resume``) of an instance,
  timed from the request until the instance shows ``suspended``
  (``active``) with no task, as ``hvctl --wait`` sees it; the action's
  own span (its start to its last event's end, the conductor's records)
  is printed beside it, and where it goes (its events);
- raw: ``virsh managedsave`` (then ``virsh start``) of a guest the
  agents never knew (defined by the bench's own LibvirtDriver);
- driver: LibvirtDriver.suspend (then resume) of that same guest, in
  this process: the agent's driver without the bus and the database.

Run by run interleaved. Needs root, libvirtd with QEMU, RabbitMQ and the
test guest image.
"""
import argparse
import datetime
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

from oslo_config import cfg

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from tests.fixtures import brokers
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.waiting import wait_until
from tools.bench import live_migration_agents as agents
from virt import driver as virt_driver
from virt.libvirt import designer
from virt.libvirt import driver as libvirt_driver

CONF = cfg.CONF
FLAVOR_MB = {'m1.tiny': 512, 'm1.small': 2048}
TIMEOUT = 300


def configure(workdir):
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])
    secret = os.path.join(workdir, 'bus.secret')
    bus_auth.create_secret(secret)
    CONF.set_override('secret_file', secret, group='bus')
    CONF.set_override('connection_uri', libvirtd.URI, group='libvirt')
    CONF.set_override('virt_type', 'qemu', group='libvirt')
    CONF.set_override('instances_path', os.path.join(workdir, 'raw'),
                      group='compute')


def start_cloud(workdir, db_url, image, host='hvbench-susp', api_port=None):
    """One libvirt host's cloud over a vhost of its own; with
    ``api_port`` hvagent-api too (where snapshots are uploaded)."""
    vhost = brokers.VHost()
    state = pathlib.Path(workdir) / 'state'
    extra = {'compute': {'compute_driver': 'libvirt',
                         'instances_path': state / 'instances',
                         'sync_power_state_interval': 0},
             'libvirt': {'virt_type': 'qemu',
                         'connection_uri': libvirtd.URI,
                         'image_cache_path': state / 'images',
                         'allowed_image_dirs': ','.join(sorted({
                             os.path.dirname(image[k]) for k in image
                             if k in ('disk', 'kernel', 'ramdisk')}))},
             'DEFAULT': {'state_path': state}}
    if api_port:
        extra['api'] = {'bind_port': api_port}
    dep = deployment.Deployment(pathlib.Path(workdir), vhost.url, db_url,
                                host=host, extra=extra)
    dep.vhost, dep.image = vhost, image
    dep.start(*deployment.SERVICES, *(('hvagent-api',) if api_port else ()))
    dep.ready(timeout=120)
    rpc_transport.cleanup()
    rpc_transport.init(url=vhost.url)
    dep.conductor = conductor_rpcapi.ConductorAPI(timeout=120)
    dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
    return dep


def boot_agent_guest(dep, flavor):
    img = dep.image
    inst = dep.conductor.boot_instance(
        dep.ctxt, name='bench-susp', flavor=flavor, image_ref=img['disk'],
        availability_zone=None, hints={}, metadata={}, networks=[],
        options={'kernel_ref': img['kernel'], 'ramdisk_ref': img['ramdisk']})
    inst = deployment.settle(dep, inst.uuid, timeout=TIMEOUT)
    assert inst.vm_state == 'active', inst
    wait_booted(lambda: dep.conductor.console_output(
        dep.ctxt, ref=inst.uuid, length=200))
    return inst


def boot_raw_guest(drv, image, memory_mb):
    spec = virt_driver.GuestSpec(
        uuid=str(uuid.uuid4()), name='bench-susp-raw', vcpus=1,
        memory_mb=memory_mb, root_gb=1, image_ref=image['disk'],
        kernel_ref=image['kernel'], ramdisk_ref=image['ramdisk'])
    drv.spawn(spec)
    wait_booted(lambda: drv.get_console_output(spec.uuid, 1 << 20))
    return designer.domain_name(spec.uuid), spec.uuid


def wait_booted(console):
    wait_until(lambda: 'hvagent-test-guest disks:' in console(), TIMEOUT,
               interval=0.5, message='the guest booting')


def agent_op(dep, inst, action, vm_state):
    """(ms until the instance settled in ``vm_state``, the action's own
    ms, {event: ms})."""
    t0 = time.perf_counter()
    dep.conductor.instance_action(dep.ctxt, ref=inst.uuid, action=action,
                                  volume_id=None, connection_info={})
    after = deployment.settle(dep, inst.uuid, timeout=TIMEOUT,
                              interval=0.01)
    took = (time.perf_counter() - t0) * 1e3
    assert after.vm_state == vm_state, after
    span, steps = agents.action_times(dep, inst, action)
    return took, span, steps


def virsh(*args):
    t0 = time.perf_counter()
    subprocess.run(['virsh', '-c', libvirtd.URI, *args], check=True,
                   capture_output=True, timeout=TIMEOUT)
    return (time.perf_counter() - t0) * 1e3


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def measure(args, dep, drv, image):
    found = {k: [] for k in ('agent suspend', 'agent resume',
                             'raw managedsave', 'raw start',
                             'driver suspend', 'driver resume')}
    spans = {'agent suspend': [], 'agent resume': []}
    steps = {'agent suspend': [], 'agent resume': []}
    inst = boot_agent_guest(dep, args.flavor)
    name, raw_uuid = boot_raw_guest(drv, image, FLAVOR_MB[args.flavor])
    try:
        for _ in range(args.runs):
            found['raw managedsave'].append(virsh('managedsave', name))
            found['raw start'].append(virsh('start', name))
            found['driver suspend'].append(timed(drv.suspend, raw_uuid))
            found['driver resume'].append(timed(drv.resume, raw_uuid))
            for label, action, state in (
                    ('agent suspend', 'suspend', 'suspended'),
                    ('agent resume', 'resume', 'active')):
                took, span, step = agent_op(dep, inst, action, state)
                found[label].append(took)
                spans[label].append(span)
                steps[label].append(step)
            time.sleep(1)       # both guests run a moment between runs
    finally:
        drv.destroy(raw_uuid)
        delete_all(dep, [inst])
    return found, spans, steps


def delete_all(dep, instances):
    """Delete ``instances`` and wait until they are gone (their agent
    removed their guests), so nothing is left when the cloud stops."""
    for inst in instances:
        dep.conductor.instance_action(dep.ctxt, ref=inst.uuid,
                                      action='delete', volume_id=None,
                                      connection_info={})
    uuids = {i.uuid for i in instances}
    wait_until(lambda: not uuids & {i.uuid for i in dep.conductor.
                                    instance_list(dep.ctxt, host=None,
                                                  project_id=None)},
               TIMEOUT, interval=0.2, message='the guests deleted')


def report(args, found, spans, steps):
    print('%s, %s (%d CPUs), idle test guest, %s (%d MiB), TCG, %s:'
          % (datetime.date.today().isoformat(), platform.node(),
             os.cpu_count(), args.flavor, FLAVOR_MB[args.flavor],
             args.db.split(':', 1)[0]))
    p50 = {k: statistics.median(v) for k, v in found.items()}
    for label, runs in found.items():
        extra = ''
        if label in spans:
            extra = '  (the action itself: %.0f ms)' % statistics.median(
                spans[label])
        print('  %-16s p50 of %d: %7.0f ms  min %6.0f  max %6.0f%s'
              % (label, len(runs), p50[label], min(runs), max(runs), extra))
    for op, base in (('suspend', 'raw managedsave'), ('resume', 'raw start')):
        print('  %s: hvagent / raw = %.2fx' % (
            op, p50['agent ' + op] / p50[base]))
    total = (p50['agent suspend'] + p50['agent resume']) / (
        p50['raw managedsave'] + p50['raw start'])
    print('  suspend + resume: hvagent / raw = %.2fx' % total)
    for label, runs in steps.items():
        print('  where %s spends its time (p50 of each event):' % label)
        for event in sorted(runs[0], key=lambda n: -runs[0][n]):
            print('    %-50s %6.0f ms' % (event, statistics.median(
                s[event] for s in runs if event in s)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--flavor', choices=sorted(FLAVOR_MB),
                        default='m1.tiny')
    parser.add_argument('--db', default=None,
                        help='a database URL (default: a SQLite file)')
    args = parser.parse_args()
    libvirtd.require_libvirtd()
    image = guest_image.ensure_image()
    workdir = tempfile.mkdtemp(prefix='hvbench-susp-', dir='/var/tmp')
    os.chmod(workdir, 0o755)
    args.db = args.db or 'sqlite:///%s/hv.sqlite' % workdir
    configure(workdir)
    drv = libvirt_driver.LibvirtDriver()
    drv.init_host('hvbench-raw')
    dep = start_cloud(workdir, args.db, image)
    try:
        found, spans, steps = measure(args, dep, drv, image)
    finally:
        dep.stop()
        rpc_transport.cleanup()
        dep.vhost.delete()
        drv.cleanup_host()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, found, spans, steps)


if __name__ == '__main__':
    main()
