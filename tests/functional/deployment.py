"""Conductor, scheduler and compute agent as three real processes.

Each gets the same config file (transport on a private RabbitMQ vhost, the
database URL given, the fake driver); the test talks to them through the
conductor over RPC like hvctl does.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

from oslo_config import cfg

BIN = os.path.dirname(sys.executable)
SERVICES = ('hvagent-conductor', 'hvagent-scheduler', 'hvagent-compute')


def bus_conf():
    """A config file naming the test session's bus secret, for the
    hvctl processes a test runs (they sign as controllers)."""
    path = pathlib.Path(cfg.CONF.bus.secret_file).with_name('bus.conf')
    if not path.exists():
        write_config(path, bus={'secret_file': cfg.CONF.bus.secret_file})
    return str(path)


def write_config(path, **sections):
    lines = []
    for section, values in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % kv for kv in values.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


class Deployment:
    def __init__(self, tmp_path, transport_url, db_url, host='hvtest-node1',
                 extra=None):
        self.tmp_path, self.host = tmp_path, host
        sections = {
            'DEFAULT': {'host': host, 'state_path': tmp_path / 'state',
                        'transport_url': transport_url,
                        'report_interval': 1, 'service_down_time': 10},
            'database': {'connection': db_url},
            # the test session's controllers share its bus secret
            'bus': {'secret_file': cfg.CONF.bus.secret_file},
            'compute': {'compute_driver': 'fake'},
        }
        for section, values in (extra or {}).items():
            sections.setdefault(section, {}).update(values)
        self.config = write_config(tmp_path / 'hvagent.conf', **sections)
        self.state_path = pathlib.Path(sections['DEFAULT']['state_path'])
        self.procs = {}
        self.life_start = {}    # name -> log offset where this life began

    def start(self, *names, env=None, config=None):
        """Start the services (all by default); ``env`` adds variables to
        their environment (e.g. HVAGENT_FAILPOINTS); ``config``: another
        config file than the deployment's (e.g. a compute node's own). Logs
        are appended to, so a restarted service's log keeps its earlier
        life."""
        for name in names or SERVICES:
            log = open(self.tmp_path / ('%s.log' % name), 'a')
            self.life_start[name] = log.tell()
            self.procs[name] = subprocess.Popen(
                [os.path.join(BIN, name), '--config-file',
                 str(config or self.config)],
                stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, **(env or {})))
            if name == 'hvagent-conductor':
                self.wait_log(name, 'started')

    def log(self, name, this_life=False):
        text = (self.tmp_path / ('%s.log' % name)).read_text()
        return text[self.life_start.get(name, 0):] if this_life else text

    def wait_log(self, name, text, timeout=60):
        """Wait until the service's current life logged ``text``."""
        deadline = time.monotonic() + timeout
        while text not in self.log(name, this_life=True):
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError('%s exited %s:\n%s'
                                   % (name, proc.returncode, self.log(name)))
            if time.monotonic() > deadline:
                raise TimeoutError('%s never logged %r:\n%s'
                                   % (name, text, self.log(name)))
            time.sleep(0.1)

    def stop(self, *names, sig=signal.SIGTERM, timeout=60):
        """Signal the services; return their exit codes."""
        codes = {}
        for name in reversed(names or list(self.procs)):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            proc.send_signal(sig)
            try:
                codes[name] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes


def wait_all_up(dep, conductor, ctxt, timeout=60):
    """Return once every service shows up: the agent reported and the
    scheduler beat its heart (a call to a topic nobody consumes yet is
    dropped by the broker)."""
    deadline = time.monotonic() + timeout
    while {h['service'].binary for h in conductor.host_list(ctxt)
           if h['service'].up} != set(SERVICES):
        assert time.monotonic() < deadline, dep.log('hvagent-compute')
        time.sleep(0.2)


def settle(dep, uuid, timeout=30):
    """The instance once its task is done (no task_state, not building),
    through ``dep.conductor`` as ``dep.ctxt``; fails with the instance
    and the end of the agent's log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        inst = dep.conductor.instance_show(dep.ctxt, ref=uuid)
        if inst.task_state is None and inst.vm_state != 'building':
            return inst
        assert time.monotonic() < deadline, (
            inst, dep.log('hvagent-compute')[-3000:])
        time.sleep(0.02)
