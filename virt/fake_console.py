"""The fake driver's interactive serial console: a TCP server per guest on
loopback that behaves like a guest's shell on a serial line, so the console
proxy, its tokens and its clients are exercised without a hypervisor.

Like QEMU's serial server it serves one client at a time (a second waits
until the first leaves). It echoes what it is sent, as a terminal does,
and answers a line ``echo WORDS`` with ``WORDS``; every line ends with a
prompt naming the guest (``NAME# ``), so a client sees whose console it
reached.
"""
import contextlib
import socket
import threading


class SerialServer:
    """One guest's serial console; ``port`` once started."""

    def __init__(self, name: str):
        self.name = name
        self.prompt = name.encode('utf-8', 'replace') + b'# '
        self._sock = socket.create_server(('127.0.0.1', 0), backlog=8)
        self.port: int = self._sock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name='fake-console-%s' % name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                with contextlib.suppress(OSError):
                    self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        line = b''
        while not self._closed:
            data = conn.recv(4096)
            if not data:
                return
            out = b''
            for byte in data:
                char = bytes([byte])
                if char in b'\r\n':
                    out += b'\r\n' + answer(line) + self.prompt
                    line = b''
                else:
                    out += char
                    line += char
            conn.sendall(out)


def answer(line: bytes) -> bytes:
    """What the fake shell prints for one command line."""
    words = line.strip()
    if words.startswith(b'echo '):
        return words[5:].strip() + b'\r\n'
    return b''
