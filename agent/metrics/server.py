"""The HTTP endpoint: /metrics of one registry on a threaded WSGI server.

With [metrics] web_config_file (agent.metrics.web_config) it speaks TLS
(the handshake runs on the connection's own thread, bounded by
HANDSHAKE_TIMEOUT, so a slow client holds up no other scrape) and asks
for basic auth: 401 with WWW-Authenticate without valid credentials.

The body is ``exposition.render`` (text format 0.0.4), gzip-compressed at
level 1 when the scraper accepts it (Prometheus does): a 200-guest body
shrinks ~10x for a millisecond or two of CPU.
"""
import gzip
import logging
import socket
import socketserver
import threading
from wsgiref import simple_server

from oslo_config import cfg

from agent import exception
from agent.metrics import exposition
from agent.metrics import registry as registry_mod
from agent.metrics import web_config

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
PATHS = ('/metrics', '/')
HANDSHAKE_TIMEOUT = 10


def make_app(registry, web=None):
    """The WSGI application serving ``registry``; ``web`` (a
    web_config.WebConfig) with users asks for basic auth."""
    def app(environ, start_response):
        if web is not None and not web.authorized(
                environ.get('HTTP_AUTHORIZATION')):
            start_response('401 Unauthorized', [
                ('Content-Type', 'text/plain'),
                ('WWW-Authenticate', web_config.REALM)])
            return [b'Unauthorized\n']
        if environ.get('PATH_INFO') not in PATHS:
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'Not found: try /metrics\n']
        body = exposition.render(registry)
        headers = [('Content-Type', exposition.CONTENT_TYPE)]
        if 'gzip' in environ.get('HTTP_ACCEPT_ENCODING', ''):
            body = gzip.compress(body, compresslevel=1)
            headers.append(('Content-Encoding', 'gzip'))
        start_response('200 OK', headers)
        return [body]
    return app


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        """No access log line per scrape."""


def _server_class(host, tls_context=None):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET

    class Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
        address_family = family
        daemon_threads = True

        def finish_request(self, request, client_address):
            if tls_context is None:
                return super().finish_request(request, client_address)
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                conn = tls_context.wrap_socket(request, server_side=True)
            except OSError as e:     # plain HTTP, an untrusted client
                LOG.debug('metrics: TLS handshake with %s failed: %s',
                          client_address[0], e)
                return None
            try:
                super().finish_request(conn, client_address)
            finally:
                self.shutdown_request(conn)
            return None
    return Server


class MetricsServerError(exception.HVAgentError):
    """The endpoint could not be opened (port taken, bad address): a
    configuration refusal, told in one line (service.run, exit 78)."""


class MetricsServer:
    """Serves one registry at http://<host>:<port>/metrics until stop()."""

    def __init__(self, registry, host, port, service='hvagent', web=None):
        """``web``: a web_config.WebConfig (TLS, basic auth) or None."""
        self.registry = registry
        self.service = service
        self.scheme = 'https' if web and web.context else 'http'
        try:
            self._httpd = simple_server.make_server(
                host, port, make_app(registry, web),
                _server_class(host, web and web.context),
                handler_class=_QuietHandler)
        except OSError as e:
            raise MetricsServerError(
                'cannot serve metrics on %s port %d: %s (another process '
                'holds it? set [metrics] bind_host / the service\'s port, '
                'or [metrics] enabled = false)'
                % (host, port, e.strerror or e)) from None
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name='metrics-http', daemon=True)
        self._thread.start()
        LOG.info('%s serves Prometheus metrics on %s%s', service, self.url,
                 ' (basic auth)' if web and web.users else '')

    def add(self, *collectors):
        """Register more collectors (see registry.add)."""
        for collector in collectors:
            registry_mod.add(self.registry, collector)

    @property
    def url(self):
        return '%s://%s:%d/metrics' % (self.scheme, _bracket(self.host),
                                       self.port)

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self._httpd = None


def _bracket(host):
    return '[%s]' % host if ':' in host else host


def serve(service, port_option, *collectors):
    """Start the endpoint of ``service`` if [metrics] enabled: a fresh
    registry with ``collectors``, on bind_host and [metrics]
    ``port_option``. Return the MetricsServer, or None when disabled."""
    if not CONF.metrics.enabled:
        return None
    web = web_config.load(CONF.metrics.web_config_file) \
        if CONF.metrics.web_config_file else None
    reg = registry_mod.new(service, *collectors)
    return MetricsServer(reg, CONF.metrics.bind_host,
                         getattr(CONF.metrics, port_option), service, web)


def build_with_metrics(service, port_option, build):
    """A service's build_service with its endpoint: open the endpoint
    first (a taken port fails the start before anything else is done),
    then ``svc = build(metrics)`` (metrics is the MetricsServer or None);
    the endpoint closes if the build fails, else when the service stops.
    The service gets a ``metrics`` attribute."""
    metrics = serve(service, port_option)
    try:
        svc = build(metrics)
    except BaseException:
        if metrics is not None:
            metrics.stop()
        raise
    svc.metrics = metrics
    if metrics is not None:
        svc.on_stop.append(metrics.stop)
    return svc
