"""The image cache: each image fetched once per host, shared by its guests.

What may be fetched is agent.image_refs' to say, checked here again: an
image id of hvagent-api, an http(s) URL under ``[compute]
image_url_allowlist``, or a local file inside ``allowed_image_dirs``. An
image id is re-authorised for the booting caller on *every* use, cached or
not: its metadata is read from hvagent-api with the instance's image grant
(agent.security.image_grants: issued by the conductor for this instance's images
and project, checked again by the API; another project's private image,
or a deleted one, is "not found" and the build fails), and a cached copy
is used only if its recorded sha256 is the one the API gives. A cache hit
is thus never a way around the API's check.

A reference maps to ``<base_dir>/<sha256 of the reference>`` (an image id
by its download URL under ``[api] public_url``); guests' root disks are qcow2
overlays on that file, so it must never change once in place. Hence a
download goes to ``<key>.<random>.part`` in the same directory, is hashed
while it streams, checked (caller's checksum, qemu-img's view of it), fsynced
and renamed into place: the final name exists only for a complete, vetted
image, and every failure removes the partial file.

Next to each image: ``<key>.info`` (JSON: ref, sha256 of the content, format,
virtual_size), written before the rename so an image is never without it, and
``<key>.lock``. Fetches of one image serialize on a threading lock (threads
of this agent) and an flock on the lock file (other agent processes), so a
burst of spawns from one image downloads it once. A hit re-verifies nothing
but existence (hashing gigabytes per spawn would defeat the cache) and bumps
the mtime, which is the image's "last used" time for cleanup().

Probing the format of downloaded bytes happens once, here, and the result is
recorded: an image that probes as having a backing or external data file is
refused, as it would let a guest read host files through its disk.
"""
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.parse

from agent import exception
from agent import image_refs
from agent.security import tls
from virt.libvirt import disk
from virt.libvirt import download
from virt.libvirt import filemodes

LOG = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
#: hvagent-api's Image v2 (glance's shapes): an image's record, /file its
#: bytes, read with the conductor's grant for the booting instance
IMAGES = '/image/v2/images/'
#: the retired native API's download URLs, recorded as image refs by
#: instances booted before image ids were
LEGACY_IMAGES = '/v1/images/'
_NAME = re.compile(r'^([0-9a-f]{64})(\.info|\.lock|\..+\.part)?$')
_CHECKSUM = re.compile(r'^sha256:([0-9a-fA-F]{64})$')


def key_for(ref):
    return hashlib.sha256(ref.encode('utf-8')).hexdigest()


def resolve_inside(path, dirs):
    """The real path of ``path`` (symbolic links and .. followed) if it
    lies inside one of ``dirs`` (real paths), else None (also for a path
    no file can have: NUL bytes, lone surrogates)."""
    try:
        real = os.path.realpath(path)
    except ValueError:
        return None
    if any(os.path.commonpath([real, d]) == d for d in dirs):
        return real
    return None


class ImageCache:
    def __init__(self, base_dir, download_timeout=600,
                 allowed_formats=('raw', 'qcow2'), local_dirs=None,
                 chunk_size=CHUNK_SIZE, api_url=None, url_allowlist=(),
                 read_timeout=60, max_bytes=None, modes=None,
                 api_ca_file=None):
        """``local_dirs``: if not None, path/file:// refs must resolve
        inside one of them (an empty list refuses every local file).
        ``api_url``: hvagent-api's public URL, where image ids are read and
        downloaded with the instance's image grant (which goes nowhere
        else), over a TLS context trusting ``api_ca_file`` (else the
        system's CAs) when it is https.
        ``url_allowlist``: the http(s) URL prefixes other images may come
        from. ``download_timeout`` bounds a whole download,
        ``read_timeout`` each read, ``max_bytes`` (None: no cap) its
        size. ``modes`` (filemodes.Modes): who may read the cache (by
        default nobody but the agent: 0600 files, 0711 directory)."""
        self.modes = modes or filemodes.Modes(None)
        self.api_url = api_url and api_url.rstrip('/')
        self.api_tls = tls.client_context(api_ca_file) \
            if self.api_url and self.api_url.startswith('https:') else None
        self.allowlist = image_refs.parse_allowlist(url_allowlist)
        self.base_dir = os.path.abspath(base_dir)
        self.download_timeout = download_timeout
        self.read_timeout = min(read_timeout, download_timeout)
        self.max_bytes = max_bytes
        self.allowed_formats = tuple(allowed_formats)
        self.local_dirs = None if local_dirs is None else \
            [os.path.realpath(d) for d in local_dirs]
        self.chunk_size = chunk_size
        self._guard = threading.Lock()
        self._locks = {}  # key -> [threading.Lock, number of users]

    def path_for(self, ref):
        return os.path.join(self.base_dir, key_for(ref))

    def fetch(self, ref, checksum=None, grant=None):
        """Return the cached path of ``ref``, downloading it on a miss.

        ``checksum`` ('sha256:<hex>') is checked against the downloaded
        bytes, and on a hit against the digest recorded at download time.
        ``grant`` (the instance's image grant from the conductor)
        authorises an image id at hvagent-api (every time, hit or miss)
        and goes nowhere else.
        """
        try:
            key_for(ref)
        except (AttributeError, UnicodeEncodeError):
            raise exception.ImageUnacceptable(
                image=repr(ref), reason='not a valid text reference') from None
        expected = _parse_checksum(ref, checksum)
        image_id = self._api_image_id(ref)
        if image_id:
            return self._fetch_api_image(image_id, expected, grant)
        try:
            kind, ref = image_refs.classify(ref, self.allowlist,
                                            local_ok=True)
            if kind == image_refs.NAME:
                raise exception.InvalidRPCPayload(ref)
        except exception.InvalidRPCPayload:
            raise exception.ImageUnacceptable(
                image=ref, reason='not an image id, an http(s) URL this '
                'host may fetch ([compute] image_url_allowlist) or a local '
                'file') from None
        return self._cached(ref, expected, None)

    def _api_image_id(self, ref):
        """The image id ``ref`` names: an id, or (instances booted before
        ids were recorded) hvagent-api's own download URL of one."""
        found = image_refs.image_id(ref)
        if found or not self.api_url or not isinstance(ref, str):
            return found
        for prefix in (self.api_url + IMAGES, self.api_url + LEGACY_IMAGES):
            if ref.startswith(prefix) and ref.endswith('/file'):
                return image_refs.image_id(ref[len(prefix):-len('/file')])
        return None

    def _fetch_api_image(self, image_id, expected, grant):
        """Image ``image_id`` as the project of ``grant`` sees it now."""
        if not self.api_url:
            raise exception.ImageUnacceptable(
                image=image_id, reason='this host knows no hvagent-api '
                '([api] public_url)')
        url = self.api_url + IMAGES + image_id
        try:
            meta = download.get_json(url, self.read_timeout, grant,
                                     tls_context=self.api_tls)
            checksum, fmt = meta['os_hash_value'], meta['disk_format']
            status = meta['status']
        except download.HTTPStatus as e:
            if e.code == 404:
                raise exception.ImageNotFound(
                    image=image_id, reason='no such image, or not one the '
                    "booting caller's project may use") from None
            raise exception.ImageDownloadFailed(
                image=image_id, reason=str(e)) from None
        except (download.NetworkError, KeyError, TypeError) as e:
            LOG.warning('Image %s: reading its metadata at %s failed: %s',
                        image_id, url, e)
            raise download.generic_failure(image_id) from None
        if status != 'active' or not isinstance(checksum, str) or \
                (expected and expected != checksum.lower()):
            raise exception.ImageUnacceptable(
                image=image_id, reason='it is %s with checksum %s' % (
                    status, checksum))
        return self._cached(url + '/file', checksum.lower(), grant,
                            fmt=fmt, image=image_id)

    def _cached(self, ref, expected, grant, fmt=None, image=None):
        key = key_for(ref)
        path = os.path.join(self.base_dir, key)
        if not os.path.isdir(self.base_dir):
            self.modes.make_dir(self.base_dir)
        with self._lock(key):
            if not os.path.exists(path):
                self._download(ref, key, expected, grant, fmt, image)
            elif expected and self.image_info(path).get('sha256') != expected:
                raise exception.ImageUnacceptable(
                    image=image or ref, reason='the cached copy does not '
                    'match sha256:%s' % expected)
            os.utime(path)
        return path

    def image_info(self, path):
        """The recorded {ref, sha256, format, virtual_size} of an image."""
        try:
            with open(path + '.info') as f:
                return json.load(f)
        except FileNotFoundError:  # removed by hand: vet the file again
            return self._inspect(path, path)

    def cleanup(self, in_use_paths, max_age_seconds, now=None):
        """Remove images unused for ``max_age_seconds``; return the paths.

        Images in ``in_use_paths`` are kept and marked used at ``now``, so
        the age counts from the last pass that saw a guest on them. Stale
        partial downloads go too. Anything whose lock is held (a fetch in
        progress) is skipped, and the age is re-read under the lock, so a
        concurrent hit either keeps the image or finds it gone and fetches.
        """
        now = time.time() if now is None else now
        in_use = {os.path.realpath(p) for p in in_use_paths}
        try:
            names = os.listdir(self.base_dir)
        except FileNotFoundError:
            return []
        groups = {}
        for name in names:
            m = _NAME.match(name)
            if m:
                groups.setdefault(m.group(1), []).append(name)
        removed = []
        for key, files in sorted(groups.items()):
            path = os.path.join(self.base_dir, key)
            used = os.path.realpath(path) in in_use
            if used:
                with contextlib.suppress(FileNotFoundError):
                    os.utime(path, (now, now))
            with self._lock(key, blocking=False) as held:
                if held:
                    removed += self._expire(key, files, used,
                                            now - max_age_seconds)
        return removed

    # ------------------------------------------------------------- internals
    def _expire(self, key, files, used, cutoff):
        """Under the lock of ``key``: remove what is older than ``cutoff``."""
        removed = []
        for name in sorted(files):
            path = os.path.join(self.base_dir, name)
            if name.endswith('.part') or (name == key and not used):
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed.append(path)
        if not os.path.exists(os.path.join(self.base_dir, key)):
            for suffix in ('.info', '.lock'):  # we hold the lock: see _lock
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.base_dir, key + suffix))
        return removed

    @contextlib.contextmanager
    def _lock(self, key, blocking=True):
        """Hold ``key`` against this process's threads and other processes.

        Yields False when ``blocking`` is off and someone holds it. cleanup()
        unlinks lock files it holds, so after flock we check that the file
        we locked is still the one at the path, else we retry on the new one.
        """
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        fd = None
        try:
            if not entry[0].acquire(blocking):
                yield False
                return
            try:
                fd = self._flock(key, blocking)
                yield fd is not None
            finally:
                if fd is not None:
                    os.close(fd)
                entry[0].release()
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[key]

    def _flock(self, key, blocking):
        lock_path = os.path.join(self.base_dir, key + '.lock')
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
            try:
                fcntl.flock(fd, flags)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def _download(self, ref, key, expected, grant, fmt=None, image=None):
        path = os.path.join(self.base_dir, key)
        image = image or ref
        with disk.space_errors(self.base_dir, 'fetching image %s into the '
                               'image cache' % image), \
                _staged(path, self.modes) as (out, tmp):
            digest = self._copy(ref, out, grant, image)
            out.flush()
            if expected and digest != expected:
                raise exception.ImageUnacceptable(
                    image=image, reason='checksum mismatch: expected '
                    'sha256:%s, got sha256:%s' % (expected, digest))
            info = dict(self._inspect(image, tmp, fmt), ref=ref,
                        sha256=digest)
            with _staged(path + '.info', self.modes) as (f, _):
                f.write(json.dumps(info).encode())

    def _copy(self, ref, out, grant, image):
        """Stream ``ref`` into ``out``; return its sha256. A network
        failure is logged here and reaches the tenant as one message."""
        try:
            with self._open(ref, grant) as src:
                return download.copy(
                    src, out, self.download_timeout, self.max_bytes,
                    self.chunk_size, disk.NO_SPACE_ERRNOS)
        except download.TooLarge as e:
            raise exception.ImageUnacceptable(
                image=image, reason='it is larger than the %d bytes this '
                'host downloads ([libvirt] max_image_download_bytes): %s'
                % (self.max_bytes, e)) from None
        except download.HTTPStatus as e:
            if grant and e.code in (401, 403, 404):  # hvagent-api's answer
                raise exception.ImageDownloadFailed(image=image,
                                                    reason=str(e)) from None
            LOG.warning('Image %s: downloading %s failed: %s', image, ref, e)
            raise download.generic_failure(image) from None
        except download.NetworkError as e:
            LOG.warning('Image %s: downloading %s failed: %s', image, ref, e)
            raise download.generic_failure(image) from None

    def _open(self, ref, grant=None):
        url = urllib.parse.urlsplit(ref)
        if ref.startswith('/') or url.scheme == 'file':
            if not ref.startswith('/'):
                if url.netloc not in ('', 'localhost'):
                    raise exception.ImageUnacceptable(
                        image=ref, reason='file:// URL of another host')
                ref = urllib.parse.unquote(url.path)
            return self._open_local(ref)
        if self.api_url and ref.startswith(self.api_url + IMAGES):
            # hvagent-api's own image (_api_image_id): no redirect anywhere
            return download.open_url(ref, self.read_timeout, grant,
                                     tls_context=self.api_tls)
        if image_refs.url_allowed(ref, self.allowlist):
            return download.open_url(
                ref, self.read_timeout, redirect_ok=lambda u:
                image_refs.url_allowed(u, self.allowlist))
        raise exception.ImageUnacceptable(
            image=ref, reason='not an image id, an http(s) URL this host may '
            'fetch ([compute] image_url_allowlist) or a local file')

    def _open_local(self, path):
        if '\x00' in path:
            raise exception.ImageUnacceptable(
                image=path, reason='the path holds a NUL character')
        real = os.path.realpath(path) if self.local_dirs is None \
            else resolve_inside(path, self.local_dirs)
        if real is None:
            raise exception.ImageUnacceptable(
                image=path, reason='outside the allowed local directories '
                '(%s)' % (', '.join(self.local_dirs) or 'none: '
                          'allowed_image_dirs is empty'))
        try:
            return open(real, 'rb')
        except FileNotFoundError:
            raise exception.ImageNotFound(image=path, reason='no such file')
        except OSError as e:
            raise exception.ImageUnacceptable(
                image=path, reason='not a readable file (%s)'
                % e.strerror) from None

    def _inspect(self, ref, path, fmt=None):
        """Vet an image with qemu-img: with the format its owner declared
        (``fmt``, an image of hvagent-api: never probed, so raw bytes that
        look like a qcow2 header stay raw), else probed, once, here."""
        if fmt is not None and fmt not in self.allowed_formats:
            raise exception.ImageUnacceptable(image=ref,
                                              reason=self._refused(fmt))
        try:
            info = disk.info(path, fmt)
        except exception.VirtDriverError as e:
            raise exception.ImageUnacceptable(image=ref,
                                              reason=exception.text(e))
        fmt = info.get('format')
        data = info.get('format-specific', {}).get('data', {})
        if fmt not in self.allowed_formats:
            reason = self._refused(fmt)
        elif info.get('backing-filename') or data.get('data-file'):
            reason = 'it refers to another file (backing or data file)'
        elif not info.get('virtual-size'):
            reason = 'it is empty'
        else:
            return {'format': fmt, 'virtual_size': info['virtual-size']}
        raise exception.ImageUnacceptable(image=ref, reason=reason)

    def _refused(self, fmt):
        return 'format %s is not one of %s' % (
            fmt, ', '.join(self.allowed_formats))


def _parse_checksum(ref, checksum):
    if checksum is None:
        return None
    m = _CHECKSUM.match(checksum)
    if not m:
        raise exception.ImageUnacceptable(
            image=ref, reason='checksum %r is not sha256:<64 hex digits>'
            % (checksum,))
    return m.group(1).lower()


def origin(url):
    """'scheme://host:port' of an http(s) URL (port made explicit)."""
    u = urllib.parse.urlsplit(url)
    try:
        port = u.port or {'http': 80, 'https': 443}.get(u.scheme)
    except ValueError:          # a port out of range: matches nothing
        return None
    return '%s://%s:%s' % (u.scheme, u.hostname, port)


@contextlib.contextmanager
def _staged(path, modes):
    """Yield (file, name) of a ``.part`` file next to ``path``; on success
    it is made readable by QEMU's group only (``modes``), fsynced and
    renamed to ``path``, on failure removed."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.part',
                               prefix=os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f, tmp
            modes.shared(fd=f.fileno())   # qemu runs as another user
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
