"""Reading an image's bytes from hvagent-api or an allowed URL, bounded.

Every fetch has a deadline for the whole download, a timeout for each read
(a server that trickles one byte a minute cannot hold a build slot for
ever: the deadline is checked after every read, and every read returns
within ``read_timeout``) and a size cap (checked against Content-Length
before the first byte, and counted as the bytes come).

A redirect is followed only to where the caller says it may go (another
allowed URL; never, for hvagent-api's own images), so an allowed server
cannot bounce the agent to a loopback service or an internal host.

What went wrong on the network (refused, reset, timed out, a DNS failure,
the HTTP status of a foreign server) is for the operator: it is raised as
NetworkError, which the image cache logs and turns into one message for
the tenant, so a download fault is no port scanner.
"""
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request

from agent import exception
from agent.security import tls


class NetworkError(Exception):
    """Why a download failed, for the agent's log only."""


class HTTPStatus(NetworkError):
    def __init__(self, code, reason, message=None):
        self.code, self.message = code, message
        super().__init__('HTTP %s %s%s' % (code, reason, ': %s' % message
                                           if message else ''))


class TooLarge(Exception):
    pass


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed):
        self.allowed = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not self.allowed(newurl):
            raise NetworkError('redirected (HTTP %s) to %s, which is not '
                               'allowed' % (code, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


#: the header an image grant travels in (agent.security.image_grants)
GRANT_HEADER = 'X-Image-Grant'


def open_url(url, read_timeout, grant=None, redirect_ok=lambda u: False,
             tls_context=None):
    """The response to GET ``url``; ``grant`` (the conductor's image grant)
    goes as X-Image-Grant to this URL only (not across a redirect);
    ``tls_context`` (agent.security.tls.client_context) verifies an https server
    (default: the system's CAs). Raises HTTPStatus (with hvagent-api's
    JSON error message, if any) or NetworkError."""
    req = urllib.request.Request(url)
    if grant:
        req.add_unredirected_header(GRANT_HEADER, grant)
    # no ProxyHandler from the environment: the allow-list is about where
    # the bytes come from, and only the operator sets it
    handlers = [urllib.request.ProxyHandler({}), _Redirects(redirect_ok)]
    if tls_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=tls_context))
    opener = urllib.request.build_opener(*handlers)
    try:
        return opener.open(req, timeout=read_timeout)
    except urllib.error.HTTPError as e:
        with e:
            try:
                message = str(json.loads(e.read(4096))['error']['message'])
            except (ValueError, KeyError, TypeError, OSError,
                    http.client.HTTPException):
                message = None
        raise HTTPStatus(e.code, e.reason, message and message[:200]) \
            from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise NetworkError(_why(e)) from None


def get_json(url, read_timeout, grant, max_bytes=1 << 20, tls_context=None):
    with open_url(url, read_timeout, grant,
                  tls_context=tls_context) as resp:
        try:
            return json.loads(resp.read(max_bytes))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise NetworkError(_why(e)) from None


def copy(src, out, deadline_seconds, max_bytes=None, chunk_size=1 << 20,
         no_space_errnos=()):
    """Stream ``src`` into ``out``; return its sha256 hex digest.

    Raises TooLarge past ``max_bytes``, NetworkError for anything the
    source did wrong (too slow included); an error writing ``out`` with
    one of ``no_space_errnos`` passes as it is."""
    length = getattr(src, 'length', None)
    if max_bytes and length and length > max_bytes:
        raise TooLarge('%d bytes announced' % length)
    deadline = time.monotonic() + deadline_seconds
    read = getattr(src, 'read1', src.read)
    digest, total = hashlib.sha256(), 0
    try:
        while chunk := read(chunk_size):
            total += len(chunk)
            if max_bytes and total > max_bytes:
                raise TooLarge('more than %d bytes' % max_bytes)
            digest.update(chunk)
            out.write(chunk)
            if time.monotonic() > deadline:
                raise NetworkError('exceeded the download deadline of %ss '
                                   '(%d bytes read)'
                                   % (deadline_seconds, total))
        if getattr(src, 'length', None):    # http.client won't raise
            raise NetworkError('connection closed %d bytes short'
                               % src.length)
    except (OSError, http.client.HTTPException) as e:
        if getattr(e, 'errno', None) in no_space_errnos:
            raise
        raise NetworkError(_why(e)) from None
    return digest.hexdigest()


def _why(e):
    described = tls.describe(e)
    if described:
        return described
    reason = getattr(e, 'reason', None) or e
    return '%s: %s' % (type(e).__name__, getattr(reason, 'strerror', None)
                       or str(reason) or type(reason).__name__)


def generic_failure(ref):
    """The one fault a tenant sees for a network failure."""
    return exception.ImageDownloadFailed(
        image=ref, reason='the image could not be downloaded (the '
        "compute agent's log says why)")
