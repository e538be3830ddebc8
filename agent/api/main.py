"""hvagent-api: serve the REST API, or bootstrap the first admin.

    hvagent-api [--config-file FILE]          serve on [api] bind_host:port
    hvagent-api --bootstrap [--user admin] [--project admin]
                [--password-file FILE]        make USER admin of PROJECT

--bootstrap reads the password from --password-file, else from
$HVAGENT_BOOTSTRAP_PASSWORD, else asks on the terminal; it is idempotent
(run again it sets the password anew). Both talk to the conductor over
RPC; neither opens the database.
"""
import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys

import uvicorn
from oslo_config import cfg

from agent import context
from agent import exception
from agent.api import app as app_mod
from agent.api import deps
from agent.api import limits
from agent.api import policy
from agent.api import tokens
from agent.daemon import service
from agent.daemon import systemd
from agent.rpc import transport as rpc_transport
from agent.security import tls

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
# seconds a TLS client has, on a stop, to answer our close_notify
TLS_CLOSE_GRACE = 1.0


class _Server(uvicorn.Server):
    """Tells systemd READY once the socket listens; with TLS, SIGHUP
    re-reads the certificate and key (the listener stays)."""

    tls = None      # the tls.ReloadableContext, when serving HTTPS

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            LOG.info('hvagent-api listening on %s:%s (%s)',
                     CONF.api.bind_host, CONF.api.bind_port,
                     'https' if self.tls else 'http')
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, self.reload)
            systemd.notify(READY=1, STATUS='hvagent-api is serving')

    async def shutdown(self, sockets=None):
        if self.tls:
            asyncio.get_running_loop().call_later(
                TLS_CLOSE_GRACE, self._abort_closed_tls)
        await super().shutdown(sockets)

    def _abort_closed_tls(self):
        """An idle keep-alive client rarely answers our TLS close_notify;
        asyncio would wait 30 s for it on each such connection (and the
        stop with it). Their last answer was sent: drop them."""
        for conn in list(self.server_state.connections):
            transport = getattr(conn, 'transport', None)
            if transport is not None and transport.is_closing():
                transport.abort()

    def reload(self):
        """SIGHUP (systemctl reload): re-read the TLS certificate."""
        if self.tls:
            self.tls.reload()
        else:
            LOG.info('SIGHUP: nothing to reload (no [api] tls_cert_file)')


def tls_context():
    """The reloadable TLS context of [api] tls_cert_file, or None."""
    api = CONF.api
    return tls.reloadable_from_options(
        'api', 'tls_cert_file', 'tls_key_file', api.tls_cert_file,
        api.tls_key_file, min_version=api.tls_min_version)


def parser():
    """hvagent-api's own options (oslo.config parses the rest); also read
    by tools/manpages.py."""
    p = argparse.ArgumentParser(prog='hvagent-api',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('--bootstrap', action='store_true',
                   help='make --user admin of --project, then exit')
    p.add_argument('--user', default='admin',
                   help='the user --bootstrap makes admin')
    p.add_argument('--project', default='admin',
                   help='the project --bootstrap makes the user admin of')
    p.add_argument('--password-file', type=argparse.FileType('r'),
                   help='the password --bootstrap sets')
    return p


def _parse(argv):
    return parser().parse_known_args(argv)


def bootstrap(args):
    if args.password_file:
        password = args.password_file.read().rstrip('\n')
    else:
        password = os.environ.get('HVAGENT_BOOTSTRAP_PASSWORD') or \
            getpass.getpass('Password for %s: ' % args.user)
    if len(password) < 8:
        print('hvagent-api: the password needs at least 8 characters',
              file=sys.stderr)
        return 2
    out = deps.conductor().bootstrap(
        context.RequestContext(), user=args.user, project=args.project,
        password=password)
    print('User %s (%s) is admin of project %s (%s)'
          % (args.user, out['user_id'], args.project, out['project_id']))
    return 0


def serve():
    tokens.load_key()           # refuse to start without a usable key
    policy.enforcer()           # ... or with a broken policy file
    reloadable = tls_context()    # ... or with an unusable certificate
    # it signs every RPC call; a SIGTERM while it waits is a clean stop
    service.install_signal_handlers()
    service.wait_for_bus_key('hvagent-api')
    limits.raise_nofile_limit()
    ssl_kw = {} if reloadable is None else {
        'ssl_context_factory': lambda _config, _default: reloadable.context}
    config = uvicorn.Config(app_mod.create_app(), host=CONF.api.bind_host,
                            port=CONF.api.bind_port, log_config=None,
                            access_log=False, timeout_graceful_shutdown=30,
                            **ssl_kw, **limits.server_config())
    # uvicorn re-raises the SIGTERM it handled, with the handler found
    # before it: make that one a no-op so a clean stop exits 0 like the
    # other services
    signal.signal(signal.SIGTERM, lambda *_: None)
    server = _Server(config)
    server.tls = reloadable
    server.run()
    return 0


def main(argv=None):
    args, rest = _parse(sys.argv[1:] if argv is None else argv)
    service.parse_config(rest)
    service.setup_logging()
    try:
        rpc_transport.init()
        return bootstrap(args) if args.bootstrap else serve()
    except service.StopBeforeStart:
        return 0
    except exception.NotAvailable as e:
        LOG.error('hvagent-api cannot start: %s', exception.text(e))
        return service.EXIT_UNAVAILABLE
    except exception.HVAgentError as e:
        LOG.error('hvagent-api: %s', exception.text(e))
        return service.EXIT_REFUSED
    finally:
        rpc_transport.cleanup()
