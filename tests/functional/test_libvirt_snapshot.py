"""Snapshots on real QEMU between two hypervisor hosts
(two_host_cloud.with_api: hvagent-api, conductor and scheduler, h1 the
machine's libvirtd, h2 a second libvirtd in its own namespaces, each
with its agent): a guest booted on h1 writes a marker to its root disk;
the snapshot of it - running (libvirt's block copy, the guest never
stops) and stopped (qemu-img convert) - becomes an image of its project
that boots on h2, whose guest finds the marker. The image carries the
kernel and ramdisk the guest booted with."""
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import guest_image
from tests.fixtures import libvirt_cloud
from tests.fixtures import two_host_cloud as two
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.two_host_cloud import H1
from tests.fixtures.two_host_cloud import H2
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
TIMEOUT = two.BOOT_TIMEOUT


@pytest.fixture(scope='module')
def cloud(tmp_path_factory, second_host, libvirt_image):
    with two.with_api(tmp_path_factory.mktemp('snapshot'), second_host,
                      libvirt_image) as cloud:
        project = cloudlib.create_project(cloud.admin, 'snapshots')
        cloud.dev = cloud.add_user(project['id'], 'snapper', 'developer')
        cloud.disk, cloud.kernel, cloud.ramdisk = libvirt_cloud.guest_images(
            libvirt_cloud.api_upload(cloud.dev, libvirt_image))
        yield cloud


def only(cloud, host):
    """Enable ``host``, disable the other: the next boot lands there."""
    other = H2 if host == H1 else H1
    for name, verb in ((host, 'enable'), (other, 'disable')):
        cloud.admin.ok('PUT', '%s/os-services/%s' % (COMPUTE, verb),
                       json={'host': name, 'binary': 'hvagent-compute'})


def console(cloud, sid):
    return cloudlib.action(cloud.dev, sid, {'os-getConsoleOutput': {}}).json()[
        'output']


def boot_on(cloud, host, name, image, **fields):
    only(cloud, host)
    sid = cloudlib.boot(cloud.dev, name, image=image, config_drive=True,
                        **fields)
    srv = cloudlib.wait_status(cloud.dev, sid, until=('active', 'error'),
                               timeout=TIMEOUT)
    assert cloudlib.vm_state(srv) == 'active', srv.get('fault')
    assert cloud.admin.ok('GET', '%s/servers/%s' % (COMPUTE, sid))[
        'server']['OS-EXT-SRV-ATTR:host'] == host
    wait_until(lambda: guest_image.markers(console(cloud, sid)), TIMEOUT,
               interval=1, message='the guest booting')
    return sid


def snapshot(cloud, sid, name):
    r = cloudlib.action(cloud.dev, sid, {'createImage': {'name': name}})
    assert r.status_code == 202, r.text
    image_id = r.headers['Location'].rsplit('/', 1)[1]
    image = wait_until(lambda: (lambda i: i if i['status'] != 'saving'
                                else None)(cloud.dev.ok(
                                    'GET', '%s/images/%s' % (IMAGE,
                                                             image_id))),
                       TIMEOUT, interval=0.5, message='the snapshot')
    assert image['status'] == 'active', image
    return image


def delete(cloud, sid):
    cloud.dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
    wait_until(lambda: cloud.dev.call('GET', '%s/servers/%s' % (
        COMPUTE, sid)).status_code == 404, 120, interval=0.5)


def test_a_snapshot_boots_on_the_other_host_with_the_guests_marker(cloud):
    mark = 'snap-%s' % uuid.uuid4().hex[:8]
    sid = boot_on(cloud, H1, 'marked', cloud.disk, metadata={'marker': mark})
    text = console(cloud, sid)
    assert guest_image.markers(text) == [mark], text
    lines = text.count('disk sizes:')
    # running: the guest runs on through the copy (no pause, no boot)
    image = snapshot(cloud, sid, 'marked-running')
    assert (image['kernel_id'], image['ramdisk_id'], image['instance_uuid'],
            image['disk_format']) == (cloud.kernel, cloud.ramdisk, sid,
                                      'qcow2')
    srv = cloudlib.wait_status(cloud.dev, sid, until=('active',))
    assert srv['OS-EXT-STS:power_state'] == 1        # running
    wait_until(lambda: console(cloud, sid).count('disk sizes:') > lines + 1,
               60, interval=1, message='the guest still printing')
    assert len(guest_image.booted_uuids(console(cloud, sid))) == 1
    # stopped: converted
    assert cloudlib.action(cloud.dev, sid, {'os-stop': None}).status_code \
        == 202
    cloudlib.wait_status(cloud.dev, sid, until=('stopped',), timeout=120)
    stopped = snapshot(cloud, sid, 'marked-stopped')
    assert cloudlib.vm_state(cloudlib.wait_status(
        cloud.dev, sid, until=('stopped',))) == 'stopped'
    delete(cloud, sid)
    # each boots on h2, where the guest finds the marker on its disk
    for img in (image, stopped):
        copy = boot_on(cloud, H2, 'from-' + img['name'], img['id'])
        text = console(cloud, copy)
        assert guest_image.markers(text) == [mark], text
        assert 'marker written' not in text
        delete(cloud, copy)
    only(cloud, H1)
    for img in (image, stopped):
        cloud.dev.ok('DELETE', '%s/images/%s' % (IMAGE, img['id']))
