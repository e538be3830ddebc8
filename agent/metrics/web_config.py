"""[metrics] web_config_file: TLS and basic auth of the metrics endpoint, in
the web configuration file format of Prometheus' exporter-toolkit (what
node_exporter reads with --web.config.file; ``promtool check web-config``
checks it)::

    tls_server_config:
      cert_file: /etc/hvagent/metrics.pem
      key_file: /etc/hvagent/metrics.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: /etc/hvagent/prometheus-ca.pem # with client auth
      min_version: TLS12                             # optional, or TLS13
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt hash

The file is read once at start: anything wrong in it (YAML, an unknown
or unsupported key, an unreadable certificate, a key not matching it, a
password that is no bcrypt hash) is a ``TLSConfigError``, one line, and
the service refuses to start (exit 78).

A checked (user, password) is remembered, as exporter-toolkit does, so a
scrape does not pay a bcrypt (~50-250 ms) each time: the cache is keyed
by a SHA-256 of user, password and hash, holds both answers, and is
emptied when it reaches CACHE_SIZE entries. An unknown user is checked
against a dummy hash, so answering takes as long as for a known one.
"""
import base64
import hashlib
import ssl
import threading

import bcrypt
import yaml

from agent.security import tls

CLIENT_AUTH = {
    'NoClientCert': ssl.CERT_NONE,
    'VerifyClientCertIfGiven': ssl.CERT_OPTIONAL,
    'RequireAndVerifyClientCert': ssl.CERT_REQUIRED,
}
#: exporter-toolkit spellings; TLS10 and TLS11 are refused
VERSIONS = {'TLS12': 'TLSv1.2', 'TLS13': 'TLSv1.3'}
TLS_KEYS = ('cert_file', 'key_file', 'client_auth_type', 'client_ca_file',
            'min_version')
TOP_KEYS = ('tls_server_config', 'basic_auth_users')
CACHE_SIZE = 1024
REALM = 'Basic realm="hvagent metrics"'
#: checked for an unknown user, so that costs what a known one does
_DUMMY_HASH = b'$2b$10$ni/Bimthqq2JHbic02QSzehZz7HJQ0PGUSB18.BPWwBOWB.WrQKpm'


def _error(path, text):
    return tls.TLSConfigError('[metrics] web_config_file %s: %s'
                              % (path, text))


def _mapping(path, value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _error(path, '%s must be a mapping' % where)
    return value


def _unknown(path, mapping, known, where):
    extra = sorted(str(k) for k in mapping if k not in known)
    if extra:
        raise _error(path, 'unknown or unsupported key(s) in %s: %s (hvagent '
                     'reads %s)' % (where, ', '.join(extra),
                                    ', '.join(known)))


class WebConfig:
    """What a web config file asks: ``context`` (an SSLContext, or None for
    plain HTTP) and ``users`` ({name: bcrypt hash}, empty: no auth)."""

    def __init__(self, context=None, users=None):
        self.context, self.users = context, dict(users or {})
        self._cache = {}
        self._lock = threading.Lock()

    def authorized(self, header):
        """Whether an Authorization header value lets the scraper in."""
        if not self.users:
            return True
        user, password = _basic(header)
        if user is None:
            return False
        hashed = self.users.get(user)
        key = hashlib.sha256(b'\0'.join((
            user.encode(), password.encode(), hashed.encode()
            if hashed else b''))).digest()
        with self._lock:
            known = self._cache.get(key)
        if known is not None:
            return known
        if hashed:
            ok = bcrypt.checkpw(password.encode(), hashed.encode())
        else:
            bcrypt.checkpw(password.encode(), _DUMMY_HASH)
            ok = False
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = ok
        return ok


def _basic(header):
    scheme, _, value = (header or '').partition(' ')
    if scheme.lower() != 'basic':
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(':')
    return (user, password) if sep else (None, None)


def _context(path, conf):
    _unknown(path, conf, TLS_KEYS, 'tls_server_config')
    for key in ('cert_file', 'key_file'):
        if not conf.get(key):
            raise _error(path, 'tls_server_config.%s is missing' % key)
    auth = conf.get('client_auth_type') or 'NoClientCert'
    if auth not in CLIENT_AUTH:
        raise _error(path, 'client_auth_type %r is not one of %s'
                     % (auth, ', '.join(CLIENT_AUTH)))
    ca = conf.get('client_ca_file')
    if CLIENT_AUTH[auth] != ssl.CERT_NONE and not ca:
        raise _error(path, 'client_auth_type %s needs client_ca_file' % auth)
    version = conf.get('min_version') or 'TLS12'
    if version not in VERSIONS:
        raise _error(path, 'min_version %r is not one of %s'
                     % (version, ', '.join(VERSIONS)))
    try:
        return tls.server_context(
            str(conf['cert_file']), str(conf['key_file']),
            min_version=VERSIONS[version],
            client_ca_file=ca and str(ca), client_cert=CLIENT_AUTH[auth],
            what=('tls_server_config.cert_file',
                  'tls_server_config.key_file'))
    except tls.TLSConfigError as e:
        raise _error(path, str(e)) from None


def _users(path, users):
    out = {}
    for name, hashed in users.items():
        if not isinstance(hashed, str) or \
                not hashed.startswith(('$2a$', '$2b$', '$2y$')) or \
                len(hashed) != 60:
            raise _error(path, 'basic_auth_users.%s is not a bcrypt hash '
                         '($2y$..., 60 characters)' % name)
        out[str(name)] = hashed
    return out


def load(path):
    """The WebConfig of ``path``; TLSConfigError (one line) when bad."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise _error(path, e.strerror or str(e)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        raise _error(path, 'not valid YAML%s: %s' % (
            ' (line %d)' % (mark.line + 1) if mark else '',
            getattr(e, 'problem', None) or e)) from None
    doc = _mapping(path, doc, 'the file')
    _unknown(path, doc, TOP_KEYS, 'the file')
    tls_conf = _mapping(path, doc.get('tls_server_config'),
                        'tls_server_config')
    users = _mapping(path, doc.get('basic_auth_users'), 'basic_auth_users')
    return WebConfig(_context(path, tls_conf) if tls_conf else None,
                     _users(path, users))
