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
import threading
import tty

from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect

#: the key that leaves the console (Ctrl-])
ESCAPE = b'\x1d'
#: close codes that are a clean end of the session
NORMAL = (1000, 1001)


class Session:
    """One attached console: ``run()`` copies ``in_fd`` to the guest and
    the guest to ``out_fd`` until ESCAPE is typed or the proxy closes."""

    def __init__(self, ws, in_fd: int, out_fd: int):
        self.ws, self.in_fd, self.out_fd = ws, in_fd, out_fd
        self.closed: tuple[int, str] | None = None
        self._wake_r, self._wake_w = os.pipe()

    def run(self) -> int:
        reader = threading.Thread(target=self._from_guest, daemon=True)
        reader.start()
        try:
            self._to_guest()
        finally:
            with contextlib.suppress(Exception):
                self.ws.close()
            reader.join(5)
            os.close(self._wake_r)
            os.close(self._wake_w)
        if self.closed is None or self.closed[0] in NORMAL:
            return 0
        return 1

    def _to_guest(self) -> None:
        while True:
            ready, _, _ = select.select([self.in_fd, self._wake_r], [], [])
            if self._wake_r in ready:       # the proxy closed
                return
            data = os.read(self.in_fd, 1024)
            if not data:                    # end of input (not a tty)
                return
            head, escaped, _ = data.partition(ESCAPE)
            if head:
                try:
                    self.ws.send(head)
                except ConnectionClosed:
                    return
            if escaped:
                return

    def _from_guest(self) -> None:
        try:
            for message in self.ws:
                os.write(self.out_fd, message if isinstance(message, bytes)
                         else message.encode())
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if rcvd is not None:
                self.closed = (rcvd.code, rcvd.reason)
            os.write(self._wake_w, b'x')


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
    kw = {}
    if url.startswith('wss:'):
        kw['ssl'] = ssl.create_default_context(cafile=cacert)
    try:
        ws = connect(url, open_timeout=10, max_size=2 ** 20,
                     compression=None, **kw)
    except (OSError, InvalidHandshake, TimeoutError) as e:
        print('hvctl: cannot open the console of %s: %s' % (name, e),
              file=err)
        return 1
    session = Session(ws, sys.stdin.fileno(), sys.stdout.fileno())
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
