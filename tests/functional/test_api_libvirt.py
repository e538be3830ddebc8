"""A boot end to end through hvagent-api onto real libvirt/QEMU: the root
disk's image uploaded through the API and fetched from it by the agent,
the key pair made through the API in the guest's config drive, the guest
boots and says so on its console, the delete removes the domain. Twice:
over plain HTTP, and with hvagent-api serving HTTPS (tests.fixtures.certs)
and the agent verifying it with [api] ca_file (public_url defaults to the
https URL)."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures import openstack_cli as oscli
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(params=['http', 'https'])
def libvirt_cloud(request, tmp_path, tls_pki):
    libvirtd.require_libvirtd()
    image = guest_image.ensure_image()
    # QEMU (libvirt-qemu) must traverse the state directory
    state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-api-libvirt-')
    os.chmod(state, 0o755)
    https = request.param == 'https'
    cloud = cloudlib.ApiCloud(tmp_path, ca_file=https and tls_pki.ca.path,
                              extra={
        'DEFAULT': {'state_path': state},
        'api': {'tls_cert_file': tls_pki.server.cert,
                'tls_key_file': tls_pki.server.key,
                'ca_file': tls_pki.ca.path} if https else {},
        'compute': {'compute_driver': 'libvirt'},
        'libvirt': {'virt_type': 'qemu',
                    'connection_uri': libvirtd.URI,
                    'allowed_image_dirs': os.path.dirname(image['disk'])}})
    try:
        cloud.start()
        cloud.image, cloud.state = image, state
        yield cloud
    finally:
        codes = cloud.stop()
        shutil.rmtree(state, ignore_errors=True)
    assert set(codes.values()) == {0}, codes


def upload(client, name, path, disk_format='qcow2'):
    """An image of ``client``'s project with the bytes of ``path``."""
    image = client.ok('POST', '/v1/images', json={
        'name': name, 'disk_format': disk_format})['image']
    with open(path, 'rb') as f:
        return client.ok('PUT', '/v1/images/%s/file' % image['id'],
                         data=f)['image']


def test_boot_through_the_api_on_libvirt(libvirt_cloud):
    cloud, img = libvirt_cloud, libvirt_cloud.image
    p = cloudlib.create_project(cloud.admin, 'lv')
    dev = cloud.add_user(p['id'], 'lvdev', 'developer')
    key = dev.ok('POST', '/v1/keypairs', json={'name': 'mykey'})['keypair']
    # the root disk's image is uploaded; the agent downloads it from the
    # API into its image cache
    # (kernel and ramdisk too: a tenant names no host path)
    image, kernel, ramdisk = (
        upload(dev, name, img[name], fmt)
        for name, fmt in (('disk', 'qcow2'), ('kernel', 'raw'),
                          ('ramdisk', 'raw')))
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'lv-1', 'flavor': 'm1.tiny', 'image': image['id'],
        'kernel': kernel['id'], 'ramdisk': ramdisk['id'],
        'key_name': 'mykey'}})['server']
    srv = cloudlib.wait_status(dev, srv['id'], timeout=120)
    assert (srv['status'], srv['power_state']) == ('active', 'running'), srv
    meta = guest_image.read_config_drive_meta(os.path.join(
        cloud.state, 'instances', srv['id'], 'disk.config'))
    assert meta['uuid'] == srv['id']
    assert meta['public_keys'] == {'mykey': key['public_key']}
    cached = [json.loads(p.read_text()) for p in pathlib.Path(
        cloud.state, 'images', '_base').glob('*.info')]
    assert sorted(c['sha256'] for c in cached
                  if '/v1/images/' in c['ref']) == sorted(
        dev.ok('GET', '/v1/images/%s' % i['id'])['image']['checksum']
        for i in (image, kernel, ramdisk))
    # fetched from the API's own URL: https:// when it serves TLS
    assert all(c['ref'].startswith(cloud.url + '/v1/images/')
               for c in cached if '/v1/images/' in c['ref']), cached
    wait_until(lambda: srv['id'] in guest_image.booted_uuids(dev.ok(
        'GET', '/v1/servers/%s/console' % srv['id'])['output']), 60,
        interval=0.5, message='guest never booted')
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])
    wait_until(lambda: dev.call('GET', '/v1/servers/%s' % srv['id'])
               .status_code == 404, 60, interval=0.2,
               message='the server gone')
    assert subprocess.run(['virsh', '-c', libvirtd.URI, 'dominfo',
                           srv['id']], capture_output=True).returncode != 0


@pytest.mark.parametrize('libvirt_cloud', ['http'], indirect=True)
def test_the_openstack_client_boots_a_qemu_guest(libvirt_cloud,
                                                 tmp_path_factory):
    """The unmodified ``openstack`` command on real libvirt/QEMU: the
    kernel, ramdisk and disk uploaded with ``image create`` (the disk
    naming its kernel and ramdisk as glance's kernel_id and ramdisk_id
    properties), ``server create --wait``, the guest's boot read back with
    ``console log show``, ``server delete --wait`` removes the domain."""
    cloud, img = libvirt_cloud, libvirt_cloud.image
    p = cloudlib.create_project(cloud.admin, 'lvos')
    cloud.add_user(p['id'], 'lvosdev', 'developer')
    env = oscli.environment(tmp_path_factory.mktemp('lvos-home'), {
        'dev': oscli.cloud_entry(cloud, 'lvosdev', 'lvos')})

    def upload(name, fmt, *props):
        return oscli.as_json(env, 'dev', 'image', 'create', '--file',
                             img[name], '--disk-format', fmt,
                             '--container-format', 'bare', *props,
                             'lvos-' + name)['id']
    kernel, ramdisk = upload('kernel', 'raw'), upload('ramdisk', 'raw')
    disk = upload('disk', 'qcow2', '--property', 'kernel_id=' + kernel,
                  '--property', 'ramdisk_id=' + ramdisk)
    shown = oscli.as_json(env, 'dev', 'image', 'show', disk)
    assert kernel in json.dumps(shown) and ramdisk in json.dumps(shown)
    server = oscli.as_json(env, 'dev', 'server', 'create', '--image', disk,
                           '--flavor', 'm1.tiny', '--wait', 'lvos-1')
    assert server['status'] == 'ACTIVE', server
    sid = server['id']
    wait_until(lambda: sid in guest_image.booted_uuids(oscli.openstack(
        env, 'dev', 'console', 'log', 'show', sid).stdout), 90,
        interval=1, message='guest never booted')
    oscli.openstack(env, 'dev', 'server', 'delete', '--wait', sid)
    assert subprocess.run(['virsh', '-c', libvirtd.URI, 'dominfo', sid],
                          capture_output=True).returncode != 0
