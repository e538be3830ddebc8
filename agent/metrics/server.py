"""The HTTP endpoint: /metrics of one registry on a threaded WSGI server.

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

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
PATHS = ('/metrics', '/')


def make_app(registry):
    """The WSGI application serving ``registry``."""
    def app(environ, start_response):
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


def _server_class(host):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET

    class Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
        address_family = family
        daemon_threads = True
    return Server


class MetricsServerError(exception.HVAgentError):
    """The endpoint could not be opened (port taken, bad address): a
    configuration refusal, told in one line (service.run, exit 78)."""


class MetricsServer:
    """Serves one registry at http://<host>:<port>/metrics until stop()."""

    def __init__(self, registry, host, port, service='hvagent'):
        self.registry = registry
        self.service = service
        try:
            self._httpd = simple_server.make_server(
                host, port, make_app(registry), _server_class(host),
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
        LOG.info('%s serves Prometheus metrics on http://%s:%d/metrics',
                 service, _bracket(self.host), self.port)

    def add(self, *collectors):
        """Register more collectors (see registry.add)."""
        for collector in collectors:
            registry_mod.add(self.registry, collector)

    @property
    def url(self):
        return 'http://%s:%d/metrics' % (_bracket(self.host), self.port)

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
    reg = registry_mod.new(service, *collectors)
    return MetricsServer(reg, CONF.metrics.bind_host,
                         getattr(CONF.metrics, port_option), service)


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
