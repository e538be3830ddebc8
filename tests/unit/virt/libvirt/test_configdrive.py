"""The config drive is the ISO cloud-init expects, read back with pycdlib."""
import io
import json
import os
import shutil
import subprocess

import pycdlib
import pytest

from virt.libvirt import configdrive

UUID = '6f2b7e1c-3c1e-4d6a-9d5b-2d1f0c8a9e11'
USER_DATA = '#cloud-config\n# h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\n'
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host'


def read_iso(path):
    """{rock ridge path: bytes} of every file, and the iso for more checks."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    files = {}
    for dirpath, _, names in iso.walk(rr_path='/'):
        for name in names:
            buf = io.BytesIO()
            full = dirpath.rstrip('/') + '/' + name
            iso.get_file_from_iso_fp(buf, rr_path=full)
            files[full] = buf.getvalue()
    return iso, files


@pytest.fixture
def drive(tmp_path):
    path = tmp_path / 'disk.config'
    configdrive.build(
        str(path), uuid=UUID, name='web 1', hostname='web-1',
        project_id='p1', public_keys={'mykey': KEY},
        user_data=USER_DATA,
        network_data={'links': [{'id': 'eth0'}], 'networks': [],
                      'services': []},
        meta={'role': 'web'}, availability_zone='az1')
    return path


def test_layout_and_label(drive):
    iso, files = read_iso(drive)
    try:
        assert sorted(files) == ['/openstack/latest/meta_data.json',
                                 '/openstack/latest/network_data.json',
                                 '/openstack/latest/user_data']
        assert iso.pvd.volume_identifier.decode().strip() == 'config-2'
        assert iso.has_rock_ridge() and iso.has_joliet()
        # Windows (cloudbase-init) reads the Joliet names
        buf = io.BytesIO()
        iso.get_file_from_iso_fp(
            buf, joliet_path='/openstack/latest/meta_data.json')
        assert buf.getvalue() == files['/openstack/latest/meta_data.json']
    finally:
        iso.close()


def test_meta_data(drive):
    _, files = read_iso(drive)
    meta = json.loads(files['/openstack/latest/meta_data.json'])
    assert meta == {
        'uuid': UUID, 'name': 'web 1', 'hostname': 'web-1',
        'project_id': 'p1', 'launch_index': 0,
        'public_keys': {'mykey': KEY},
        'keys': [{'name': 'mykey', 'type': 'ssh', 'data': KEY}],
        'meta': {'role': 'web'}, 'availability_zone': 'az1'}
    net = json.loads(files['/openstack/latest/network_data.json'])
    assert net['links'] == [{'id': 'eth0'}]


def test_non_ascii_user_data_is_utf8(drive):
    _, files = read_iso(drive)
    assert files['/openstack/latest/user_data'].decode('utf-8') == USER_DATA


def test_defaults(tmp_path):
    path = tmp_path / 'disk.config'
    configdrive.build(str(path), uuid=UUID, name='My_Server.example')
    _, files = read_iso(path)
    assert '/openstack/latest/user_data' not in files
    assert json.loads(files['/openstack/latest/network_data.json']) == {
        'links': [], 'networks': [], 'services': []}
    meta = json.loads(files['/openstack/latest/meta_data.json'])
    assert meta['hostname'] == 'my-server-example'
    assert meta['public_keys'] == {} and meta['meta'] == {}
    assert 'availability_zone' not in meta


def test_bytes_user_data_and_hostname_fallback(tmp_path):
    path = tmp_path / 'disk.config'
    configdrive.build(str(path), uuid=UUID, name='\u65e5\u672c',
                      user_data=b'\x00\xffbinary')
    _, files = read_iso(path)
    assert files['/openstack/latest/user_data'] == b'\x00\xffbinary'
    meta = json.loads(files['/openstack/latest/meta_data.json'])
    assert meta['hostname'] == UUID


def test_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / 'disk.config'
    path.write_bytes(b'old drive')

    def broken_write(self, fp, *a, **kw):
        fp.write(b'half')
        raise OSError('disk full')

    monkeypatch.setattr(pycdlib.PyCdlib, 'write_fp', broken_write)
    with pytest.raises(OSError, match='disk full'):
        configdrive.build(str(path), uuid=UUID, name='x')
    assert path.read_bytes() == b'old drive'
    assert os.listdir(tmp_path) == ['disk.config']


@pytest.mark.skipif(shutil.which('blkid') is None, reason='no blkid')
def test_blkid_sees_config_2(drive):
    out = subprocess.run(['blkid', '-p', '-o', 'export', str(drive)],
                         capture_output=True, text=True, check=True).stdout
    assert 'LABEL=config-2' in out.splitlines()
    assert 'TYPE=iso9660' in out.splitlines()


@pytest.mark.skipif(shutil.which('isoinfo') is None, reason='no isoinfo')
def test_isoinfo_lists_rock_ridge_names(drive):
    out = subprocess.run(['isoinfo', '-R', '-f', '-i', str(drive)],
                         capture_output=True, text=True, check=True).stdout
    assert '/openstack/latest/meta_data.json' in out.splitlines()
