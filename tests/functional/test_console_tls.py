"""hvagent-console-proxy over TLS: with [console] proxy_cert_file it
serves its pages over https and sessions over wss only (a plain ws client
is not answered), verified against the test CA; the session relays as
over plain ws. The proxy runs in this process (its token check a stand-in
naming a local echo server); the whole path with the conductor is
test_console_proxy.py's."""
import asyncio
import socket
import ssl
import threading

import pytest
import requests
from websockets.exceptions import InvalidMessage
from websockets.sync.client import connect

from agent.console import proxy
from agent.console.client import ConsoleClient
from agent.security import tls

pytestmark = pytest.mark.functional
TOKEN = 'tls-test-token-0123456789'


@pytest.fixture
def echo_port():
    server = socket.create_server(('127.0.0.1', 0))

    def serve():
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def tls_proxy(tls_pki, echo_port):
    reloadable = tls.reloadable_from_options(
        'console', 'proxy_cert_file', 'proxy_key_file',
        tls_pki.server.cert, tls_pki.server.key)

    def check(token, consume):
        return {'instance_uuid': 'u', 'instance_name': 'vm',
                'project_id': 'p', 'protocol': 'serial',
                'address': '127.0.0.1', 'port': echo_port,
                'expires_at': '2099-01-01T00:00:00Z'}
    loop = asyncio.new_event_loop()
    server = proxy.ConsoleProxy(proxy.Settings(
        port=0, ssl_context=reloadable.context), check)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield server.port
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_pages_and_sessions_only_over_tls(tls_pki, tls_proxy):
    base = 'https://localhost:%d' % tls_proxy
    r = requests.get(base + '/serial.html', verify=tls_pki.ca.path,
                     timeout=10)
    assert r.status_code == 200
    ctx = ssl.create_default_context(cafile=tls_pki.ca.path)
    # (agent.console.client, hvctl's: websockets' threaded sync client
    # shares an SSLSocket between two threads, which can hang over TLS)
    with ConsoleClient('wss://localhost:%d/?token=%s' % (tls_proxy, TOKEN),
                       ssl_context=ctx, origin=base) as ws:
        for n in range(20):
            ws.send(b'over tls %d' % n)
            assert ws.recv(timeout=10) == b'over tls %d' % n
    with pytest.raises((InvalidMessage, OSError, EOFError)):
        connect('ws://localhost:%d/?token=%s' % (tls_proxy, TOKEN),
                open_timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + '/serial.html', timeout=10)   # not its CA
