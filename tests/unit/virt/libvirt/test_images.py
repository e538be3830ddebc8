"""The image cache: fetch once, verify, leave nothing half-done, expire."""
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.parse

import pytest

from agent import exception
from virt.libvirt import disk
from virt.libvirt import download
from virt.libvirt import images

IMAGE = (b'\xeb\x63\x90' + b'bootable bytes ' * 1000).ljust(16384, b'\0')
SHA = hashlib.sha256(IMAGE).hexdigest()
needs_qemu_img = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                    reason='qemu-img is not installed')
pytestmark = needs_qemu_img   # every fetch probes the format with qemu-img


@pytest.fixture
def server(image_server):
    image_server.files['/img.raw'] = IMAGE
    return image_server


@pytest.fixture
def cache(tmp_path, image_server):
    """A cache allowed to fetch from ``image_server`` (the operator's
    [compute] image_url_allowlist)."""
    return images.ImageCache(str(tmp_path / '_base'), download_timeout=10,
                             url_allowlist=[image_server.url('/')])


@pytest.fixture
def local_image(tmp_path):
    path = tmp_path / 'img.raw'
    path.write_bytes(IMAGE)
    return str(path)


def leftovers(cache):
    """Files in the cache other than lock files."""
    if not os.path.isdir(cache.base_dir):
        return []
    return sorted(n for n in os.listdir(cache.base_dir)
                  if not n.endswith('.lock'))


def test_fetch_local_path(cache, local_image):
    path = cache.fetch(local_image)
    key = hashlib.sha256(local_image.encode()).hexdigest()
    assert path == os.path.join(cache.base_dir, key)
    assert path == cache.path_for(local_image)
    with open(path, 'rb') as f:
        assert f.read() == IMAGE
    info = cache.image_info(path)
    assert info == {'ref': local_image, 'sha256': SHA, 'format': 'raw',
                    'virtual_size': len(IMAGE)}
    assert leftovers(cache) == sorted([os.path.basename(path),
                                       os.path.basename(path) + '.info'])


def test_hit_does_not_download_again_and_bumps_mtime(cache, server):
    ref = server.url('/img.raw')
    path = cache.fetch(ref)
    os.utime(path, (1000, 1000))
    assert cache.fetch(ref, checksum='sha256:' + SHA.upper()) == path
    assert server.gets['/img.raw'] == 1
    assert time.time() - os.stat(path).st_mtime < 60


def test_hit_with_other_checksum_is_refused(cache, local_image):
    path = cache.fetch(local_image)
    with pytest.raises(exception.ImageUnacceptable, match='cached copy'):
        cache.fetch(local_image, checksum='sha256:' + '0' * 64)
    assert os.path.exists(path)


@pytest.mark.parametrize('n_caches', [1, 2], ids=['threads', 'processes'])
def test_concurrent_fetches_download_once(tmp_path, server, n_caches):
    # Two ImageCache objects on one directory stand for two agent
    # processes: they share no thread lock, only the flock.
    server.delay = 0.3
    caches = [images.ImageCache(str(tmp_path / '_base'),
                                url_allowlist=[server.url('/')])
              for _ in range(n_caches)]
    ref = server.url('/img.raw')
    results, errors = [], []

    def fetch(cache):
        try:
            results.append(cache.fetch(ref, checksum='sha256:' + SHA))
        except Exception as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch, args=(caches[i % n_caches],))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.gets == {'/img.raw': 1}
    assert set(results) == {caches[0].path_for(ref)}


def test_checksum_mismatch_leaves_nothing(cache, server):
    with pytest.raises(exception.ImageUnacceptable, match='checksum'):
        cache.fetch(server.url('/img.raw'), checksum='sha256:' + 'ab' * 32)
    assert leftovers(cache) == []


def test_malformed_checksum(cache, local_image):
    with pytest.raises(exception.ImageUnacceptable, match='sha256:<64'):
        cache.fetch(local_image, checksum='md5:abc')


GENERIC = re.escape("could not be downloaded (the compute agent's log "
                    'says why)')


@pytest.mark.parametrize('path,logged', [('/nope.raw', 'HTTP 404'),
                                         ('/error', 'HTTP 500')])
def test_http_errors_are_one_generic_fault(cache, server, caplog, path,
                                           logged):
    """A foreign server's status is the operator's to read, not the
    tenant's: the fault is the same for every failure."""
    with pytest.raises(exception.ImageDownloadFailed) as exc:
        cache.fetch(server.url(path))
    assert re.search(GENERIC, str(exc.value)) and logged not in str(exc.value)
    assert logged in caplog.text
    assert leftovers(cache) == []


def test_connection_refused(tmp_path, caplog):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = 'http://127.0.0.1:%d/img.raw' % port
    cache = images.ImageCache(str(tmp_path / '_base'), url_allowlist=[url])
    with pytest.raises(exception.ImageDownloadFailed) as exc:
        cache.fetch(url)
    assert re.search(GENERIC, str(exc.value))
    assert 'refused' not in str(exc.value)
    assert 'refused' in caplog.text
    assert leftovers(cache) == []


def test_truncated_download_leaves_nothing(cache, server):
    server.short = 100
    with pytest.raises(exception.ImageDownloadFailed):
        cache.fetch(server.url('/img.raw'))
    assert leftovers(cache) == []


def test_stalled_download_times_out(tmp_path, server, caplog):
    server.stall = 2
    cache = images.ImageCache(str(tmp_path / '_base'), download_timeout=0.5,
                              url_allowlist=[server.url('/')])
    with pytest.raises(exception.ImageDownloadFailed, match=GENERIC):
        cache.fetch(server.url('/img.raw'))
    assert 'timed out' in caplog.text
    assert leftovers(cache) == []


def test_missing_local_file(cache, tmp_path):
    with pytest.raises(exception.ImageNotFound, match='no such file'):
        cache.fetch(str(tmp_path / 'missing.raw'))
    with pytest.raises(exception.ImageNotFound):
        cache.fetch('file://' + str(tmp_path / 'missing.raw'))
    assert leftovers(cache) == []


@pytest.mark.parametrize('ref', ['relative/img.raw', 'ftp://h/img.raw',
                                 'file://otherhost/img.raw'])
def test_unsupported_refs(cache, ref):
    with pytest.raises(exception.ImageUnacceptable):
        cache.fetch(ref)


def test_odd_file_names(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd = tmp_path / "dir with spaces;$(touch pwned)" / "img 'x' `y` &.raw"
    odd.parent.mkdir()
    odd.write_bytes(IMAGE)
    by_path = cache.fetch(str(odd))
    by_url = cache.fetch('file://' + urllib.parse.quote(str(odd)))
    assert by_path != by_url       # two refs, two cache entries
    for path in (by_path, by_url):
        assert cache.image_info(path)['sha256'] == SHA
    assert not (tmp_path / 'pwned').exists()


def test_local_dirs_restrict_local_refs(tmp_path, local_image):
    allowed = tmp_path / 'images'
    allowed.mkdir()
    (allowed / 'ok.raw').write_bytes(IMAGE)
    cache = images.ImageCache(str(tmp_path / '_base'),
                              local_dirs=[str(allowed)])
    cache.fetch(str(allowed / 'ok.raw'))
    for ref in (local_image, str(allowed / '..' / 'img.raw')):
        with pytest.raises(exception.ImageUnacceptable, match='allowed'):
            cache.fetch(ref)


def test_image_with_backing_file_is_refused(cache, tmp_path, local_image):
    evil = tmp_path / 'evil.qcow2'
    disk.create_overlay(local_image, 'raw', str(evil))
    with pytest.raises(exception.ImageUnacceptable, match='backing'):
        cache.fetch(str(evil))
    assert leftovers(cache) == []


def test_qcow2_image_and_empty_image(cache, tmp_path):
    q = tmp_path / 'img.qcow2'
    disk.create_blank(q, 'qcow2', 1 << 20)
    info = cache.image_info(cache.fetch(str(q)))
    assert (info['format'], info['virtual_size']) == ('qcow2', 1 << 20)
    empty = tmp_path / 'empty'
    empty.write_bytes(b'')
    with pytest.raises(exception.ImageUnacceptable, match='empty'):
        cache.fetch(str(empty))


# ----------------------------------------------------------------- cleanup
def _aged(cache, tmp_path, name, age, now):
    src = tmp_path / name
    src.write_bytes(IMAGE + name.encode())
    path = cache.fetch(str(src))
    os.utime(path, (now - age, now - age))
    return path


def test_cleanup_respects_in_use_and_age(cache, tmp_path):
    now = time.time()
    in_use = _aged(cache, tmp_path, 'in-use', 1000, now)
    old = _aged(cache, tmp_path, 'old', 1000, now)
    young = _aged(cache, tmp_path, 'young', 10, now)
    stale_part = old + '.abc123.part'
    fresh_part = young + '.def456.part'
    crashed_part = in_use + '.ghi789.part'   # an earlier attempt's remains
    for part, age in ((stale_part, 1000), (fresh_part, 10),
                      (crashed_part, 1000)):
        open(part, 'wb').close()
        os.utime(part, (now - age, now - age))
    foreign = os.path.join(cache.base_dir, 'not-ours')
    open(foreign, 'w').close()
    os.utime(foreign, (0, 0))

    removed = cache.cleanup([in_use], max_age_seconds=100, now=now)

    assert sorted(removed) == sorted([old, stale_part, crashed_part])
    for path in (in_use, young, fresh_part, foreign, young + '.info'):
        assert os.path.exists(path)
    for path in (old, old + '.info', old + '.lock'):
        assert not os.path.exists(path)
    # an image in use is marked used now: its age restarts when freed
    assert os.stat(in_use).st_mtime == pytest.approx(now)
    assert cache.cleanup([], max_age_seconds=100, now=now + 50) == []
    assert in_use in cache.cleanup([], max_age_seconds=100, now=now + 200)


def test_cleanup_skips_locked_images(cache, tmp_path):
    now = time.time()
    old = _aged(cache, tmp_path, 'old', 1000, now)
    fd = os.open(old + '.lock', os.O_RDWR)   # another process fetching it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert cache.cleanup([], max_age_seconds=100, now=now) == []
        assert os.path.exists(old)
    finally:
        os.close(fd)
    assert cache.cleanup([], max_age_seconds=100, now=now) == [old]


def test_fetch_after_cleanup_downloads_again(cache, server):
    ref = server.url('/img.raw')
    path = cache.fetch(ref)
    assert cache.cleanup([], 0, now=time.time() + 1) == [path]
    assert leftovers(cache) == []
    assert cache.fetch(ref) == path
    assert server.gets['/img.raw'] == 2
    assert json.load(open(path + '.info'))['sha256'] == SHA


def test_cleanup_of_missing_dir(tmp_path):
    cache = images.ImageCache(str(tmp_path / 'never-created'))
    assert cache.cleanup([], 0) == []


def test_download_timeout_bounds_the_whole_download(tmp_path, local_image,
                                                    monkeypatch):
    class Clock:   # every look at the clock is a minute later
        t = 0.0

        @classmethod
        def monotonic(cls):
            cls.t += 60
            return cls.t

    monkeypatch.setattr(download, 'time', Clock)
    cache = images.ImageCache(str(tmp_path / '_base'), download_timeout=600,
                              chunk_size=1024)
    with pytest.raises(exception.ImageDownloadFailed, match=GENERIC):
        cache.fetch(local_image)
    assert leftovers(cache) == []


def test_cached_files_are_nobody_elses(cache, local_image):
    # no group given: only the agent reads them (unit tests run as root,
    # where QEMU's group is filemodes.Modes' business)
    path = cache.fetch(local_image)
    for p in (path, path + '.info', path + '.lock'):
        assert os.stat(p).st_mode & 0o777 == 0o600, p
    assert os.stat(cache.base_dir).st_mode & 0o777 == 0o711
