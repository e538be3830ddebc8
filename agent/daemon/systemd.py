"""A small sd_notify(3) and sd_watchdog_enabled(3), and journald detection.

Everything is a no-op when the process was not started by systemd (no
NOTIFY_SOCKET), so the same binary runs by hand, in tests and under a unit.
The protocol: newline-separated ``KEY=value`` assignments in one datagram
sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract
name written with a leading '@').
"""
import logging
import os
import socket
import time

LOG = logging.getLogger(__name__)


def notify_address(env=None):
    """The socket address from $NOTIFY_SOCKET (abstract '@name' becomes
    '\\0name'), None when unset. Anything else is a ValueError: systemd
    only ever passes an absolute path or an abstract name."""
    value = (os.environ if env is None else env).get('NOTIFY_SOCKET')
    if not value:
        return None
    if value.startswith('@') and len(value) > 1:
        return '\0' + value[1:]
    if value.startswith('/'):
        return value
    raise ValueError('NOTIFY_SOCKET=%r is neither an absolute path nor an '
                     'abstract socket name (@name)' % value)


def format_message(fields):
    """b'READY=1\\nSTATUS=...' from keyword fields; a value must be one
    line (the protocol is line based)."""
    lines = []
    for key, value in fields.items():
        value = str(value)
        if '\n' in value:
            raise ValueError('sd_notify field %s has a newline: %r'
                             % (key, value))
        lines.append('%s=%s' % (key, value))
    return '\n'.join(lines).encode()


def notify(env=None, **fields):
    """notify(READY=1, STATUS='...') -> True if the datagram was sent.

    A bad or vanished socket is logged, never raised: a daemon must not die
    because its supervisor's socket went away."""
    try:
        address = notify_address(env)
    except ValueError as e:
        LOG.warning('Not notifying systemd: %s', e)
        return False
    if address is None:
        return False
    message = format_message(fields)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, address)
    except OSError as e:
        LOG.warning('sd_notify to %r failed: %s', address.lstrip('\0'), e)
        return False
    return True


def watchdog_interval(env=None, pid=None):
    """Seconds between WATCHDOG=1 pings: half of $WATCHDOG_USEC, as
    sd_watchdog_enabled(3) recommends. None when the watchdog is off, or
    when $WATCHDOG_PID names another process (the variables were inherited
    from a parent, they are not ours)."""
    env = os.environ if env is None else env
    usec = env.get('WATCHDOG_USEC')
    if not usec:
        return None
    try:
        usec = int(usec)
    except ValueError:
        LOG.warning('Ignoring WATCHDOG_USEC=%r: not an integer', usec)
        return None
    if usec <= 0:
        return None
    owner = env.get('WATCHDOG_PID')
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            LOG.warning('Ignoring the watchdog: WATCHDOG_PID=%r', owner)
            return None
    return usec / 2e6


class Watchdog:
    """Sends WATCHDOG=1 when ``ping_if_due()`` is called at least every
    ``interval`` seconds. Call it only from the loop whose liveness it
    vouches for (the main loop): a loop that hangs stops the pings and
    systemd restarts the service."""

    def __init__(self, interval, clock=time.monotonic, send=None):
        self.interval = interval
        self._clock = clock
        self._send = send or (lambda: notify(WATCHDOG=1))
        self._next = clock()    # first ping at once
        self.pings = 0

    @classmethod
    def from_environment(cls, env=None):
        interval = watchdog_interval(env)
        return None if interval is None else cls(interval)

    def ping_if_due(self):
        now = self._clock()
        if now >= self._next:
            self._send()
            self.pings += 1
            self._next = now + self.interval

    def seconds_until_due(self):
        return max(0.0, self._next - self._clock())


def stderr_is_journal(env=None, fd=2):
    """True when stderr is the journal stream systemd connected: $JOURNAL_STREAM
    ('<dev>:<inode>') names the same file as ``fd``. A service whose stderr
    was redirected elsewhere (2>file) keeps the variable but not the stream,
    so the variable alone is not proof (systemd.exec(5))."""
    value = (os.environ if env is None else env).get('JOURNAL_STREAM', '')
    dev, _, ino = value.partition(':')
    try:
        st = os.fstat(fd)
        return (int(dev), int(ino)) == (st.st_dev, st.st_ino)
    except (ValueError, OSError):
        return False
