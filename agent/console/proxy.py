"""hvagent-console-proxy's server: WebSockets in, the guests' console
servers (a serial port's raw TCP server, or VNC's RFB) out.

A session: the browser's Origin is checked in the handshake (pages.py);
the WebSocket's ``?token=`` is sent to the conductor, which uses it up and
answers where the console is (agent.conductor.consoles); the proxy opens
a TCP connection there and copies bytes both ways, binary frames on the
WebSocket side, until either end closes. One session per console at a
time: QEMU's serial server serves one client, and two people typing into
one shell is never what either wants. Refusals close the WebSocket with
a code and a readable reason the pages show (CLOSE_*).

Plain GETs get the pages, their files and /info (pages.py).
"""
import asyncio
import dataclasses
import logging
import re
import socket
import ssl
from collections.abc import Callable

import oslo_messaging as messaging
from websockets.asyncio.server import Server
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.http11 import Response

from agent import exception
from agent.console import pages

LOG = logging.getLogger(__name__)

CLOSE_TOKEN = 4001          # invalid, expired or used token
CLOSE_ORIGIN = 4003         # (the handshake is refused with 403 instead)
CLOSE_BUSY = 4009           # another session holds this console
CLOSE_FULL = 4029           # this proxy holds max_sessions already
CLOSE_UNREACHABLE = 4011    # the guest's console server did not answer
CLOSE_UNAVAILABLE = 1011    # the conductor did not answer
#: seconds to reach a guest's console server
CONNECT_TIMEOUT = 5.0
#: the largest WebSocket message a client may send (keystrokes, RFB
#: client messages are small)
MAX_MESSAGE = 64 * 1024
READ_SIZE = 64 * 1024

#: what a console token looks like (secrets.token_urlsafe); anything
#: else is refused without asking the conductor
TOKEN_FORM = re.compile(r'[A-Za-z0-9_-]{16,128}\Z')
#: (token, consume) -> the conductor's console_token_check answer
Checker = Callable[[str, bool], dict]


@dataclasses.dataclass
class Settings:
    host: str = '127.0.0.1'
    port: int = 6083
    allowed_origins: tuple[str, ...] = ()
    max_sessions: int = 1000
    static_dir: str = pages.STATIC_DIR
    ssl_context: ssl.SSLContext | None = None


class ConsoleProxy:
    """The proxy; ``start()`` in a running event loop, ``stop()`` to end
    every session (1001, going away)."""

    def __init__(self, settings: Settings, checker: Checker):
        self.settings = settings
        self.checker = checker
        self.sessions: dict[tuple[str, int], ServerConnection] = {}
        self.server: Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        s = self.settings
        self.server = await serve(
            self._session, s.host, s.port, ssl=s.ssl_context,
            process_request=self._http, max_size=MAX_MESSAGE,
            select_subprotocol=_binary, server_header=None,
            compression=None)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()

    # ---------------------------------------------------------- plain HTTP
    async def _http(self, conn: ServerConnection,
                    request: Request) -> Response | None:
        if pages.is_websocket(request):
            if pages.origin_allowed(request, self.settings.ssl_context
                                    is not None,
                                    self.settings.allowed_origins):
                return None     # on with the handshake
            LOG.warning('Console WebSocket from %s refused: origin %r is '
                        'not allowed', _peer(conn),
                        request.headers.get('Origin'))
            return pages.error(403, 'origin not allowed')
        path = request.path
        if path.split('?', 1)[0] == '/info':
            token = pages.token_of(path)
            if not token:
                return pages.error(404, 'no token given')
            try:
                found = await self._check(token, consume=False)
            except exception.ConsoleTokenInvalid as e:
                return pages.error(404, exception.text(e))
            except _Unavailable as e:
                return pages.error(503, str(e))
            return pages.info(found)
        return pages.static_file(path, self.settings.static_dir)

    # ------------------------------------------------------------ sessions
    async def _session(self, ws: ServerConnection) -> None:
        token = pages.token_of(ws.request.path) if ws.request else None
        if not token:
            await ws.close(CLOSE_TOKEN, 'no console token given')
            return
        if len(self.sessions) >= self.settings.max_sessions:
            await ws.close(CLOSE_FULL, 'this console proxy is full; try '
                           'again later')
            return
        try:
            found = await self._check(token, consume=True)
        except exception.ConsoleTokenInvalid as e:
            await ws.close(CLOSE_TOKEN, exception.text(e) + '; ask for a '
                           'new console URL')
            return
        except _Unavailable as e:
            await ws.close(CLOSE_UNAVAILABLE, str(e))
            return
        key = (found['address'], found['port'])
        if key in self.sessions:
            await ws.close(CLOSE_BUSY, 'another session holds this console; '
                           'close it first')
            return
        self.sessions[key] = ws
        try:
            await self._relay(ws, found)
        finally:
            del self.sessions[key]

    async def _relay(self, ws: ServerConnection, found: dict) -> None:
        what = '%s console of %s' % (found['protocol'],
                                     found['instance_uuid'])
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                found['address'], found['port']), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            LOG.warning('The %s at %s:%s is unreachable: %s', what,
                        found['address'], found['port'], e or 'timed out')
            await ws.close(CLOSE_UNREACHABLE, 'the guest\'s console does '
                           'not answer')
            return
        sock = writer.get_extra_info('socket')
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        LOG.info('Session to the %s opened from %s', what, _peer(ws))
        ws_to_tcp = asyncio.ensure_future(_copy_in(ws, writer))
        tcp_to_ws = asyncio.ensure_future(_copy_out(reader, ws))
        try:
            done, _ = await asyncio.wait({ws_to_tcp, tcp_to_ws},
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ws_to_tcp, tcp_to_ws):
                task.cancel()
            await asyncio.gather(ws_to_tcp, tcp_to_ws,
                                 return_exceptions=True)
            writer.close()
        if tcp_to_ws in done and not tcp_to_ws.cancelled():
            await ws.close(1000, 'the guest closed its console')
        LOG.info('Session to the %s closed', what)

    async def _check(self, token: str, consume: bool) -> dict:
        if not TOKEN_FORM.match(token):     # not one we could have made
            raise exception.ConsoleTokenInvalid()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.checker, token,
                                              consume)
        except messaging.MessagingTimeout:
            raise _Unavailable('the console service did not answer; try '
                               'again') from None
        except exception.ConsoleTokenInvalid:
            raise
        # (the conductor's own errors arrive as their classes:
        # agent.exception is in allowed_remote_exmods)
        except (exception.HVAgentError, messaging.RemoteError) as e:
            LOG.error('Console token check failed: %s', e)
            raise _Unavailable('the console service failed') from None


class _Unavailable(Exception):
    """The conductor could not check a token (not the token's fault)."""


async def _copy_in(ws: ServerConnection, writer: asyncio.StreamWriter
                   ) -> None:
    """WebSocket messages to the guest (text frames as UTF-8)."""
    try:
        async for message in ws:
            writer.write(message.encode() if isinstance(message, str)
                         else message)
            await writer.drain()
    except ConnectionClosed:
        pass


async def _copy_out(reader: asyncio.StreamReader,
                    ws: ServerConnection) -> None:
    """The guest's bytes to the WebSocket, as binary frames."""
    try:
        while data := await reader.read(READ_SIZE):
            await ws.send(data)
    except (ConnectionClosed, OSError):
        pass


def _binary(conn: ServerConnection, offered: list[str]) -> str | None:
    """Select 'binary' when offered (noVNC's old clients ask for it)."""
    return 'binary' if 'binary' in offered else None


def _peer(conn: ServerConnection) -> str:
    addr = conn.remote_address
    return '%s:%s' % addr[:2] if addr else '?'
