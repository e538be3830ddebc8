"""TLS contexts for hvagent's listeners and clients, with one-line errors.

A listener's certificate and key are checked when the context is made (a
missing or unreadable file, or a key that does not match the certificate,
is a ``TLSConfigError``: one line naming the file, which the services turn
into a refusal to start, exit 78). ``ReloadableContext`` re-reads them into
the live context on demand (SIGHUP): new handshakes get the new
certificate while the listening socket and open connections stay. The new
files are first copied to a private directory and loaded into a scratch
context, so a bad pair (or a half-written file) leaves the old certificate
in place.

Clients verify the server by default: ``client_context(ca_file)`` trusts
``ca_file`` (else the system's CAs) and checks the host name.
"""
import logging
import os
import shutil
import ssl
import tempfile

from agent import exception

LOG = logging.getLogger(__name__)

#: the names operators write for a minimum protocol version
VERSIONS = {'TLSv1.2': ssl.TLSVersion.TLSv1_2,
            'TLSv1.3': ssl.TLSVersion.TLSv1_3}


class TLSConfigError(exception.HVAgentError):
    msg = 'Invalid TLS configuration'


def _why(e):
    if isinstance(e, ssl.SSLError):
        return e.reason or e.strerror or str(e)
    return e.strerror or str(e)


def check_readable(path, what):
    """``path`` opened for reading, or TLSConfigError naming ``what``."""
    if not path:
        raise TLSConfigError('%s is not set' % what)
    try:
        with open(path, 'rb'):
            pass
    except OSError as e:
        raise TLSConfigError('%s %s: %s' % (what, path, _why(e))) from None


def _load_pair(ctx, cert_file, key_file, shown=None):
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as e:
        raise TLSConfigError(
            'certificate %s and key %s: %s (is it a PEM certificate and the '
            'private key that matches it?)' % (
                *(shown or (cert_file, key_file)), _why(e))) from None


def server_context(cert_file, key_file, min_version='TLSv1.2',
                   client_ca_file=None, client_cert=ssl.CERT_NONE,
                   what=('certificate', 'key')):
    """A server SSLContext serving ``cert_file``/``key_file``; with
    ``client_ca_file``, client certificates are checked against it
    (``client_cert``: ssl.CERT_OPTIONAL or CERT_REQUIRED)."""
    check_readable(cert_file, what[0])
    check_readable(key_file, what[1])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[min_version]
    _load_pair(ctx, cert_file, key_file)
    if client_ca_file:
        check_readable(client_ca_file, 'client CA file')
        try:
            ctx.load_verify_locations(cafile=client_ca_file)
        except ssl.SSLError as e:
            raise TLSConfigError('client CA file %s: %s' % (
                client_ca_file, _why(e))) from None
        ctx.verify_mode = client_cert
    return ctx


class ReloadableContext:
    """A server context whose certificate and key can be re-read."""

    def __init__(self, cert_file, key_file, **kw):
        self.cert_file, self.key_file, self.kw = cert_file, key_file, kw
        self.context = server_context(cert_file, key_file, **kw)

    def reload(self):
        """Load the files anew into the live context. True when done;
        False (one error line logged, the old pair kept) when the new
        files are unusable."""
        tmp = tempfile.mkdtemp(prefix='hvagent-tls-')   # mode 0700
        try:
            cert = os.path.join(tmp, 'cert.pem')
            key = os.path.join(tmp, 'key.pem')
            try:
                shutil.copyfile(self.cert_file, cert)
                shutil.copyfile(self.key_file, key)
            except OSError as e:
                raise TLSConfigError('%s: %s' % (
                    e.filename or self.cert_file, _why(e))) from None
            scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            _load_pair(scratch, cert, key, (self.cert_file, self.key_file))
            self.context.load_cert_chain(cert, key)
        except TLSConfigError as e:
            LOG.error('TLS reload failed, still serving the previous '
                      'certificate: %s', exception.text(e))
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        LOG.info('TLS certificate re-read from %s', self.cert_file)
        return True


def reloadable_from_options(group, cert_opt, key_opt, cert_file, key_file,
                            **kw):
    """The ReloadableContext of a service's certificate options (named
    ``[group] cert_opt`` and ``key_opt`` in errors), or None when neither
    is set; a key without a certificate is refused. The key defaults to
    the certificate's file (a PEM holding both)."""
    if not (cert_file or key_file):
        return None
    if not cert_file:
        raise TLSConfigError('[%s] %s is set without %s'
                             % (group, key_opt, cert_opt))
    return ReloadableContext(
        cert_file, key_file or cert_file,
        what=('[%s] %s' % (group, cert_opt), '[%s] %s' % (group, key_opt)),
        **kw)


def client_context(ca_file=None):
    """A verifying client context: ``ca_file``'s CAs, else the system's."""
    if ca_file:
        check_readable(ca_file, 'CA file')
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except ssl.SSLError as e:
        raise TLSConfigError('CA file %s: %s' % (ca_file, _why(e))) from None


def _ssl_error(e, seen=()):
    """The ssl.SSLError somewhere in ``e``'s reason, args or causes."""
    if isinstance(e, ssl.SSLError):
        return e
    if not isinstance(e, BaseException) or id(e) in seen:
        return None
    seen = seen + (id(e),)
    for inner in (getattr(e, 'reason', None), *e.args, e.__cause__,
                  e.__context__):
        found = _ssl_error(inner, seen)
        if found is not None:
            return found
    return None


def describe(e):
    """One line for a failed TLS connection (a certificate not trusted,
    a host name mismatch, a handshake refused), or None when ``e`` is no
    TLS failure."""
    inner = _ssl_error(e)
    if isinstance(inner, ssl.SSLCertVerificationError):
        return ('TLS certificate verification failed: %s (is the CA file '
                'the one that signed the server\'s certificate?)'
                % (inner.verify_message or inner.reason))
    if inner is not None and inner.reason == 'WRONG_VERSION_NUMBER':
        return 'TLS handshake failed: WRONG_VERSION_NUMBER (the server ' \
            'does not speak TLS on this port?)'
    if inner is not None:
        return 'TLS handshake failed: %s' % (inner.reason or inner)
    return None
