"""qemu-img, wrapped: the only place the libvirt driver shapes disk files.

Every call runs qemu-img with an argument list, never a shell, so paths with
spaces or shell metacharacters are just paths. Paths are made absolute before
they reach qemu-img because it reads a leading ``-`` as an option and
``something:`` before the first ``/`` as a protocol (``nbd:``, ``json:``);
an absolute path has neither. A failing qemu-img becomes a VirtDriverError
carrying its stderr, which is what an operator needs to see; one that ran
out of space becomes DiskFull naming the file it was making (as
``space_errors()`` does for our own writes).

Instance root disks are qcow2 overlays on a cached base image: creating one
is instant, and the base is shared by every guest booted from it. An
overlay never makes the disk smaller than the image (shrinking would cut off
the guest's filesystem), so its size is max(image size, flavor size).
"""
import contextlib
import errno
import json
import mmap
import os
import subprocess
import tempfile

from agent import exception

#: root disk size when neither the flavor nor an image gives one
BLANK_ROOT_BYTES = 1 << 30
#: wall-clock bound for ``qemu-img info``: it parses untrusted image headers
INFO_TIMEOUT = 60

_DIRECT_IO_BLOCK = 4096
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))


@contextlib.contextmanager
def space_errors(path, what):
    """Turn running out of space (ENOSPC, EDQUOT) while ``what`` writes
    ``path`` into DiskFull naming the path; other errors pass."""
    try:
        yield
    except OSError as e:
        if e.errno in NO_SPACE_ERRNOS:
            raise exception.DiskFull(path=path, what=what) from e
        raise


def _run(*args, timeout=None, target=None):
    """Run qemu-img; ``target`` is the file it writes, if any."""
    cmd = ('qemu-img',) + tuple(str(a) for a in args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, check=True)
    except FileNotFoundError:
        raise exception.VirtDriverError(
            reason='qemu-img is not installed (package qemu-utils)')
    except subprocess.TimeoutExpired:
        raise exception.VirtDriverError(
            reason='%s timed out after %ss' % (' '.join(cmd), timeout))
    except subprocess.CalledProcessError as e:
        if target and any(t in e.stderr for t in _NO_SPACE_TEXT):
            raise exception.DiskFull(path=target, what='qemu-img %s: %s' % (
                args[0], e.stderr.strip()))
        raise exception.VirtDriverError(
            reason='%s failed (exit %d): %s' % (
                ' '.join(cmd), e.returncode, e.stderr.strip()))
    return proc.stdout


def info(path, format=None):
    """Return ``qemu-img info`` of ``path`` as a dict.

    It has at least 'format' and 'virtual-size' (bytes), and
    'backing-filename' for an overlay. ``format`` skips probing, which must
    be done only once, on the freshly downloaded image. -U (force-share)
    lets it read a disk a running guest holds locked; info only reads.
    """
    args = ['info', '--output=json', '-U']
    if format:
        args += ['-f', format]
    return json.loads(_run(*args, os.path.abspath(path),
                           timeout=INFO_TIMEOUT))


def virtual_size(path, format=None):
    return int(info(path, format)['virtual-size'])


def create_overlay(base, base_format, path, size_bytes=None):
    """Create qcow2 ``path`` backed by ``base``; return its virtual size.

    The size is max(size of ``base``, ``size_bytes``); ``size_bytes`` None
    or 0 (a flavor with root_gb 0) keeps the image size. The overlay is
    built under a temporary name and renamed into place, so ``path`` is
    either absent or complete, never a half-written file.
    """
    base = os.path.abspath(base)
    path = os.path.abspath(path)
    size = max(virtual_size(base, base_format), size_bytes or 0)
    with _temp_sibling(path) as tmp:
        _run('create', '-q', '-f', 'qcow2', '-b', base, '-F', base_format,
             tmp, size, target=path)
        os.replace(tmp, path)
    return size


def rebase_unsafe(path, base, base_format):
    """Make qcow2 ``path`` name ``base`` as its backing file, whatever its
    header named before (that file is never opened: ``-u``)."""
    _run('rebase', '-q', '-u', '-f', 'qcow2', '-b', os.path.abspath(base),
         '-F', base_format, os.path.abspath(path))


def convert(src, dest, src_format='qcow2', force_share=False):
    """A standalone qcow2 copy of ``src`` and its backing chain at
    ``dest`` (unused blocks left out). ``force_share``: read a disk a
    running QEMU holds (a copy of a paused guest's disk)."""
    args = ['convert', '-q', '-f', src_format, '-O', 'qcow2']
    if force_share:
        args.append('-U')
    _run(*args, os.path.abspath(src), os.path.abspath(dest), target=dest)


def measure(path, format='qcow2'):
    """Bytes a standalone qcow2 copy of ``path`` needs (its data; -U: a
    running guest may hold it)."""
    out = json.loads(_run('measure', '--output=json', '-U', '-O', 'qcow2',
                          '-f', format, os.path.abspath(path),
                          timeout=INFO_TIMEOUT))
    return int(out['required'])


def create_blank(path, format, size_bytes):
    """Create an empty ``format`` disk of ``size_bytes`` (volumes, tests)."""
    path = os.path.abspath(path)
    with _temp_sibling(path) as tmp:
        _run('create', '-q', '-f', format, tmp, size_bytes, target=path)
        os.replace(tmp, path)


def resize(path, size_bytes, format=None):
    """Grow ``path`` to ``size_bytes``; never shrink. Return the new size.

    A disk already at least that big is left alone, so calling this again
    (a redelivered request) is harmless.
    """
    current = virtual_size(path, format)
    if size_bytes <= current:
        return current
    args = ['resize', '-q']
    if format:
        args += ['-f', format]
    _run(*args, os.path.abspath(path), size_bytes, target=path)
    return size_bytes


@contextlib.contextmanager
def _temp_sibling(path):
    """A free temporary name next to ``path``, removed unless renamed."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.tmp',
                               prefix='.%s.' % os.path.basename(path))
    os.close(fd)
    try:
        yield tmp
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass  # renamed into place


def supports_direct_io(dirpath):
    """Whether files in ``dirpath`` can be opened with O_DIRECT.

    libvirt's cache='none' (the safe, host-page-cache-free mode) needs it;
    tmpfs and some network filesystems refuse it with EINVAL. O_DIRECT wants
    memory aligned to the block size, which an anonymous mmap always is.
    Other errors (a missing directory, no permission) are raised: they are
    not an answer to the question.
    """
    fd, tmp = tempfile.mkstemp(dir=dirpath, prefix='.direct_io_probe.')
    os.close(fd)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_DIRECT)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return False
            raise
        try:
            with mmap.mmap(-1, _DIRECT_IO_BLOCK) as buf:
                buf.write(b'\0' * _DIRECT_IO_BLOCK)
                os.write(fd, buf)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return False
            raise
        finally:
            os.close(fd)
        return True
    finally:
        os.unlink(tmp)
