"""What hvagent-console-proxy answers plain HTTP GETs with: the browser
pages and their static files, ``/info`` (who a token opens, without using
it), and the Origin check of WebSocket handshakes. Pure functions of the
request, apart from reading files under the static directory.

Every answer carries ``Referrer-Policy: no-referrer`` (a page's URL holds
its token; no other site may learn it from a Referer header),
``X-Content-Type-Options: nosniff`` and a Content-Security-Policy that
allows scripts only from the proxy itself.
"""
import json
import mimetypes
import os
import urllib.parse
from collections.abc import Iterable

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.http11 import Response

#: the directory of the pages and their files (vendor/: xterm.js, noVNC,
#: fetched by tools/fetch-console-assets)
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'static')
#: the pages, served at the top level
PAGES = {'/serial.html': 'serial.html', '/vnc.html': 'vnc.html'}
CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
_TYPES = {'.js': 'text/javascript', '.mjs': 'text/javascript',
          '.css': 'text/css', '.html': 'text/html', '.json':
          'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
          '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.woff': 'font/woff'}


def response(status: int, body: bytes, content_type: str,
             extra: Iterable[tuple[str, str]] = ()) -> Response:
    headers = Headers([
        ('Content-Type', content_type), ('Content-Length', str(len(body))),
        ('Content-Security-Policy', CSP), ('Referrer-Policy', 'no-referrer'),
        ('X-Content-Type-Options', 'nosniff'), ('X-Frame-Options', 'DENY'),
        ('Connection', 'close'), *extra])
    reason = {200: 'OK', 403: 'Forbidden', 404: 'Not Found',
              405: 'Method Not Allowed', 503: 'Service Unavailable'}
    return Response(status, reason.get(status, 'Error'), headers, body)


def json_response(status: int, value: object) -> Response:
    return response(status, json.dumps(value).encode(), 'application/json',
                    [('Cache-Control', 'no-store')])


def error(status: int, message: str) -> Response:
    return json_response(status, {'error': message})


def is_websocket(request: Request) -> bool:
    return 'websocket' in request.headers.get('Upgrade', '').lower()


def token_of(path: str) -> str | None:
    """The ``token`` query parameter of a request path, or None."""
    query = urllib.parse.urlsplit(path).query
    values = urllib.parse.parse_qs(query).get('token')
    return values[0] if values else None


def origin_allowed(request: Request, secure: bool,
                   allowed: Iterable[str]) -> bool:
    """A request without Origin (not a browser: hvctl, websocket clients)
    passes; a browser's Origin must be the proxy's own (scheme and the
    Host it was asked for) or one of ``allowed``."""
    origin = request.headers.get('Origin')
    if origin is None:
        return True
    host = request.headers.get('Host', '')
    own = ('https://' if secure else 'http://') + host
    return origin.lower() in {own.lower(), *(a.lower().rstrip('/')
                                             for a in allowed)}


def static_file(path: str, static_dir: str = STATIC_DIR) -> Response:
    """A page (PAGES) or a file under /static/; 404 for anything else,
    including any path that would leave the static directory."""
    url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
    if url_path in PAGES:
        rel = PAGES[url_path]
    elif url_path.startswith('/static/'):
        rel = url_path[len('/static/'):]
    else:
        return error(404, 'no such page')
    root = os.path.realpath(static_dir)
    full = os.path.realpath(os.path.join(root, rel))
    if not full.startswith(root + os.sep) or not os.path.isfile(full):
        return error(404, 'no such file')
    with open(full, 'rb') as f:
        body = f.read()
    ext = os.path.splitext(full)[1].lower()
    kind = _TYPES.get(ext) or mimetypes.guess_type(full)[0] or \
        'application/octet-stream'
    if kind.startswith('text/') or kind == 'application/json':
        kind += '; charset=utf-8'
    return response(200, body, kind, [('Cache-Control', 'no-cache')])


def info(found: dict) -> Response:
    """/info's answer for a valid token (what console_token_check gave):
    the instance and the console, never where it is."""
    return json_response(200, {
        'instance': {'uuid': found['instance_uuid'],
                     'name': found['instance_name']},
        'protocol': found['protocol'], 'expires_at': found['expires_at']})
