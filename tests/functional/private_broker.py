"""A private RabbitMQ node for tests that stop and start the broker.

The machine's shared broker (127.0.0.1:5672) serves every other test, so a
test that injects a broker outage starts its own node from the same
rabbitmq-server binaries: its own node name, AMQP and distribution ports,
mnesia, log and cookie (``HOME``) in a temporary directory, no plugins, no
/etc/rabbitmq files. The node runs in the foreground as a child of the test
(its own session), so it is always stopped and its directory removed, even
when ``rabbitmqctl stop`` fails. Skips when rabbitmq-server is not
installed.

    broker = PrivateBroker().start()     # broker.start_seconds: how long
    broker.url                           # rabbit://guest:guest@127.0.0.1:N/
    broker.stop_app(); broker.start_app()
    broker.consumers()                   # {queue: consumer count}
    broker.stop()

With ``tls=TLSListener(ca, cert, key)`` the node also opens a TLS listener
on another free loopback port (``broker.tls_port``, ``broker.tls_url``)
serving ``cert``; with ``verify_peer`` it asks clients for a certificate
signed by ``ca`` and refuses those without one. ``broker.connections()``
lists the node's client connections and whether each is TLS.
"""
import collections
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from tests.functional.prometheus import free_port

# Debian/Ubuntu put the real scripts here; /usr/sbin/rabbitmq-server is a
# wrapper that switches to the rabbitmq user and the system's node.
BIN_DIRS = ('/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin')
START_TIMEOUT = 90
TLSListener = collections.namedtuple('TLSListener',
                                     'ca cert key verify_peer',
                                     defaults=(False,))


def find_bin_dir():
    """The directory holding rabbitmq-server and rabbitmqctl, or None."""
    candidates = list(BIN_DIRS)
    found = shutil.which('rabbitmq-server')
    if found and 'wrapper' not in os.path.realpath(found):
        candidates.append(os.path.dirname(os.path.realpath(found)))
    for path in candidates:
        if all(os.access(os.path.join(path, name), os.X_OK)
               for name in ('rabbitmq-server', 'rabbitmqctl')):
            return path
    return None


class PrivateBroker:
    def __init__(self, tls=None):
        self.bin_dir = find_bin_dir()
        if self.bin_dir is None:
            pytest.skip('rabbitmq-server is not installed (looked in %s and '
                        'PATH): needed to run a private broker that the '
                        'test can stop' % ', '.join(BIN_DIRS))
        self.node = 'hvtest-%s@localhost' % uuid.uuid4().hex[:10]
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.dir = None
        self.proc = None
        self.start_seconds = None

    @property
    def url(self):
        return 'rabbit://guest:guest@127.0.0.1:%d/' % self.port

    @property
    def tls_url(self):
        return 'rabbit://guest:guest@127.0.0.1:%d/' % self.tls_port

    def _write_config(self):
        """rabbitmq.conf: the TLS listener and its ssl_options, if any."""
        lines = []
        if self.tls:
            t = self.tls
            lines += [
                'listeners.ssl.default = 127.0.0.1:%d' % self.tls_port,
                'ssl_options.cacertfile = %s' % t.ca,
                'ssl_options.certfile = %s' % t.cert,
                'ssl_options.keyfile = %s' % t.key,
                'ssl_options.verify = %s' % (
                    'verify_peer' if t.verify_peer else 'verify_none'),
                'ssl_options.fail_if_no_peer_cert = %s' % (
                    'true' if t.verify_peer else 'false')]
        with open(os.path.join(self.dir, 'rabbitmq.conf'), 'w') as f:
            f.write(''.join(line + '\n' for line in lines))

    def _env(self):
        d = self.dir
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('RABBITMQ_', 'ERL_'))}
        env.update(
            HOME=d,                       # the node's and the CLI's cookie
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=os.path.join(d, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(d, 'log'),
            RABBITMQ_PID_FILE=os.path.join(d, 'pid'),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, 'enabled_plugins'),
            RABBITMQ_CONF_ENV_FILE=os.path.join(d, 'rabbitmq-env.conf'),
            RABBITMQ_CONFIG_FILE=os.path.join(d, 'rabbitmq'),
            RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(d, 'advanced.config'),
            ERL_CRASH_DUMP=os.path.join(d, 'erl_crash.dump'),
            ERL_EPMD_ADDRESS='127.0.0.1')
        return env

    def ctl(self, *args, timeout=60, check=True):
        return subprocess.run(
            [os.path.join(self.bin_dir, 'rabbitmqctl'), '-q', '-n', self.node,
             *args], env=self._env(), capture_output=True, text=True,
            timeout=timeout, check=check).stdout

    def start(self):
        """Start the node; return self once it accepts AMQP connections."""
        self.dir = tempfile.mkdtemp(prefix='hvtest-broker-')
        self.dist_port = free_port()
        for name in ('enabled_plugins', 'rabbitmq-env.conf'):
            open(os.path.join(self.dir, name), 'w').close()
        self._write_config()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(self.bin_dir, 'rabbitmq-server')],
            env=self._env(), cwd=self.dir, start_new_session=True,
            stdout=open(os.path.join(self.dir, 'server.out'), 'w'),
            stderr=subprocess.STDOUT)
        try:
            self._await_startup(t0 + START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _await_startup(self, deadline):
        # await_startup fails at once until the node has registered
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError('rabbitmq-server exited %s:\n%s' % (
                    self.proc.returncode, self.server_output()))
            done = subprocess.run(
                [os.path.join(self.bin_dir, 'rabbitmqctl'), '-q', '-n',
                 self.node, 'await_startup', '--timeout', '60'],
                env=self._env(), capture_output=True, timeout=90)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError('rabbitmq node %s not up after %ss:\n%s'
                                   % (self.node, START_TIMEOUT,
                                      self.server_output()))
            time.sleep(0.2)

    def server_output(self):
        try:
            with open(os.path.join(self.dir, 'server.out')) as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    def stop_app(self):
        self.ctl('stop_app')

    def start_app(self):
        self.ctl('start_app')
        self.ctl('await_startup')

    def consumers(self, vhost='/'):
        """{queue name: number of consumers} on ``vhost``."""
        out = self.ctl('list_queues', '-p', vhost, 'name', 'consumers')
        queues = {}
        for line in out.splitlines():
            name, _, count = line.strip().rpartition('\t')
            if name and count.isdigit():
                queues[name] = int(count)
        return queues

    def connections(self):
        """[(peer port, ssl: bool, ssl protocol)] of the client
        connections (rabbitmqctl list_connections)."""
        out = self.ctl('list_connections', 'peer_port', 'ssl',
                       'ssl_protocol')
        found = []
        for line in out.splitlines():
            fields = line.strip().split('\t')
            if len(fields) == 3 and fields[0].isdigit():
                found.append((int(fields[0]), fields[1] == 'true',
                              fields[2]))
        return found

    def stop(self):
        """Stop the node (rabbitmqctl, else SIGKILL to its session) and
        remove its directory. Safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctl('stop', timeout=30, check=False)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


@pytest.fixture
def private_broker():
    """A running private RabbitMQ node, stopped and removed afterwards."""
    broker = PrivateBroker()
    try:
        yield broker.start()
    finally:
        broker.stop()
