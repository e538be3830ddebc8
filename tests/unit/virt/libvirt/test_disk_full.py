"""Running out of space becomes one readable fault naming the path
(DiskFull, "No space left on device at <path> (<what>)"), not an OSError
without a file name or a qemu-img command line; the real thing, on a full
tmpfs under libvirt, is tests/functional/test_disk_full.py."""
import contextlib
import errno
import os
import subprocess

import pytest

from agent import exception
from agent.compute import manager
from virt.libvirt import disk
from virt.libvirt import images


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EDQUOT])
def test_space_errors_name_the_path(code):
    with pytest.raises(exception.DiskFull) as e:
        with disk.space_errors('/srv/x/disk.config', 'writing the drive'):
            raise OSError(code, os.strerror(code))
    assert str(e.value) == ('No space left on device at /srv/x/disk.config '
                            '(writing the drive)')
    assert isinstance(e.value, exception.VirtDriverError)
    assert isinstance(e.value.__cause__, OSError)


def test_other_os_errors_pass_unchanged():
    with pytest.raises(PermissionError):
        with disk.space_errors('/srv/x', 'writing'):
            raise PermissionError(errno.EACCES, 'Permission denied')


def _failing_qemu_img(stderr):
    def run(cmd, **kw):
        raise subprocess.CalledProcessError(1, cmd, '', stderr)
    return run


def test_qemu_img_out_of_space_is_disk_full(monkeypatch, tmp_path):
    monkeypatch.setattr(disk.subprocess, 'run', _failing_qemu_img(
        "qemu-img: /x/.disk.1.tmp: Could not write refcount table: "
        "No space left on device\n"))
    target = str(tmp_path / 'disk')
    with pytest.raises(exception.DiskFull) as e:
        disk.create_blank(target, 'qcow2', 1 << 30)
    text = manager.fault_message(e.value)
    assert text.startswith('No space left on device at %s (qemu-img '
                           'create: ' % target), text
    assert os.listdir(tmp_path) == []          # the temporary file is gone


def test_other_qemu_img_failures_stay_virt_driver_errors(monkeypatch,
                                                         tmp_path):
    monkeypatch.setattr(disk.subprocess, 'run', _failing_qemu_img(
        'qemu-img: Unknown file format'))
    with pytest.raises(exception.VirtDriverError) as e:
        disk.create_blank(str(tmp_path / 'disk'), 'qcow2', 1 << 30)
    assert not isinstance(e.value, exception.DiskFull)
    assert 'Unknown file format' in str(e.value)


@pytest.mark.parametrize('where', ['image', 'info'])
def test_full_image_cache_keeps_no_partial_image(monkeypatch, tmp_path,
                                                 where):
    """A download that runs out of space (in the image or in its .info)
    leaves nothing that looks like a cached image."""
    src = tmp_path / 'img.raw'
    src.write_bytes(b'\0' * 8192)
    cache = images.ImageCache(str(tmp_path / '_base'), chunk_size=1024)
    real_staged = images._staged

    class FullFile:
        """Takes two chunks of the image (nothing of the .info), then the
        filesystem is full."""
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, data):
            self.n += 1
            if self.n > (2 if where == 'image' else 0):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    @contextlib.contextmanager
    def staged(path, modes):
        with real_staged(path, modes) as (f, tmp):
            full = (where == 'image') != path.endswith('.info')
            yield (FullFile(f) if full else f), tmp
    monkeypatch.setattr(images, '_staged', staged)
    with pytest.raises(exception.DiskFull) as e:
        cache.fetch(str(src))
    assert str(e.value).startswith(
        'No space left on device at %s (fetching image %s' % (
            cache.base_dir, src))
    assert [n for n in os.listdir(cache.base_dir)
            if not n.endswith('.lock')] == []
