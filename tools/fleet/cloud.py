"""A whole control plane and a simulated fleet as real processes.

Conductors, schedulers and hosts processes (tools.fleet.hosts) share one
config file: a private RabbitMQ vhost, a fresh database on the chosen
backend, the bus secret, the fake driver. Every process's output goes to
``<workdir>/<name>.log``.
"""
import os
import pathlib
import subprocess
import sys
import time

import psutil

from agent.security import bus_auth
from tests.fixtures import brokers
from tests.fixtures import databases
from tests.fixtures import deployment
from tools.fleet import hosts as fleet_hosts

BIN = os.path.dirname(sys.executable)
ROOT = pathlib.Path(__file__).resolve().parents[2]


def broker_file_limit():
    """The local RabbitMQ's open-files limit, None if unknown."""
    for proc in psutil.process_iter(['name']):
        if proc.info['name'] == 'beam.smp':
            try:    # (prlimit may be refused where /proc is readable)
                with open('/proc/%d/limits' % proc.pid) as f:
                    for line in f:
                        if line.startswith('Max open files'):
                            return int(line.split()[3])
            except (OSError, ValueError, IndexError):
                return None
    return None


def check_broker_room(hosts, processes):
    """Refuse a fleet the local broker cannot hold: every host's queue is
    a connection of its own, and each process adds its senders' pool. A
    broker out of file descriptors breaks (its metadata store aborts) and
    needs a restart."""
    limit = broker_file_limit()
    needed = hosts + 40 * processes + 300
    if limit is not None and needed > 0.8 * limit:
        raise SystemExit(
            'fleet: %d hosts in %d processes need about %d connections, '
            'more than the local RabbitMQ\'s open-files limit (%d) allows; '
            'restart it with a higher limit (ulimit -n 65536; '
            'rabbitmq-server -detached) or run fewer hosts'
            % (hosts, processes, needed, limit))


class Fleet:
    """Start with ``start()``, stop with ``stop()`` (also on failure)."""

    def __init__(self, workdir, hosts, per_process, db='sqlite',
                 report_interval=10, pool_size=None, extra=None,
                 prefix='fleet', control_tree=None, transport_url=None):
        """``control_tree``: a checkout whose conductor and scheduler run
        instead of this tree's (a baseline); the hosts and clients are
        always this tree's. ``transport_url``: the broker (e.g. a
        cluster's multi-host URL) instead of a private vhost on the local
        RabbitMQ."""
        self.workdir = pathlib.Path(workdir)
        self.hosts, self.per_process = hosts, per_process
        self.backend, self.prefix = db, prefix
        self.report_interval = report_interval
        self.pool_size, self.extra = pool_size, extra or {}
        self.control_tree = control_tree
        self.transport_url = transport_url
        self.procs = {}          # name -> Popen
        self._cleanups = []

    # ------------------------------------------------------------ set-up
    def _config(self):
        transport_url = self.transport_url
        if transport_url is None:
            vhost = brokers.VHost()
            self._cleanups.append(vhost.delete)
            transport_url = vhost.url
        url, drop = databases.provision(self.backend, self.workdir)
        self._cleanups.append(drop)
        self.db_url = url
        secret = self.workdir / 'bus.secret'
        bus_auth.create_secret(str(secret))
        sections = {
            'DEFAULT': {'host': self.prefix + '-ctl',
                        'state_path': self.workdir / 'state',
                        'transport_url': transport_url,
                        'report_interval': self.report_interval,
                        'service_down_time': max(60, 3 * self.report_interval),
                        'rpc_call_timeout': 60,
                        # hundreds of simulated hosts' idle listeners per
                        # process: oslo.messaging's own idle wait
                        'bus_idle_poll': 5},
            'database': {'connection': url},
            'bus': {'secret_file': secret},
            'compute': {'compute_driver': 'fake',
                        # no periodic work but the reports: a quiet fleet
                        'sync_power_state_interval': 0,
                        'network_resync_interval': 0,
                        'image_cache_manager_interval': 0},
            # room for every boot of a run: the fleet never fills
            'scheduler': {'max_instances_per_host': 10000,
                          'cpu_allocation_ratio': 1000.0},
        }
        if self.pool_size:
            sections['database']['pool_size'] = self.pool_size
        for section, values in self.extra.items():
            sections.setdefault(section, {}).update(values)
        self.config = deployment.write_config(self.workdir / 'fleet.conf',
                                              **sections)

    def spawn(self, name, argv, env=None, cwd=ROOT):
        log = open(self.workdir / ('%s.log' % name), 'ab')
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                                cwd=cwd, pass_fds=(), env=env)
        log.close()
        self.procs[name] = proc
        return proc

    def _service(self, name, binary):
        if self.control_tree is None:
            proc = self.spawn(name, [os.path.join(BIN, binary),
                                     '--config-file', str(self.config)])
        else:
            module = {'hvagent-conductor': 'agent.conductor.main',
                      'hvagent-scheduler': 'agent.scheduler.main'}[binary]
            proc = self.spawn(name, [
                sys.executable, '-c', 'import sys, %s as m; sys.argv[0] = '
                '%r; sys.exit(m.main())' % (module, binary),
                '--config-file', str(self.config)],
                env=dict(os.environ, PYTHONPATH=str(self.control_tree)),
                cwd=self.control_tree)
        self.wait_log(name, '%s started' % binary, proc)
        return proc

    def wait_log(self, name, text, proc, timeout=120):
        path = self.workdir / ('%s.log' % name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in path.read_text(errors='replace'):
                return
            if proc.poll() is not None:
                raise RuntimeError('%s exited (%s); see %s'
                                   % (name, proc.returncode, path))
            time.sleep(0.2)
        raise RuntimeError('%s did not log %r within %ss; see %s'
                           % (name, text, timeout, path))

    def start(self, conductors=1, schedulers=1):
        if self.transport_url is None:
            check_broker_room(self.hosts,
                              -(-self.hosts // self.per_process))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._config()
        # the first conductor migrates the database; the others start on it
        for i in range(conductors):
            self._service('conductor-%d' % i, 'hvagent-conductor')
        for i in range(schedulers):
            self._service('scheduler-%d' % i, 'hvagent-scheduler')
        started = []
        for first in range(0, self.hosts, self.per_process):
            count = min(self.per_process, self.hosts - first)
            started.append(self.spawn('hosts-%d' % first, [
                sys.executable, '-m', 'tools.fleet.hosts',
                '--config-file', str(self.config), '--prefix', self.prefix,
                '--first', str(first), '--count', str(count)]))
        for proc in started:
            line = proc.stdout.readline().decode()
            if not line.startswith('ready'):
                raise RuntimeError('a hosts process failed to start (%r); '
                                   'see %s' % (line, self.workdir))
        return self

    def host_names(self):
        return [fleet_hosts.host_name(self.prefix, i)
                for i in range(self.hosts)]

    # ----------------------------------------------------------- looking
    def group(self, prefix):
        """psutil Processes of the services whose names start with
        ``prefix`` (conductor, scheduler, hosts)."""
        return [psutil.Process(p.pid) for n, p in self.procs.items()
                if n.startswith(prefix) and p.poll() is None]

    # ---------------------------------------------------------- stopping
    def stop(self):
        """The hosts first (their last operations still reach the
        conductor), then the control plane."""
        hosts = {n: p for n, p in self.procs.items() if n.startswith('hosts')}
        rest = {n: p for n, p in self.procs.items() if n not in hosts}
        for group in (hosts, rest):
            for proc in group.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in group.values():
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stdout:
                    proc.stdout.close()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as e:   # report, go on cleaning
                print('cleanup failed: %s' % e, file=sys.stderr)
