"""A console session's client end, on one thread: websockets' sans-I/O
protocol over a blocking socket (TLS for ``wss:``).

Why not websockets' threaded sync client: its reader thread recv()s on
the socket while the caller's thread send()s, and Python's ssl.SSLSocket
is not safe for that (two threads in one OpenSSL connection can wedge
or corrupt it; the opening handshake hung one run in twenty-odd over
wss). Here one thread does both: ``select()`` on ``fileno()`` (and on
whatever else, a terminal) and call ``read()`` when it is ready or
``pending()`` says decrypted bytes are already buffered.
"""
import select
import socket
import ssl

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

#: what one recv() asks for
CHUNK = 65536
#: the code of a connection cut without a closing handshake
ABNORMAL = 1006


class ConsoleClient:
    """An open session. ``closed`` is None while it lasts, then the
    (code, reason) the proxy closed it with (1006: cut)."""

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | None = None,
                 origin: str | None = None, timeout: float = 10.0):
        uri = parse_uri(url)
        if uri.secure and ssl_context is None:
            ssl_context = ssl.create_default_context()
        self.protocol = ClientProtocol(
            uri, origin=Origin(origin) if origin else None,
            max_size=2 ** 20)
        self.closed: tuple[int, str] | None = None
        self._early: list[bytes] = []    # data that came with the answer
        sock = socket.create_connection((uri.host, uri.port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if uri.secure:
                assert ssl_context is not None
                sock = ssl_context.wrap_socket(sock, server_hostname=uri.host)
            self.sock = sock
            self._handshake()
        except BaseException:
            sock.close()
            raise
        self.sock.settimeout(None)

    def _handshake(self) -> None:
        """Send the upgrade request and wait (the socket's timeout) for
        the answer; InvalidStatus/InvalidHandshake when refused."""
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while True:
            data = self.sock.recv(CHUNK)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            events = self.protocol.events_received()
            if events and isinstance(events[0], Response):
                if self.protocol.handshake_exc is not None:
                    raise self.protocol.handshake_exc
                self._early = self._data(events[1:])
                return
            if not data:
                raise ConnectionError('the console proxy closed the '
                                      'connection during the handshake')

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> bool:
        """Bytes already read off the socket and waiting (TLS)."""
        return bool(self._early) or (isinstance(self.sock, ssl.SSLSocket)
                                     and bool(self.sock.pending()))

    def send(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        self._flush()

    def read(self) -> list[bytes]:
        """What one recv() brought (call it when ready: it blocks); sets
        ``closed`` when the session ended."""
        if self._early:
            early, self._early = self._early, []
            return early
        try:
            data = self.sock.recv(CHUNK)
        except OSError:
            data = b''
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        out = self._data(self.protocol.events_received())
        self._flush()               # pongs, the answer to a close
        if not data and self.closed is None:
            self.closed = (ABNORMAL, 'the connection was cut')
        return out

    def _data(self, frames) -> list[bytes]:
        out = []
        for frame in frames:
            if frame.opcode in (Opcode.BINARY, Opcode.TEXT, Opcode.CONT):
                out.append(frame.data)
            elif frame.opcode == Opcode.CLOSE:
                rcvd = self.protocol.close_rcvd
                self.closed = ((rcvd.code, rcvd.reason) if rcvd else
                               (ABNORMAL, ''))
        return out

    def recv(self, timeout: float | None = None) -> bytes:
        """The next data (for tests and benchmarks); TimeoutError when
        none comes, ConnectionError when the session ends."""
        while self.closed is None:
            if not self.pending():
                ready, _, _ = select.select([self], [], [], timeout)
                if not ready:
                    raise TimeoutError('nothing from the console')
            data = b''.join(self.read())
            if data:
                return data
        raise ConnectionError('console closed: %d %s' % self.closed)

    def close(self, code: int = 1000) -> None:
        if self.closed is None:
            try:
                self.protocol.send_close(code)
                self._flush()
            except OSError:
                pass
            self.closed = (code, '')
        self.sock.close()

    def __enter__(self) -> 'ConsoleClient':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)
