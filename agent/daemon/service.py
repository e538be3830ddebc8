"""The daemon run loop every service shares: config, logging, RPC servers,
periodic tasks, signals and the systemd protocol.

Life of a service under systemd (Type=notify, WatchdogSec=):
  * STATUS= says what it is doing at each phase of the start (config,
    transport, the service's own set-up such as connecting the hypervisor,
    RPC servers);
  * READY=1 only once every RPC server consumes its queues: oslo.messaging's
    server.start() declares the queues (what is sent from then on is kept)
    but the basic.consume is issued later by the listener's poll thread, so
    start() waits for a probe call to come back through the broker and its
    own server (see wait_consuming);
  * WATCHDOG=1 every half of $WATCHDOG_USEC, sent by the main loop only: if
    that loop hangs the pings stop and systemd restarts the service;
  * SIGHUP (``systemctl reload``) re-reads the config files and re-applies
    the log levels (``debug``, ``default_log_levels``) without a restart;
  * SIGTERM/SIGINT: STOPPING=1, the servers stop taking messages (what the
    broker has not delivered stays queued: RPC messages are acknowledged on
    delivery), the in-flight handlers get ``graceful_shutdown_timeout``
    seconds to finish, then the service exits 0. Running guests are never
    touched (driver.cleanup_host only closes the hypervisor connection).
    Past the timeout it logs the operations still running and exits with
    EXIT_UNFINISHED (75, EX_TEMPFAIL: the next start's recovery takes those
    instances over).
"""
import faulthandler
import logging
import os
import signal
import sys
import threading
import time

from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
from agent import exception
from agent.daemon import logs
from agent.daemon import systemd
from agent.rpc import server_state
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

EXIT_UNFINISHED = 75           # EX_TEMPFAIL, see the module docstring
EXIT_UNAVAILABLE = 69         # EX_UNAVAILABLE: what it needs never came
                               # (start_wait_timeout); systemd restarts it
EXIT_REFUSED = 78              # EX_CONFIG: refused to start, restarting
                               # will not help (RestartPreventExitStatus)


def parse_config(argv, defaults=None):
    """Parse the command line and /etc/hvagent/hvagent.conf (+ --config-dir).

    ``defaults`` maps option names ('group.name' or 'name') to values that
    replace the built-in default (the all-in-one's embedded defaults).
    """
    for key, value in (defaults or {}).items():
        group, _, name = key.rpartition('.')
        CONF.set_default(name, value, group=group or None)
    CONF(argv, project='hvagent')


def setup_logging():
    """stderr, journald-friendly under systemd; see agent.daemon.logs."""
    logs.setup(CONF)


def status(text, **fields):
    """One human line for ``systemctl status`` (and the debug log)."""
    LOG.debug('status: %s', text)
    systemd.notify(STATUS=text, **fields)


class Periodic:
    """Runs ``func`` every ``interval`` seconds on its own daemon thread;
    ``kick()`` runs it ``settle`` seconds later (kicks meanwhile, and
    during a run, coalesce into one run). ``cancel`` is called at stop(),
    to cut short a run that waits (e.g. retries)."""

    def __init__(self, name, interval, func, run_now=True, settle=0.0,
                 cancel=None):
        self.name, self.interval, self.func = name, interval, func
        self.run_now, self.settle, self.cancel = run_now, settle, cancel
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
            self._sleep()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.func()
            except Exception:
                LOG.exception('Periodic task %s failed', self.name)
            self._sleep()

    def _sleep(self):
        """Until the interval is over or a kick, plus ``settle`` after a
        kick; a stop ends either wait."""
        if self._wake.wait(self.interval) and self.settle:
            self._stop.wait(self.settle)

    def stop(self, wait=True):
        self._stop.set()
        self._wake.set()
        if self.cancel is not None:
            self.cancel()
        if wait:
            self.join()

    def join(self, timeout=10):
        if self._thread.is_alive() and \
                self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)


class StopBeforeStart(Exception):
    """SIGTERM/SIGINT came while the service waited to start."""


def wait_for(name, what, ready, errors, timeout=None):
    """Return once ``ready()`` returns true, calling it again (after 0.5 s,
    doubling to 5 s) while it is false or raises one of ``errors``. The
    unit's STATUS says what ``name`` waits for and why; the log says it
    once, then every 30 s. Raises exception.NotAvailable after ``timeout``
    (default ``[DEFAULT] start_wait_timeout``) seconds, StopBeforeStart
    when asked to stop meanwhile."""
    timeout = CONF.start_wait_timeout if timeout is None else timeout
    start = time.monotonic()
    delay, logged = 0.5, None
    while True:
        try:
            if ready():
                if logged is not None:
                    LOG.info('%s: %s is there after %.1f s', name, what,
                             time.monotonic() - start)
                return
            reason = 'not ready yet'
        except errors as e:
            reason = exception.text(e).splitlines()[0] if str(e) else \
                type(e).__name__
        now = time.monotonic()
        if now - start >= timeout:
            raise exception.NotAvailable(what=what, seconds=timeout,
                                         reason=reason)
        if logged is None or now - logged >= 30:
            LOG.info('%s: waiting for %s (%s)', name, what, reason)
            logged = now
        status('%s: waiting for %s (%s)' % (name, what, reason))
        if _SIGNALS.stop.wait(min(delay, timeout - (now - start))):
            raise StopBeforeStart()
        delay = min(delay * 2, 5)


def wait_for_bus_key(name):
    """Wait until this process has its bus key. On a controller node
    hvagent-conductor creates the bus secret at its first start: a service
    started before it (systemd starting the units at once, an operator
    starting one alone) waits for the file instead of refusing to start. A
    compute node's [bus] host_key_file is the operator's to place: missing,
    it is refused at once."""
    wait_for(name, 'the bus secret %s (hvagent-conductor creates it at '
             'its first start)' % CONF.bus.secret_file,
             lambda: bus_auth.keyring() is not None, exception.BusKeyMissing)


class _Signals:
    """What the handlers were asked: they only set flags; the main loop
    acts (logging or stopping inside a signal handler can deadlock)."""

    def __init__(self):
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.wake = threading.Event()
        self.received = set()
        self.installed = False

    def handle(self, signum, _frame):
        self.received.add(signal.Signals(signum).name)
        (self.reload if signum == signal.SIGHUP else self.stop).set()
        self.wake.set()


_SIGNALS = _Signals()


def install_signal_handlers():
    """SIGTERM/SIGINT ask for a stop, SIGHUP for a reload. Installed
    before the service is built, so a SIGTERM during a long start (the
    hypervisor, recovery) still ends in a clean stop once it is up."""
    if not _SIGNALS.installed:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, _SIGNALS.handle)
        _SIGNALS.installed = True
    return _SIGNALS


def _stop_server(server):
    server.stop()
    server_state.close_listener(server)


def _all_at_once(func, items, name):
    """``func(item)`` for each item, on a thread each; wait for all.
    (Stopping an oslo.messaging server waits for its listener's idle poll,
    waiting for one for its executor's idle workers: up to a second or so
    each, so not one after the other.)"""
    threads = [threading.Thread(target=func, args=(item,), name=name)
               for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Service:
    """RPC servers + periodic tasks with a shared life cycle."""

    def __init__(self, name, servers=(), periodics=(), on_stop=()):
        self.name = name
        self.servers = list(servers)
        self.periodics = list(periodics)
        self.on_stop = list(on_stop)
        self.in_flight = server_state.InFlight()
        for server in self.servers:
            self.in_flight.watch(server)
        self._stopped = threading.Event()
        self.watchdog = None

    # ---------------------------------------------------------------- start
    def start(self):
        status('%s: starting RPC servers' % self.name)
        for server in self.servers:
            server.start()
        for server in self.servers:
            status('%s: waiting to consume %s.%s' % (
                self.name, server.target.topic, server.target.server))
            if not server_state.wait_consuming(server, CONF.rpc_call_timeout):
                LOG.warning('%s: no probe answer from %s.%s within %ss; '
                            'going on (its queue is declared)', self.name,
                            server.target.topic, server.target.server,
                            CONF.rpc_call_timeout)
        for task in self.periodics:
            task.start()
        systemd.notify(READY=1, STATUS='%s is running' % self.name)
        LOG.info('%s started', self.name)

    # ----------------------------------------------------------------- stop
    def stop(self, timeout=None):
        """Stop taking messages, let the in-flight ones finish. True when
        they all did within ``timeout`` (graceful_shutdown_timeout)."""
        if self._stopped.is_set():
            return True
        timeout = CONF.graceful_shutdown_timeout if timeout is None \
            else timeout
        systemd.notify(STOPPING=1, STATUS='%s is stopping: %d operation(s) '
                       'in flight' % (self.name, len(self.in_flight)))
        LOG.info('%s stopping: no new messages; waiting up to %ss for %d '
                 'in-flight operation(s)', self.name, timeout,
                 len(self.in_flight))
        # the periodic tasks first: a heartbeat's probe of its own queue
        # in flight when the servers stop would fail and warn that the bus
        # is lost; what runs gets a few seconds to finish
        for task in self.periodics:
            task.stop(wait=False)
        for task in self.periodics:
            task.join(timeout=5)
        # each server.stop() waits for its poll thread's current wait on
        # the broker (up to bus_idle_poll when idle)
        _all_at_once(_stop_server, self.servers, 'stop-server')
        drained = self._drain(timeout)
        if drained:
            for func in self.on_stop:
                func()
            LOG.info('%s stopped', self.name)
        else:
            LOG.error('%s: graceful_shutdown_timeout (%ss) passed with %d '
                      'operation(s) still running, exiting without them '
                      '(status %d): %s', self.name, timeout,
                      len(self.in_flight), EXIT_UNFINISHED,
                      '; '.join(self.in_flight.describe()))
        self._stopped.set()
        return drained

    def _drain(self, timeout):
        """Wait for the servers' handlers and the periodic tasks on a
        helper thread; this one keeps the watchdog fed and the status
        current meanwhile."""
        def wait_all():
            _all_at_once(lambda server: server.wait(), self.servers,
                         'wait-server')
            for task in self.periodics:
                task.join()
        waiter = threading.Thread(target=wait_all, name='drain', daemon=True)
        waiter.start()
        deadline = time.monotonic() + timeout
        last = None
        while waiter.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._feed_watchdog()
            ops = self.in_flight.describe()
            if ops and len(ops) != last:
                last = len(ops)
                status('%s is stopping: waiting for %d operation(s)'
                       % (self.name, last))
                LOG.info('Waiting for: %s', '; '.join(ops))
            waiter.join(min(left, self._tick()))
        return True

    # ------------------------------------------------------------ main loop
    def run_until_signalled(self):
        """The main loop: feed the watchdog, reload on SIGHUP, and on
        SIGTERM/SIGINT stop cleanly. Returns what stop() returned."""
        signals = install_signal_handlers()
        self.watchdog = systemd.Watchdog.from_environment()
        if self.watchdog:
            LOG.info('systemd watchdog on: a ping every %.3g s',
                     self.watchdog.interval)
        while not signals.stop.is_set():
            self._feed_watchdog()
            if signals.reload.is_set():
                signals.reload.clear()
                LOG.info('Received SIGHUP')
                self.reload()
            signals.wake.wait(self._tick())
            signals.wake.clear()
        LOG.info('Received %s', ', '.join(sorted(signals.received)))
        return self.stop()

    def _tick(self):
        return min(1.0, self.watchdog.seconds_until_due()) \
            if self.watchdog else 1.0

    def _feed_watchdog(self):
        if self.watchdog:
            self.watchdog.ping_if_due()

    def reload(self):
        """Re-read the config files; apply the (mutable) log levels."""
        systemd.notify(RELOADING=1, STATUS='%s: reloading the configuration'
                       % self.name)
        before = logs.current_levels()
        try:
            changed = CONF.mutate_config_files()
            logs.apply_levels(CONF)
        except Exception as e:
            LOG.error('Reload failed, keeping the previous settings: %s', e)
            changed = None
        if changed is not None:
            options = ', '.join(sorted(
                '%s.%s' % (group or 'DEFAULT', name)
                for group, name in changed)) or 'no option'
            LOG.info('Reloaded the configuration: %s changed; log levels: '
                     '%s', options, logs.describe_change(
                         before, logs.current_levels()) or 'unchanged')
            LOG.debug('Config files: %s', ', '.join(CONF.config_file))
        systemd.notify(READY=1, STATUS='%s is running' % self.name)


def run(build_service, argv=None):
    """A console script's whole life: config, logging, transport, serve.

    Returns the exit status: 0 after a clean stop; EXIT_UNFINISHED when
    the graceful shutdown timed out (then the process ends at once, with
    os._exit, since the handlers still running would keep it alive).
    """
    parse_config(sys.argv[1:] if argv is None else argv)
    setup_logging()
    name = os.path.basename(sys.argv[0]) if argv is None else 'hvagent'
    # `kill -USR2 <pid>` prints every thread's stack: for a hung service
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    install_signal_handlers()
    status('%s: connecting to the message bus' % name)
    try:
        rpc_transport.init()      # refuses a broker that refuses TLS (bus_tls)
        status('%s: setting up (hypervisor, database, recovery)' % name)
        svc = build_service()
    except StopBeforeStart:
        LOG.info('%s: stopped before it started (%s)', name,
                 ', '.join(sorted(_SIGNALS.received)))
        return 0
    except exception.NotAvailable as e:
        # not a configuration error: systemd restarts the service
        LOG.error('%s cannot start: %s', name, exception.text(e))
        status('%s: cannot start: %s' % (name, exception.text(e)))
        return EXIT_UNAVAILABLE
    except exception.HVAgentError as e:
        # a refusal with its reason (e.g. this node belongs to another
        # host): one clear line, no traceback; systemd sees the exit
        LOG.error('%s cannot start: %s', name, exception.text(e))
        status('%s: cannot start: %s' % (name, exception.text(e)))
        return EXIT_REFUSED
    svc.start()
    if not svc.run_until_signalled():
        logging.shutdown()
        os._exit(EXIT_UNFINISHED)
    rpc_transport.cleanup()
    return 0
