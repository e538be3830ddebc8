"""Helpers of the bounded-input tests and benchmark: HTTP from a chosen
loopback source address, raw oversized bodies, idle connections, and
the peak RSS of a process while something runs. Loopback only."""
import contextlib
import http.client
import json
import re
import select
import socket
import threading
import time

import psutil

from agent.cli import api_backend

LOGIN = '/v3/auth/tokens'


def request(port, method, path, body=None, source='127.0.0.1',
            headers=None, timeout=60):
    """(status, headers, parsed JSON or None) of one request sent from
    ``source`` (any 127.0.0.0/8 address: the API sees another client)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=dict(
            {'Content-Type': 'application/json'}, **(headers or {})))
        r = conn.getresponse()
        raw = r.read()
        return r.status, dict(r.getheaders()), (json.loads(raw) if raw
                                                 else None)
    finally:
        conn.close()


def login(port, user, password, source='127.0.0.1', project=None):
    """(status, seconds, headers) of one login."""
    start = time.monotonic()
    status, headers, _ = request(port, 'POST', LOGIN, api_backend.password_auth(
        user, password, project),
        source=source)
    return status, time.monotonic() - start, headers


def answer(sock):
    """(status, raw head) of the answer on ``sock``, its body read."""
    sock.settimeout(30)
    data = b''
    try:
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b'\r\n\r\n')
        length = re.search(rb'(?im)^content-length:\s*(\d+)', head)
        while length and len(body) < int(length.group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except OSError:
        head = data
    status = head.split(b'\r\n', 1)[0].split()
    return int(status[1]) if len(status) > 1 else None, head


def oversized(port, total, chunked, path=LOGIN, method='POST'):
    """Send a ``total``-byte body (declared with Content-Length, or
    chunked) in 1 MiB pieces until the API answers or closes; returns
    (status, bytes sent before that)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=30)
    head = ['%s %s HTTP/1.1' % (method, path), 'Host: 127.0.0.1',
            'Content-Type: application/json']
    head.append('Transfer-Encoding: chunked' if chunked
                else 'Content-Length: %d' % total)
    sent, piece = 0, b' ' * (1 << 20)
    try:
        sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
        while sent < total and not select.select([sock], [], [], 0)[0]:
            data = piece[:total - sent]
            sock.sendall(b'%x\r\n%s\r\n' % (len(data), data) if chunked
                         else data)
            sent += len(data)
        if chunked and sent >= total:
            sock.sendall(b'0\r\n\r\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return answer(sock)[0], sent
    finally:
        sock.close()


@contextlib.contextmanager
def idle_connections(port, count):
    """``count`` connections to the API that send nothing."""
    socks = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(('127.0.0.1', port),
                                                  timeout=10))
        yield socks
    finally:
        for s in socks:
            s.close()


def closed_by_peer(sock):
    sock.settimeout(0.1)
    try:
        return sock.recv(1) == b''
    except socket.timeout:
        return False
    except OSError:
        return True


class PeakRSS:
    """Samples the RSS of ``pids`` every 20 ms in a thread; ``peak`` and
    ``idle`` (at start) per pid, in bytes."""

    def __init__(self, *pids):
        self.procs = {pid: psutil.Process(pid) for pid in pids}
        self.idle = {pid: p.memory_info().rss for pid, p in
                     self.procs.items()}
        self.peak = dict(self.idle)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            for pid, proc in self.procs.items():
                with contextlib.suppress(psutil.Error):
                    self.peak[pid] = max(self.peak[pid],
                                         proc.memory_info().rss)

    def growth(self, pid):
        return self.peak[pid] - self.idle[pid]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
