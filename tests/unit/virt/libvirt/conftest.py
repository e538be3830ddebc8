"""An HTTP server for image downloads, on 127.0.0.1."""
import http.server
import json
import threading
import time

import pytest


class ImageServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes); counts GETs per path and keeps the
    headers of the last one; ``canned`` (path -> (status, headers, body))
    answers other than 200 (redirects, refusals)."""
    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files, self.gets, self.headers, self.canned = {}, {}, {}, {}
        self.delay = 0          # seconds before the body
        self.stall = 0          # seconds between the two halves of the body
        self.short = 0          # bytes announced but never sent

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.server_address[1], path)

    def refuse(self, path, status, message):
        """``path`` answers ``status`` with hvagent-api's JSON error."""
        body = json.dumps({'error': {'message': message}}).encode()
        self.canned[path] = (status, {'Content-Type': 'application/json'},
                             body)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.gets[self.path] = srv.gets.get(self.path, 0) + 1
        srv.headers[self.path] = dict(self.headers)
        if self.path == '/error':
            return self.send_error(500)
        if self.path in srv.canned:
            status, headers, body = srv.canned[self.path]
            self.send_response(status)
            for item in dict(headers, **{'Content-Length': len(body)}
                             ).items():
                self.send_header(*map(str, item))
            self.end_headers()
            return self.wfile.write(body)
        if self.path not in srv.files:
            return self.send_error(404)
        body = srv.files[self.path]
        time.sleep(srv.delay)
        self.send_response(200)
        self.send_header('Content-Length', str(len(body) + srv.short))
        self.end_headers()
        half = len(body) // 2
        self.wfile.write(body[:half])
        self.wfile.flush()
        time.sleep(srv.stall)
        self.wfile.write(body[half:])

    def log_message(self, *args):
        pass


def _serve(monkeypatch):
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY',
                'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    srv = ImageServer()
    thread = threading.Thread(target=srv.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def image_server(monkeypatch):
    yield from _serve(monkeypatch)


@pytest.fixture
def other_server(monkeypatch):
    """A second server: another origin."""
    yield from _serve(monkeypatch)
