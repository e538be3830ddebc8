"""hvagent-console-proxy: the guests' interactive consoles over WebSocket.

    hvagent-console-proxy [--config-file FILE]   serve on [console]
                                                 proxy_host:proxy_port

A controller service (like nova-serialproxy and nova-novncproxy in one):
it checks each WebSocket's token with the conductor over RPC (it never
opens the database) and relays the session to the guest's console server
on its compute host. SIGTERM ends every session and stops; SIGHUP re-reads
the TLS certificate.
"""
import asyncio
import logging
import signal
import sys
import uuid

from oslo_config import cfg

from agent import context
from agent import exception
from agent.conductor import rpcapi as conductor_rpcapi
from agent.console import proxy
from agent.daemon import service
from agent.daemon import systemd
from agent.rpc import transport as rpc_transport
from agent.security import tls

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def tls_context():
    """The reloadable TLS context of [console] proxy_cert_file, or None."""
    c = CONF.console
    return tls.reloadable_from_options(
        'console', 'proxy_cert_file', 'proxy_key_file', c.proxy_cert_file,
        c.proxy_key_file)


def checker(conductor=None):
    """console_token_check over RPC, each call its own request id."""
    conductor = conductor or conductor_rpcapi.ConductorAPI()

    def check(token, consume):
        ctxt = context.RequestContext(request_id='req-' + str(uuid.uuid4()))
        return conductor.console_token_check(ctxt, token=token,
                                             consume=consume)
    return check


def settings(ssl_context=None):
    c = CONF.console
    return proxy.Settings(host=c.proxy_host, port=c.proxy_port,
                          allowed_origins=tuple(c.allowed_origins),
                          max_sessions=c.proxy_max_sessions,
                          ssl_context=ssl_context)


async def _serve(reloadable):
    server = proxy.ConsoleProxy(
        settings(reloadable and reloadable.context), checker())
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(
        signal.SIGHUP, lambda: reloadable.reload() if reloadable else
        LOG.info('SIGHUP: nothing to reload (no [console] proxy_cert_file)'))
    LOG.info('hvagent-console-proxy listening on %s:%s (%s)',
             CONF.console.proxy_host, server.port,
             'https' if reloadable else 'http')
    systemd.notify(READY=1, STATUS='hvagent-console-proxy is serving')
    await stop.wait()
    systemd.notify(STOPPING=1)
    LOG.info('hvagent-console-proxy stopping (%d sessions end)',
             len(server.sessions))
    await server.stop()


def main(argv=None):
    service.parse_config(sys.argv[1:] if argv is None else argv)
    service.setup_logging()
    # the library's own line per connection; ours say what happened
    logging.getLogger('websockets').setLevel(logging.WARNING)
    try:
        reloadable = tls_context()      # refuse an unusable certificate
        rpc_transport.init()
        service.install_signal_handlers()   # a SIGTERM while waiting
        service.wait_for_bus_key('hvagent-console-proxy')
        asyncio.run(_serve(reloadable))
        return 0
    except service.StopBeforeStart:
        return 0
    except exception.NotAvailable as e:
        LOG.error('hvagent-console-proxy cannot start: %s',
                  exception.text(e))
        return service.EXIT_UNAVAILABLE
    except (exception.HVAgentError, OSError) as e:
        LOG.error('hvagent-console-proxy: %s', exception.text(e)
                  if isinstance(e, exception.HVAgentError) else e)
        return service.EXIT_REFUSED
    finally:
        rpc_transport.cleanup()
