"""Snapshots through hvagent against raw ``qemu-img convert``, in the same
run.

    python -m tools.bench.snapshot [--runs 3] [--gib 1] [--guests 1]
                                   [--db URL]

One host: conductor, scheduler, hvagent-api (the image store) and
hvagent-compute (LibvirtDriver, TCG) over RabbitMQ (a vhost of their
own), the database at ``--db`` (default a SQLite file). The guests boot
from a ``--gib`` GiB image whose every cluster holds data (the test
guest's disk, filled), so each snapshot copies ``--gib`` GiB:

- hvagent: ``createImage`` of ``--guests`` running guests at once (the
  conductor's instance_snapshot), timed from the request until every
  image is active and every instance has no task; where an agent's time
  goes (its copy and its upload, from its log) is printed beside it;
- raw: ``qemu-img convert -U -O qcow2`` of the same running guests'
  disks, as many at once, into the same filesystem: into the page cache
  (``convert``, what the issue names), and straight to the disk
  (``-t none``, as durable as the block copy's file);
- by hand: that durable convert, then its upload to the same hvagent-api
  as an admin would (glance's create, then PUT of the file): what a
  snapshot costs without hvagent.

Run by run interleaved. Needs root, libvirtd with QEMU, RabbitMQ and the
test guest image.
"""
import argparse
import concurrent.futures
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import requests

from agent.cli import api_backend
from agent.rpc import transport as rpc_transport
from tests.fixtures import api_cloud
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.waiting import wait_until
from tools.bench import suspend_resume as bench

TIMEOUT = 900
LABELS = {'hvagent': 'hvagent snapshot (copy + upload)',
          'raw': 'raw qemu-img convert (page cache)',
          'raw durable': 'raw qemu-img convert -t none',
          'by hand': 'convert -t none + upload by hand'}
_SPLIT = re.compile(r'Snapshot of (\S+) uploaded as image (\S+) \((\d+) '
                    r'bytes; copy ([\d.]+) s, upload ([\d.]+) s\)')


def filled_image(workdir, image, gib):
    """The test guest with a ``gib`` GiB root disk image whose every
    cluster holds data (what a used disk looks like to a copy)."""
    path = os.path.join(workdir, 'filled.qcow2')
    subprocess.run(['qemu-img', 'convert', '-O', 'qcow2', image['disk'],
                    path], check=True)
    subprocess.run(['qemu-img', 'resize', '-q', path, '%dG' % gib],
                   check=True)
    start, end = 64 << 20, (gib << 30) - (1 << 20)
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a %d %d'
                    % (start, end - start), path], check=True,
                   capture_output=True)
    os.chmod(path, 0o644)
    return dict(image, disk=path)


def hvagent_snapshots(dep, guests, run):
    """ms until every guest's snapshot is active and settled."""
    t0 = time.perf_counter()
    images = [dep.conductor.instance_snapshot(
        dep.ctxt, ref=g.uuid, name='bench-%d-%d' % (run, i))
        for i, g in enumerate(guests)]

    def done():
        shown = [dep.conductor.image_show(dep.ctxt, image_id=i['id'])
                 for i in images]
        if any(i['status'] == 'saving' for i in shown):
            return None
        return shown
    shown = wait_until(done, TIMEOUT, interval=0.02,
                       message='the snapshots')
    for g in guests:
        deployment.settle(dep, g.uuid, timeout=TIMEOUT, interval=0.02)
    took = (time.perf_counter() - t0) * 1e3
    assert all(i['status'] == 'active' for i in shown), shown
    for i in shown:
        dep.conductor.image_delete(dep.ctxt, image_id=i['id'])
    return took


def raw_converts(dep, guests, workdir, cache=(), upload=None):
    """ms of ``qemu-img convert -U`` of every guest's disk at once
    (``cache``: its cache options), each then given to ``upload``."""
    def convert(g):
        out = os.path.join(workdir, 'raw-%s.qcow2' % g.uuid)
        subprocess.run(['qemu-img', 'convert', '-U', *cache, '-O', 'qcow2',
                        os.path.join(dep.state_path, 'instances', g.uuid,
                                     'disk'), out], check=True)
        if upload:
            upload(out)
        return out
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(guests)) as pool:
        outs = list(pool.map(convert, guests))
    took = (time.perf_counter() - t0) * 1e3
    for out in outs:
        os.unlink(out)
    return took


def admin_uploader(dep, url):
    """An upload of a file as a new image by the bootstrapped admin
    (glance's create, then PUT of the file), the image deleted after."""
    subprocess.run([os.path.join(deployment.BIN, 'hvagent-api'),
                    '--config-file', str(dep.config), '--bootstrap'],
                   check=True, timeout=60, capture_output=True,
                   env=dict(os.environ, HVAGENT_BOOTSTRAP_PASSWORD=api_cloud.PASSWORD))
    admin = api_cloud.Client(url, requests.post(
        url + '/v3/auth/tokens', timeout=60,
        json=api_backend.password_auth('admin', api_cloud.PASSWORD)).headers[
            'X-Subject-Token'])

    def upload(path):
        image = admin.ok('POST', api_cloud.IMAGE + '/images', json={
            'name': 'by-hand', 'disk_format': 'qcow2',
            'container_format': 'bare'})
        with open(path, 'rb') as f:
            admin.ok('PUT', '%s/images/%s/file' % (api_cloud.IMAGE,
                                                   image['id']),
                     data=f, headers={
                         'Content-Type': 'application/octet-stream'})
        admin.ok('DELETE', '%s/images/%s' % (api_cloud.IMAGE, image['id']))
    return upload


def measure(args, dep, workdir, url):
    guests = [bench.boot_agent_guest(dep, 'm1.tiny')
              for _ in range(args.guests)]
    upload = admin_uploader(dep, url)
    found = {label: [] for label in LABELS}
    try:
        for run in range(args.runs):
            found['raw'].append(raw_converts(dep, guests, workdir))
            found['raw durable'].append(raw_converts(
                dep, guests, workdir, ('-t', 'none')))
            found['by hand'].append(raw_converts(
                dep, guests, workdir, ('-t', 'none'), upload))
            found['hvagent'].append(hvagent_snapshots(dep, guests, run))
    finally:
        bench.delete_all(dep, guests)
    splits = [m.groups() for m in _SPLIT.finditer(dep.log(
        'hvagent-compute'))]
    return found, splits


def report(args, found, splits):
    print('%s, %s (%d CPUs), %d running test guest(s), %d GiB root disk '
          'each (all data), TCG, %s:'
          % (datetime.date.today().isoformat(), platform.node(),
             os.cpu_count(), args.guests, args.gib,
             args.db.split(':', 1)[0]))
    p50 = {k: statistics.median(v) for k, v in found.items()}
    for label, text in LABELS.items():
        runs = found[label]
        print('  %-38s p50 of %d: %7.0f ms  min %6.0f  max %6.0f'
              % (text, len(runs), p50[label], min(runs), max(runs)))
    for label in ('raw', 'raw durable', 'by hand'):
        print('  hvagent / %s = %.2fx' % (label, p50['hvagent'] /
                                          p50[label]))
    if splits:
        size = statistics.median(int(s[2]) for s in splits)
        copy = statistics.median(float(s[3]) for s in splits) * 1e3
        upload = statistics.median(float(s[4]) for s in splits) * 1e3
        print('  where an agent\'s snapshot goes (p50 of %d): block copy '
              '%.0f ms, upload to hvagent-api %.0f ms (%.0f MiB, sha256 '
              'and PUT; the API hashes and fsyncs it)'
              % (len(splits), copy, upload, size / (1 << 20)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--gib', type=int, default=1)
    parser.add_argument('--guests', type=int, default=1,
                        help='guests snapshotted at once')
    parser.add_argument('--db', default=None,
                        help='a database URL (default: a SQLite file)')
    args = parser.parse_args()
    libvirtd.require_libvirtd()
    image = guest_image.ensure_image()
    workdir = tempfile.mkdtemp(prefix='hvbench-snap-', dir='/var/tmp')
    os.chmod(workdir, 0o755)
    args.db = args.db or 'sqlite:///%s/hv.sqlite' % workdir
    bench.configure(workdir)
    image = filled_image(workdir, image, args.gib)
    port = api_cloud.free_port()
    dep = bench.start_cloud(workdir, args.db, image, host='hvbench-snap',
                            api_port=port)
    try:
        found, splits = measure(args, dep, workdir,
                                'http://127.0.0.1:%d' % port)
    finally:
        dep.stop()
        rpc_transport.cleanup()
        dep.vhost.delete()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, found, splits)


if __name__ == '__main__':
    main()
