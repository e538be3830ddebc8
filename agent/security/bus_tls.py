"""A TLS handshake with the broker before a process joins the bus.

With ``[oslo_messaging_rabbit] ssl = true`` a broker whose certificate the
configured CA did not sign (or a port that speaks no TLS, or a broker that
refuses this process's client certificate) makes oslo.messaging retry for
ever, logging "Connection failed: [SSL: CERTIFICATE_VERIFY_FAILED]" each
time: hvctl hangs, a service never starts. Those are configuration errors
that no retry mends, so ``check`` shakes hands with each broker host first,
the way py-amqp will (the same CA, client certificate and host name check)
and raises TLSConfigError, one line, when one refuses: the services exit
78, hvctl prints it. A broker that cannot be reached at all is left to
oslo.messaging's reconnection (it may be down for a while).
"""
import socket
import ssl

import oslo_messaging as messaging

from agent.conf import rabbit as rabbit_conf
from agent.security import tls

#: the AMQP 0-9-1 protocol header: a TLS 1.3 broker refuses a client
#: certificate only once the client speaks
AMQP_HEADER = b'AMQP\x00\x00\x09\x01'
TIMEOUT = 5


def _context(rabbit, hostname_check):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = hostname_check
    if rabbit.ssl_ca_file:
        tls.check_readable(rabbit.ssl_ca_file,
                           '[oslo_messaging_rabbit] ssl_ca_file')
        ctx.load_verify_locations(rabbit.ssl_ca_file)
    else:
        ctx.load_default_certs()
    if rabbit.ssl_cert_file:
        tls.check_readable(rabbit.ssl_cert_file,
                           '[oslo_messaging_rabbit] ssl_cert_file')
        try:
            ctx.load_cert_chain(rabbit.ssl_cert_file,
                                rabbit.ssl_key_file or None)
        except (ssl.SSLError, OSError) as e:
            raise tls.TLSConfigError(
                '[oslo_messaging_rabbit] ssl_cert_file %s and ssl_key_file '
                '%s: %s' % (rabbit.ssl_cert_file, rabbit.ssl_key_file,
                            getattr(e, 'reason', None) or e)) from None
    return ctx


def _handshake(ctx, host, port, server_hostname):
    """None, or why ``host:port`` refused the handshake."""
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
    except OSError:
        return None             # down or unreachable: oslo.messaging retries
    try:
        with ctx.wrap_socket(sock, server_hostname=server_hostname) as conn:
            conn.sendall(AMQP_HEADER)
            conn.recv(1)
    except TimeoutError:
        return None
    except (ssl.SSLError, OSError) as e:
        return tls.describe(e) or 'the connection was closed during the ' \
            'TLS handshake (%s)' % (e.strerror or e)
    finally:
        sock.close()
    return None


def check(conf, url=None):
    """Raise TLSConfigError if a broker of the transport URL refuses TLS."""
    if rabbit_conf.group not in conf:     # agent.conf not imported
        rabbit_conf.register_opts(conf)
    rabbit = conf.oslo_messaging_rabbit
    target = url or conf.transport_url
    if not rabbit.ssl or not target:
        return
    parsed = messaging.TransportURL.parse(conf, target)
    if parsed.transport != 'rabbit':
        return
    one = len(parsed.hosts) == 1
    ctx = _context(rabbit, hostname_check=bool(rabbit.ssl_ca_file) and one)
    for host in parsed.hosts:
        port = host.port or 5671
        why = _handshake(ctx, host.hostname, port,
                         host.hostname if one else None)
        if why:
            raise tls.TLSConfigError(
                'the message broker at %s:%d refused TLS: %s '
                '([oslo_messaging_rabbit] ssl_ca_file %s, ssl_cert_file %s)'
                % (
                   host.hostname, port, why, rabbit.ssl_ca_file or
                   '(system CAs)', rabbit.ssl_cert_file or '(none)'))
