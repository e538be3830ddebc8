"""``hvctl console REF --attach``: the guest's serial console in this
terminal, through hvagent-console-proxy (the URL's one-use token comes
from the back end: the API's os-getSerialConsole, or the conductor).

The terminal is put in raw mode (every key goes to the guest, Ctrl-C
too) and restored on the way out, whatever happens; Ctrl-] (ESCAPE)
leaves, as in telnet and ``virsh console``. The proxy's refusals (a used
or expired token, a console in use) are printed with their reason.
"""
import contextlib
import os
import select
import ssl
import sys
import termios
import tty

from websockets.exceptions import InvalidHandshake

from agent.console.client import ConsoleClient

#: the key that leaves the console (Ctrl-])
ESCAPE = b'\x1d'
#: close codes that are a clean end of the session
NORMAL = (1000, 1001)


class Session:
    """One attached console: ``run()`` copies ``in_fd`` to the guest and
    the guest to ``out_fd`` until ESCAPE is typed or the proxy closes;
    one thread (see agent.console.client)."""

    def __init__(self, client: ConsoleClient, in_fd: int, out_fd: int):
        self.client, self.in_fd, self.out_fd = client, in_fd, out_fd

    @property
    def closed(self) -> tuple[int, str] | None:
        """How the proxy ended the session (None: we left)."""
        return self.client.closed

    def run(self) -> int:
        try:
            self._copy()
        finally:
            self.client.close()
        code = self.closed[0] if self.closed else 1000
        return 0 if code in NORMAL else 1

    def _copy(self) -> None:
        inputs = [self.in_fd, self.client]
        while self.client.closed is None:
            if self.client.pending():
                ready = [self.client]
            else:
                ready, _, _ = select.select(inputs, [], [])
            if self.client in ready:
                for data in self.client.read():
                    os.write(self.out_fd, data)
                continue
            if self.in_fd in ready and not self._typed():
                return

    def _typed(self) -> bool:
        """Send what was typed; False to leave (ESCAPE or end of input)."""
        data = os.read(self.in_fd, 1024)
        if not data:                        # end of input (not a tty)
            return False
        head, escaped, _ = data.partition(ESCAPE)
        if head:
            try:
                self.client.send(head)
            except OSError:
                return False
        return not escaped


@contextlib.contextmanager
def raw_terminal(fd: int):
    """``fd`` in raw mode for the block, if it is a terminal."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)     # keep what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def attach(url: str, name: str, cacert: str | None = None,
           err=sys.stderr) -> int:
    """Attach this terminal (stdin/stdout) to the console at ``url``;
    the exit code (0: left with ESCAPE or the guest closed; 1: refused or
    cut)."""
    context = None
    if url.startswith('wss:'):
        context = ssl.create_default_context(cafile=cacert)
    try:
        client = ConsoleClient(url, ssl_context=context, timeout=10)
    except (OSError, InvalidHandshake) as e:
        print('hvctl: cannot open the console of %s: %s' % (name, e),
              file=err)
        return 1
    session = Session(client, sys.stdin.fileno(), sys.stdout.fileno())
    # raw first, then the banner: what is typed once it shows goes to the
    # guest as typed (no line editing, nothing discarded)
    with raw_terminal(sys.stdin.fileno()):
        print('Connected to the console of %s. Escape character is ^]\r'
              % name, file=err, flush=True)
        code = session.run()
    if session.closed and session.closed[0] not in NORMAL:
        print('\r\nhvctl: the console proxy closed the session: %s (%d)'
              % (session.closed[1] or 'no reason given', session.closed[0]),
              file=err)
    else:
        print('\r\nDisconnected from the console of %s.' % name, file=err)
    return code
