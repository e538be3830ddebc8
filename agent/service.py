"""The daemon run loop every service shares: config, logging, RPC servers,
periodic tasks, signals and sd_notify.

A service starts its RPC servers, then its periodic tasks, tells systemd it
is ready, and runs until SIGTERM/SIGINT; then it stops taking messages,
lets in-flight handlers finish (oslo.messaging's server.wait()), and exits 0.
"""
import faulthandler
import logging
import os
import signal
import sys
import threading

from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
from agent import systemd

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


def parse_config(argv, defaults=None):
    """Parse the command line and /etc/hvagent/hvagent.conf (+ --config-dir).

    ``defaults`` maps option names ('group.name' or 'name') to values that
    replace the built-in default (the all-in-one's embedded defaults).
    """
    for key, value in (defaults or {}).items():
        group, _, name = key.rpartition('.')
        CONF.set_default(name, value, group=group or None)
    CONF(argv, project='hvagent')


def setup_logging(debug=False):
    under_journal = bool(os.environ.get('JOURNAL_STREAM'))
    fmt = ('%(levelname)s %(name)s: %(message)s' if under_journal else
           '%(asctime)s %(levelname)s %(name)s: %(message)s')
    logging.basicConfig(stream=sys.stderr, format=fmt,
                        level=logging.DEBUG if debug else logging.INFO,
                        force=True)
    for noisy in ('oslo.messaging', 'oslo_messaging', 'kombu', 'amqp',
                  'alembic', 'stevedore'):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "No hostname was supplied" for every in-process (memory) connection
    logging.getLogger('kombu.connection').setLevel(logging.ERROR)


class Periodic:
    """Runs ``func`` every ``interval`` seconds on its own daemon thread;
    ``kick()`` runs it as soon as possible (kicks coalesce)."""

    def __init__(self, name, interval, func, run_now=True):
        self.name, self.interval, self.func = name, interval, func
        self.run_now = run_now
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name,
                                        daemon=True)

    def start(self):
        self._thread.start()

    def kick(self):
        self._wake.set()

    def _loop(self):
        if not self.run_now:
            self._wake.wait(self.interval)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.func()
            except Exception:
                LOG.exception('Periodic task %s failed', self.name)
            self._wake.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and \
                self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


class Service:
    """RPC servers + periodic tasks with a shared life cycle."""

    def __init__(self, name, servers=(), periodics=(), on_stop=()):
        self.name = name
        self.servers = list(servers)
        self.periodics = list(periodics)
        self.on_stop = list(on_stop)
        self._stopped = threading.Event()

    def start(self):
        for server in self.servers:
            server.start()
        for task in self.periodics:
            task.start()
        systemd.notify(READY=1, STATUS='%s is running' % self.name)
        LOG.info('%s started', self.name)

    def stop(self):
        if self._stopped.is_set():
            return
        systemd.notify(STOPPING=1, STATUS='%s is stopping' % self.name)
        LOG.info('%s stopping', self.name)
        for server in self.servers:
            server.stop()
        for task in self.periodics:
            task.stop()
        for server in self.servers:
            server.wait()
        for func in self.on_stop:
            func()
        self._stopped.set()

    def run_until_signalled(self):
        """Block the main thread until SIGTERM/SIGINT, then stop cleanly."""
        stop_requested = threading.Event()

        def handler(signum, _frame):
            LOG.info('Received %s', signal.Signals(signum).name)
            stop_requested.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        while not stop_requested.wait(1.0):
            pass
        self.stop()


def run(build_service, argv=None):
    """A console script's whole life: config, logging, transport, serve."""
    from agent import rpc
    parse_config(sys.argv[1:] if argv is None else argv)
    setup_logging()
    # `kill -USR2 <pid>` prints every thread's stack: for a hung service
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    rpc.init()
    svc = build_service()
    svc.start()
    svc.run_until_signalled()
    rpc.cleanup()
    return 0
