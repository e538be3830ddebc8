"""What may name an image, a kernel or a ramdisk, checked alike by
hvagent-api, the conductor and the compute agent (defence in depth).

* an image id (a UUID): an image of hvagent-api, used only once it is
  confirmed visible to the booting project (the conductor at boot, the
  agent again on every use, cached or not);
* an http(s) URL under one of the operator's ``[compute]
  image_url_allowlist`` prefixes (scheme, host, port and an optional path
  prefix; empty by default: no URL at all);
* an absolute path or file:// URL: only on the operator's own path (RPC
  with no REST caller behind it), and then only inside ``[libvirt]
  allowed_image_dirs`` on the agent;
* a plain name (letters, digits, '.', '_', '-'; no '/' nor ':'): a label
  the fake driver boots from; the libvirt driver fetches nothing for it
  and refuses it.

Nothing else reaches a host: a tenant's URL to a loopback service, an
internal host or the metrics endpoint is refused before it is recorded.
Side-effect free (no I/O): virt/ imports it.
"""
import posixpath
import re
import urllib.parse
from collections.abc import Iterable, Sequence

from agent import exception

UUID = re.compile(r'^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$')
ID, URL, LOCAL, NAME = 'id', 'url', 'local', 'name'
_DEFAULT_PORTS = {'http': 80, 'https': 443}
#: (scheme, host, port, path) of an http(s) URL
Origin = tuple[str, str, int | None, str]


def _clip(ref: object) -> str:
    text = ref if isinstance(ref, str) else repr(ref)
    return text if len(text) <= 200 else text[:200] + '...'


def refused(ref: object,
            what: str = 'Image reference') -> exception.InvalidRPCPayload:
    return exception.InvalidRPCPayload(
        '%s %r is refused: give an image id (/image/v2/images) or an http(s) URL '
        'under an origin the operator allows ([compute] '
        'image_url_allowlist)' % (what, _clip(ref)))


def _split(url: str) -> Origin | None:
    """(scheme, host, port, path) of an http(s) URL with no user
    information; None for anything else."""
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port or _DEFAULT_PORTS.get(u.scheme)
    except (ValueError, AttributeError):
        return None
    if u.scheme not in _DEFAULT_PORTS or not u.hostname or \
            u.username is not None or u.password is not None or \
            any(c in url for c in '\\\x00\r\n\t '):
        return None
    path = u.path or '/'
    # a path prefix holds only below it: no '..' climbs out of it
    if '..' in path.split('/') or '%2e' in path.lower() or \
            '%2f' in path.lower():
        return None
    return u.scheme, u.hostname.lower(), port, \
        posixpath.normpath(path) + ('/' if path.endswith('/') and
                                    path != '/' else '')


def parse_allowlist(entries: Iterable[str] | None) -> list[Origin]:
    """The operator's prefixes, split; an unusable entry is skipped."""
    return [p for p in (_split(e.strip()) for e in entries or ())
            if p is not None]


def url_allowed(url: object, allowlist: Sequence[Origin]) -> bool:
    """Whether ``url`` lies under one of ``allowlist`` (parsed) prefixes:
    same scheme, host and port, and a path below the prefix's path (or
    the very path of a prefix without a trailing '/': one file). A
    prefix ending in '/' does not take the directory's own path without
    it ('…/pub' is not under '…/pub/')."""
    parts = _split(url) if isinstance(url, str) else None
    if parts is None:
        return False
    scheme, host, port, path = parts
    for a_scheme, a_host, a_port, a_path in allowlist:
        if (scheme, host, port) != (a_scheme, a_host, a_port):
            continue
        prefix = a_path.rstrip('/') + '/'
        if a_path == '/' or path == a_path or path.startswith(prefix):
            return True
    return False


def image_id(ref: object) -> str | None:
    """The canonical image id ``ref`` names, or None."""
    if isinstance(ref, str) and UUID.match(ref):
        return ref.lower()
    return None


def classify(ref: object, allowlist: Sequence[Origin], local_ok: bool = False,
             what: str = 'Image reference') -> tuple[str, str]:
    """(ID, id) | (URL, url) | (LOCAL, ref) | (NAME, ref);
    InvalidRPCPayload (a 400) for anything that may not be fetched."""
    found = image_id(ref)
    if found:
        return ID, found
    if isinstance(ref, str) and NAME_RE.match(ref):
        return NAME, ref
    if not isinstance(ref, str) or not ref:
        raise refused(ref, what)
    try:
        scheme = urllib.parse.urlsplit(ref).scheme.lower() \
            if '\x00' not in ref else ''
    except ValueError:      # e.g. an unclosed '[' of an IPv6 host
        raise refused(ref, what) from None
    if ref.startswith('/') or scheme == 'file':
        if local_ok:
            return LOCAL, ref
        raise refused(ref, what)
    if url_allowed(ref, allowlist):
        return URL, ref
    raise refused(ref, what)
