"""The fleet harness: a control plane under a boot storm from a simulated fleet.

    python -m tools.fleet [--hosts 1000] [--per-process 100] [--clients 32,128]
        [--seconds 30] [--conductors 1] [--schedulers 1]
        [--db sqlite|mysql|postgresql] [--report-interval 10]
        [--profile DIR] [--keep DIR] [--baseline REF]

Starts the conductor(s) and scheduler(s) (the console scripts), N simulated
compute hosts (tools.fleet.hosts: the real agent on the fake driver, many
per process, each on its own compute.<host> queue, reporting every
``report_interval`` s) on a private RabbitMQ vhost and a fresh database.
Then:

* an idle window as long as two report intervals: the conductor's CPU per
  resource report (every host reports once per interval);
* for each client count, a storm of that many concurrent clients (separate
  processes, 64 clients each) booting and deleting for ``--seconds``:
  boots/s, request->active p50/p99, failures, CPU per boot and RSS per
  service, and how evenly the boots spread over the hosts.

``--baseline REF`` runs the same again with the conductor and scheduler of
a git ref (a worktree beside this one; hosts and clients stay this tree's)
and prints this tree's figures over the baseline's. ``--profile DIR``
records the conductor with py-spy (pip install py-spy) during each storm
and prints where its time goes.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

from tools.fleet import cloud
from tools.fleet import profile

CLIENTS_PER_PROCESS = 64
SERVICES = ('conductor', 'scheduler', 'hosts', 'load')


def percentile(values, pct):
    values = sorted(values)
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(round(pct / 100 * len(values))))]


def cpu_seconds(procs):
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mib(procs):
    return sum(p.memory_info().rss for p in procs) / 2 ** 20


def idle_report_cost(fleet, seconds, profile_dir=None):
    """Conductor CPU ms per resource report while the fleet only reports."""
    procs = fleet.group('conductor')
    spy = profile.record(procs[0].pid, seconds, time.time(), profile_dir,
                         'conductor-idle') if profile_dir else None
    c0, t0 = cpu_seconds(procs), time.monotonic()
    time.sleep(seconds)
    used, spent = cpu_seconds(procs) - c0, time.monotonic() - t0
    if spy is not None:
        spy.wait()
    reports = fleet.hosts * spent / fleet.report_interval
    return used * 1e3 / reports, used / spent


def storm(fleet, clients, seconds, profile_dir=None):
    groups = {name: fleet.group(name) for name in SERVICES[:-1]}
    before = {name: cpu_seconds(procs) for name, procs in groups.items()}
    start_at = time.time() + 3      # every load process connected by then
    loads, outs = [], []
    for i in range(0, clients, CLIENTS_PER_PROCESS):
        n = min(CLIENTS_PER_PROCESS, clients - i)
        name = 'load-%d-%d' % (clients, i)
        outs.append(fleet.workdir / (name + '.json'))
        loads.append(fleet.spawn(name, [
            sys.executable, '-m', 'tools.fleet.load', '--out', str(outs[-1]),
            '--config-file', str(fleet.config), '--clients', str(n),
            '--seconds', str(seconds), '--start-at', str(start_at)]))
    spy = profile.record(groups['conductor'][0].pid, seconds, start_at,
                         profile_dir, 'conductor-%d' % clients) \
        if profile_dir else None
    load_procs = [psutil.Process(p.pid) for p in loads]
    load_cpu = {p.pid: 0.0 for p in load_procs}
    results, rss = [], {}
    while any(p.poll() is None for p in loads):
        time.sleep(1)
        for p in load_procs:      # last sample before it exits
            try:
                t = p.cpu_times()
                load_cpu[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        if not rss and time.time() > start_at + seconds / 2:
            rss = {name: rss_mib(procs) for name, procs in groups.items()}
    for out in outs:
        results += json.loads(out.read_text())['results']
    after = {name: cpu_seconds(procs) for name, procs in groups.items()}
    cpu = {name: after[name] - before[name] for name in before}
    cpu['load'] = sum(load_cpu.values())
    if spy is not None:
        spy.wait()
    return summarize(fleet, clients, seconds, results, cpu, rss)


def summarize(fleet, clients, seconds, results, cpu, rss):
    boots = [r for r in results if r['ms'] and r['end'] <= seconds + 1]
    ok = [r for r in boots if r['ok']]
    failed = [r for r in results if not r['ok']]
    times = [r['ms'] for r in ok]
    per_host = collections.Counter(r['host'] for r in ok)
    counts = [per_host.get(h, 0) for h in fleet.host_names()]
    line = {
        'clients': clients, 'boots': len(ok), 'failed': len(failed),
        'boots_per_s': len(ok) / seconds,
        'p50_ms': percentile(times, 50), 'p99_ms': percentile(times, 99),
        'cpu_ms_per_boot': {k: v * 1e3 / max(1, len(ok))
                            for k, v in cpu.items()},
        'rss_mib': rss,
        'hosts_used': sum(1 for c in counts if c),
        'per_host_max': max(counts), 'per_host_stdev':
            statistics.pstdev(counts) if counts else 0.0,
        'faults': collections.Counter(
            (r['fault'] or 'not active')[:100] for r in failed)
        .most_common(3),
    }
    return line


def show(line):
    print('%4d clients: %5d boots %6.1f boots/s  p50 %6.0f ms  p99 %6.0f ms'
          '  failed %d' % (line['clients'], line['boots'],
                           line['boots_per_s'], line['p50_ms'],
                           line['p99_ms'], line['failed']))
    print('      CPU ms per boot: ' + '  '.join(
        '%s %.1f' % kv for kv in line['cpu_ms_per_boot'].items()))
    print('      RSS MiB: ' + '  '.join(
        '%s %.0f' % kv for kv in line['rss_mib'].items()))
    print('      spread: %d of the hosts got boots, at most %d on one, '
          'stdev %.2f' % (line['hosts_used'], line['per_host_max'],
                          line['per_host_stdev']))
    for fault, n in line['faults']:
        print('      %d x %s' % (n, fault))


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--per-process', type=int, default=100)
    parser.add_argument('--clients', default='32,128')
    parser.add_argument('--seconds', type=float, default=30)
    parser.add_argument('--conductors', type=int, default=1)
    parser.add_argument('--schedulers', type=int, default=1)
    parser.add_argument('--db', default='mysql',
                        choices=('sqlite', 'mysql', 'postgresql'))
    parser.add_argument('--pool-size', type=int, default=None)
    parser.add_argument('--report-interval', type=int, default=10)
    parser.add_argument('--profile', metavar='DIR')
    parser.add_argument('--keep', metavar='DIR',
                        help='keep the logs and config under this directory')
    parser.add_argument('--baseline', metavar='REF',
                        help='run the same fleet again with the conductor '
                             'and scheduler of this git ref, and print the '
                             'ratios')
    parser.add_argument('--json', action='store_true',
                        help='print each storm as a JSON line too')
    return parser.parse_args(argv)


def run(args, label, control_tree=None, extra=None):
    """One fleet, every storm of ``args``; (report cost, storm lines)."""
    workdir = tempfile.mkdtemp(prefix='hvfleet-', dir=args.keep)
    fleet = cloud.Fleet(workdir, args.hosts, args.per_process, args.db,
                        args.report_interval, args.pool_size, extra=extra,
                        control_tree=control_tree)
    t0, lines = time.monotonic(), []
    try:
        fleet.start(args.conductors, args.schedulers)
        print('%s: %d hosts in %d processes, %d conductor(s), %d '
              'scheduler(s), %s, report_interval %ds: up in %.0f s'
              % (label, args.hosts, -(-args.hosts // args.per_process),
                 args.conductors, args.schedulers, args.db,
                 args.report_interval, time.monotonic() - t0), flush=True)
        per_report, share = idle_report_cost(
            fleet, 2 * args.report_interval, args.profile)
        print('idle: conductor CPU %.2f ms per resource report (%.0f%% of '
              'a core for %d hosts)' % (per_report, 100 * share, args.hosts),
              flush=True)
        for clients in (int(c) for c in args.clients.split(',')):
            line = storm(fleet, clients, args.seconds, args.profile)
            show(line)
            if args.json:
                print(json.dumps(line))
            lines.append(line)
            sys.stdout.flush()
    finally:
        fleet.stop()
        if not args.keep:
            subprocess.run(['rm', '-rf', workdir])
    return per_report, lines


def baseline_tree(ref):
    """A checkout of ``ref`` beside this one, made once per commit (a ref
    such as HEAD is resolved first: the same name may mean another commit
    in the next run)."""
    commit = subprocess.run(
        ['git', '-C', str(cloud.ROOT), 'rev-parse', '--verify',
         ref + '^{commit}'], check=True, capture_output=True,
        text=True).stdout.strip()
    path = os.path.join(tempfile.gettempdir(),
                        'hvfleet-baseline-%s' % commit[:12])
    if not os.path.isdir(path):
        subprocess.run(['git', '-C', str(cloud.ROOT), 'worktree', 'add',
                        '--detach', path, ref], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def baseline_caps(tree):
    """The [upgrade_levels] conductor cap clients and hosts need with the
    conductor of ``tree``: 1.14 before it sent change notices (its
    clients wait in long polls, as they did), 1.15 before it read reports
    from their own queue (its hosts' reports are calls)."""
    conductor = os.path.join(tree, 'agent', 'conductor')
    for module, cap in (('change_notices.py', '1.14'),
                        ('report_queue.py', '1.15')):
        if not os.path.exists(os.path.join(conductor, module)):
            return {'upgrade_levels': {'conductor': cap}}
    return {}


def main(argv=None):
    args = parse(argv)
    per_report, lines = run(args, 'this tree')
    if not args.baseline:
        return 0
    tree = baseline_tree(args.baseline)
    base_report, base_lines = run(
        args, 'baseline %s' % args.baseline, tree, baseline_caps(tree))
    print('this tree / baseline %s:' % args.baseline)
    print('  conductor CPU per report %.2f / %.2f ms = x%.2f'
          % (per_report, base_report, per_report / base_report))
    for new, old in zip(lines, base_lines):
        print('  %4d clients: boots/s %.1f / %.1f = x%.2f   p99 %.0f / %.0f '
              'ms = x%.2f   conductor CPU per boot %.1f / %.1f ms = x%.2f'
              % (new['clients'], new['boots_per_s'], old['boots_per_s'],
                 new['boots_per_s'] / max(old['boots_per_s'], 1e-9),
                 new['p99_ms'], old['p99_ms'], new['p99_ms'] / old['p99_ms'],
                 new['cpu_ms_per_boot']['conductor'],
                 old['cpu_ms_per_boot']['conductor'],
                 new['cpu_ms_per_boot']['conductor'] /
                 old['cpu_ms_per_boot']['conductor']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
