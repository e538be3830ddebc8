"""The qemu-img wrapper, against the real qemu-img."""
import errno
import os
import shutil

import pytest

from agent import exception
from virt.libvirt import disk

pytestmark = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                reason='qemu-img is not installed')

MiB = 1 << 20
# a name a shell would mangle, and that qemu-img option parsing could trip on
ODD = "a b;$(touch pwned)&|'\"`x`,c:d"


@pytest.fixture
def base(tmp_path):
    path = tmp_path / 'base.raw'
    disk.create_blank(path, 'raw', 4 * MiB)
    return str(path)


def test_create_blank_and_info(tmp_path):
    path = tmp_path / 'vol.qcow2'
    disk.create_blank(path, 'qcow2', 3 * MiB)
    info = disk.info(path)
    assert info['format'] == 'qcow2'
    assert info['virtual-size'] == 3 * MiB
    assert disk.virtual_size(path, 'qcow2') == 3 * MiB
    assert sorted(os.listdir(tmp_path)) == ['vol.qcow2']


def test_overlay_grows_to_flavor_size(tmp_path, base):
    path = str(tmp_path / 'disk')
    assert disk.create_overlay(base, 'raw', path, 10 * MiB) == 10 * MiB
    info = disk.info(path)
    assert info['format'] == 'qcow2'
    assert info['virtual-size'] == 10 * MiB
    assert info['backing-filename'] == base
    assert info['backing-filename-format'] == 'raw'


@pytest.mark.parametrize('size', [MiB, 0, None])
def test_overlay_never_shrinks_below_image(tmp_path, base, size):
    path = tmp_path / 'disk'
    assert disk.create_overlay(base, 'raw', path, size) == 4 * MiB
    assert disk.virtual_size(path) == 4 * MiB


def test_overlay_on_qcow2_base(tmp_path):
    base = tmp_path / 'base.qcow2'
    disk.create_blank(base, 'qcow2', 2 * MiB)
    path = tmp_path / 'disk'
    disk.create_overlay(base, 'qcow2', path, 5 * MiB)
    info = disk.info(path)
    assert info['backing-filename-format'] == 'qcow2'
    assert info['virtual-size'] == 5 * MiB


def test_odd_paths_are_just_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd_dir = tmp_path / ODD
    odd_dir.mkdir()
    base = odd_dir / (ODD + '.raw')
    disk.create_blank(base, 'raw', MiB)
    path = odd_dir / (ODD + '.qcow2')
    disk.create_overlay(base, 'raw', path, 2 * MiB)
    assert disk.info(path)['backing-filename'] == str(base)
    assert disk.resize(path, 3 * MiB) == 3 * MiB
    assert not (tmp_path / 'pwned').exists()


def test_relative_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    disk.create_blank('-base.raw', 'raw', MiB)   # not an option
    disk.create_overlay('-base.raw', 'raw', 'nbd:x', None)  # not protocols
    info = disk.info('nbd:x')
    assert info['backing-filename'] == str(tmp_path / '-base.raw')


def test_failure_carries_stderr_and_leaves_nothing(tmp_path):
    path = tmp_path / 'disk'
    with pytest.raises(exception.VirtDriverError) as e:
        disk.create_overlay(tmp_path / 'missing', 'raw', path, MiB)
    assert 'missing' in str(e.value)
    assert os.listdir(tmp_path) == []


def test_create_failure_removes_temp_file(tmp_path):
    with pytest.raises(exception.VirtDriverError, match='exit'):
        disk.create_blank(tmp_path / 'vol', 'no-such-format', MiB)
    assert os.listdir(tmp_path) == []


def test_info_of_missing_file(tmp_path):
    with pytest.raises(exception.VirtDriverError, match='nothere'):
        disk.info(tmp_path / 'nothere')


def test_missing_qemu_img_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(exception.VirtDriverError, match='not installed'):
        disk.info(tmp_path / 'x')


def test_resize_grows_but_never_shrinks(tmp_path):
    path = tmp_path / 'vol.qcow2'
    disk.create_blank(path, 'qcow2', 4 * MiB)
    assert disk.resize(path, 8 * MiB, 'qcow2') == 8 * MiB
    assert disk.resize(path, 2 * MiB) == 8 * MiB
    assert disk.virtual_size(path) == 8 * MiB


def test_supports_direct_io_probe_cleans_up(tmp_path):
    assert isinstance(disk.supports_direct_io(str(tmp_path)), bool)
    assert os.listdir(tmp_path) == []


def test_supports_direct_io_false_on_einval(tmp_path, monkeypatch):
    real_open = os.open

    def fake_open(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, 'Invalid argument')
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, 'open', fake_open)
    assert disk.supports_direct_io(str(tmp_path)) is False
    assert os.listdir(tmp_path) == []


def test_supports_direct_io_raises_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        disk.supports_direct_io(str(tmp_path / 'missing'))
