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
import subprocess

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import guest_image
from tests.fixtures import libvirt_cloud as lvcloud
from tests.fixtures import libvirtd
from tests.fixtures import openstack_cli as oscli
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(params=['http', 'https'])
def libvirt_cloud(request, tmp_path, tls_pki):
    https = request.param == 'https'
    with lvcloud.running(tmp_path, ca_file=https and tls_pki.ca.path, extra={
            'api': {'tls_cert_file': tls_pki.server.cert,
                    'tls_key_file': tls_pki.server.key,
                    'ca_file': tls_pki.ca.path} if https else {}}) as cloud:
        yield cloud


def test_boot_through_the_api_on_libvirt(libvirt_cloud):
    cloud, img = libvirt_cloud, libvirt_cloud.image
    p = cloudlib.create_project(cloud.admin, 'lv')
    dev = cloud.add_user(p['id'], 'lvdev', 'developer')
    key = dev.ok('POST', cloudlib.COMPUTE + '/os-keypairs', json={
        'keypair': {'name': 'mykey'}})['keypair']
    # the root disk's image is uploaded; the agent downloads it from the
    # API into its image cache (kernel and ramdisk too: the disk image
    # names them)
    image, kernel, ramdisk = lvcloud.guest_images(lvcloud.api_upload(dev, img))
    sid = cloudlib.boot(dev, 'lv-1', image=image, key_name='mykey')
    srv = cloudlib.wait_status(dev, sid, timeout=120)
    assert (cloudlib.vm_state(srv), srv['OS-EXT-STS:power_state']) == (
        'active', 1), srv       # nova's power_state 1: running
    meta = guest_image.read_config_drive_meta(os.path.join(
        cloud.state, 'instances', sid, 'disk.config'))
    assert meta['uuid'] == sid
    assert meta['public_keys'] == {'mykey': key['public_key']}
    images = cloudlib.IMAGE + '/images/'
    cached = [json.loads(p.read_text()) for p in pathlib.Path(
        cloud.state, 'images', '_base').glob('*.info')]
    assert sorted(c['sha256'] for c in cached
                  if images in c['ref']) == sorted(
        dev.ok('GET', images + i)['os_hash_value']
        for i in (image, kernel, ramdisk))
    # fetched from the API's own URL: https:// when it serves TLS
    assert all(c['ref'].startswith(cloud.url + images)
               for c in cached if images in c['ref']), cached
    path = '%s/servers/%s' % (cloudlib.COMPUTE, sid)
    wait_until(lambda: sid in guest_image.booted_uuids(dev.ok(
        'POST', path + '/action', status=200, json={
            'os-getConsoleOutput': {}})['output']), 60,
        interval=0.5, message='guest never booted')
    dev.ok('DELETE', path, status=204)
    wait_until(lambda: dev.call('GET', path).status_code == 404, 60,
               interval=0.2, message='the server gone')
    assert subprocess.run(['virsh', '-c', libvirtd.URI, 'dominfo',
                           sid], capture_output=True).returncode != 0


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

    def upload(name, fmt, **props):
        return oscli.as_json(env, 'dev', 'image', 'create', '--file',
                             img[name], '--disk-format', fmt,
                             '--container-format', 'bare', *(
                                 arg for kv in props.items() for arg in (
                                     '--property', '%s=%s' % kv)),
                             'lvos-' + name)['id']
    disk, kernel, ramdisk = lvcloud.guest_images(upload)
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
