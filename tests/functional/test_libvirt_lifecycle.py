"""The rest of the lifecycle on real QEMU guests (the test image) through
hvagent-api (docs/lifecycle.md):

- suspend and resume: the guest's memory goes to libvirt's managed save
  file and the host's vCPUs and RAM to the scheduler, which places
  another guest into them; the resume of a guest whose room was taken is
  refused (409, it stays suspended) until there is room again; the guest
  goes on where it was (no new ``booted`` line), across an agent restart
  meanwhile;
- volume extend: an attached volume grows and the running guest sees
  its new size (the test image prints its disks' sizes every second);
- rebuild: a new root disk and a new boot for the same server, its
  volume attached again;
- rescue: the guest boots from the rescue image and sees its own root
  disk as its second disk; unrescued, it boots from its own again.

The host is made small with ``[compute] reserved_host_memory_mb``: room
for one m1.tiny (512 MiB) and not two."""
import os

import libvirt
import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import guest_image
from tests.fixtures import libvirt_cloud as lvcloud
from tests.fixtures import libvirtd
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
#: what the host has for guests: one m1.tiny
ROOM_MB = 800


def host_memory_mb():
    conn = libvirt.open(libvirtd.URI)
    try:
        return conn.getInfo()[1]
    finally:
        conn.close()


def console_log(client, sid):
    return cloudlib.action(client, sid, {'os-getConsoleOutput': {}}).json(
        ).get('output', '')


def ram_used(admin):
    [h] = admin.ok('GET', COMPUTE + '/os-hypervisors/detail')['hypervisors']
    return h['memory_mb_used']


def used(admin):
    """(vCPUs, MiB of RAM, GiB of disk) claimed on the host."""
    [h] = admin.ok('GET', COMPUTE + '/os-hypervisors/detail')['hypervisors']
    return h['vcpus_used'], h['memory_mb_used'], h['local_gb_used']


def domain(uuid):
    conn = libvirt.open(libvirtd.URI)
    try:
        dom = conn.lookupByUUIDString(uuid)
        return dom.state()[0], bool(dom.hasManagedSaveImage(0))
    finally:
        conn.close()


def delete(world, sid):
    """Delete the server and wait for its room back: the host has room
    for one guest, the next test's boot needs it."""
    world['dev'].ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
    wait_until(lambda: used(world['cloud'].admin) == (0, 0, 0), 60,
               interval=0.2, message=lambda: used(world['cloud'].admin))


def domain_gone(uuid):
    conn = libvirt.open(libvirtd.URI)
    try:
        conn.lookupByUUIDString(uuid)
        return False
    except libvirt.libvirtError:
        return True
    finally:
        conn.close()


def running_log(client, sid):
    """The console log once the guest has printed two more status lines
    (it runs) since now."""
    before = console_log(client, sid).count('hvagent-test-guest disks:')
    return wait_until(lambda: (lambda log: log if log.count(
        'hvagent-test-guest disks:') >= before + 2 else None)(
        console_log(client, sid)), 60, interval=0.5,
        message=lambda: console_log(client, sid)[-2000:])


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    libvirtd.require_libvirtd()
    reserved = host_memory_mb() - ROOM_MB
    with lvcloud.running(tmp_path_factory.mktemp('lifecycle-lv'), extra={
            'compute': {'reserved_host_memory_mb': reserved}}) as cloud:
        p = cloudlib.create_project(cloud.admin, 'susp')
        dev = cloud.add_user(p['id'], 'susp-dev', 'developer')
        image, _, _ = lvcloud.guest_images(lvcloud.api_upload(dev,
                                                              cloud.image))
        yield {'cloud': cloud, 'dev': dev, 'image': image}


def test_suspend_gives_the_room_to_others_and_resume_goes_on(world):
    cloud, dev, image = world['cloud'], world['dev'], world['image']
    admin = cloud.admin
    sid = cloudlib.boot(dev, 'susp-1', image=image)
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
    running_log(dev, sid)
    assert ram_used(admin) == 512
    # the host is full: a second guest finds no room
    full = cloudlib.boot(dev, 'susp-full', image=image)
    srv = cloudlib.wait_status(dev, full, until=('error',), timeout=60)
    assert 'No valid host' in srv['fault']['message'], srv['fault']
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, full))

    assert cloudlib.action(dev, sid, {'suspend': None}).status_code \
        == 202
    srv = cloudlib.wait_status(dev, sid, until=('suspended',),
                               timeout=120)
    assert (srv['status'], srv['OS-EXT-STS:power_state']) == \
        ('SUSPENDED', 4)
    assert domain(sid) == (libvirt.VIR_DOMAIN_SHUTOFF, True)
    assert used(admin) == (0, 0, 1)     # its disk stays claimed

    # an agent restart leaves it suspended (not started, not stopped)
    assert cloud.dep.stop('hvagent-compute') == {'hvagent-compute': 0}
    cloud.dep.start('hvagent-compute')
    cloud.dep.ready('hvagent-compute')
    assert cloudlib.vm_state(cloudlib.server(dev, sid)) == 'suspended'
    assert domain(sid) == (libvirt.VIR_DOMAIN_SHUTOFF, True)

    # the scheduler places another guest in the room it gave up
    other = cloudlib.boot(dev, 'susp-2', image=image)
    cloudlib.wait_status(dev, other, until=('active',), timeout=120)
    r = cloudlib.action(dev, sid, {'resume': None})
    assert r.status_code == 409, r.text
    assert 'has not the 1 vCPUs and 512 MiB of RAM free' in \
        r.json()['error']['message']
    assert cloudlib.vm_state(cloudlib.server(dev, sid)) == 'suspended'
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, other))
    wait_until(lambda: ram_used(admin) == 0, 60, interval=0.2)

    assert cloudlib.action(dev, sid, {'resume': None}).status_code \
        == 202
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
    assert domain(sid) == (libvirt.VIR_DOMAIN_RUNNING, False)
    assert ram_used(admin) == 512
    log = running_log(dev, sid)
    assert guest_image.booted_uuids(log) == [sid]   # no second boot
    actions = dev.ok('GET', '%s/servers/%s/os-instance-actions'
                     % (COMPUTE, sid))['instanceActions']
    assert [a['action'] for a in actions][:2] == ['resume', 'suspend']
    # deleted while suspended: the domain and its save file go, the
    # claim is released once (its RAM was given back already)
    assert cloudlib.action(dev, sid, {'suspend': None}).status_code \
        == 202
    cloudlib.wait_status(dev, sid, until=('suspended',), timeout=120)
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
    wait_until(lambda: domain_gone(sid), 60, interval=0.2)
    wait_until(lambda: used(admin) == (0, 0, 0), 60, interval=0.2,
               message=lambda: used(admin))


def test_an_attached_volume_grows_the_guest_sees_it_and_a_rebuild_keeps_it(
        world):
    dev, image = world['dev'], world['image']
    sid = cloudlib.boot(dev, 'vext-lv', image=image)
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
    running_log(dev, sid)
    base = cloudlib.volume_base(dev) + '/volumes'
    vol = dev.ok('POST', base, json={'volume': {'name': 'grown',
                                                'size': 1}})['volume']
    attachments = '%s/servers/%s/os-volume_attachments' % (COMPUTE, sid)
    dev.ok('POST', attachments, json={'volumeAttachment': {
        'volumeId': vol['id']}})
    cloudlib.wait_status(dev, sid, until=('active',), timeout=60)

    def vdb():
        return (guest_image.last_disk_sizes(console_log(dev, sid))
                or {}).get('vdb')
    wait_until(lambda: vdb() == 1 << 30, 60, interval=0.5,
               message=lambda: console_log(dev, sid)[-1500:])
    r = dev.call('POST', '%s/%s/action' % (base, vol['id']),
                 json={'os-extend': {'new_size': 3}})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(dev, sid, until=('active',), timeout=60)
    wait_until(lambda: vdb() == 3 << 30, 60, interval=0.5,
               message=lambda: console_log(dev, sid)[-1500:])
    assert dev.ok('GET', '%s/%s' % (base, vol['id']))['volume']['size'] == 3
    assert guest_image.booted_uuids(console_log(dev, sid)) == [sid]

    # rebuilt: a new root disk (overlay) and a new boot, the volume there
    home = os.path.join(world['cloud'].state, 'instances', sid)
    marker = os.path.join(home, 'left-by-the-test')
    open(marker, 'w').close()
    r = cloudlib.action(dev, sid, {'rebuild': {'imageRef': image}})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
    # its files were made anew (the old ones went with the marker)
    assert os.path.exists(os.path.join(home, 'disk'))
    assert not os.path.exists(marker)
    wait_until(lambda: vdb() == 3 << 30, 90, interval=0.5,
               message=lambda: console_log(dev, sid)[-1500:])
    assert guest_image.booted_uuids(console_log(dev, sid)) == [sid]
    dev.ok('DELETE', '%s/%s' % (attachments, vol['id']))
    cloudlib.wait_status(dev, sid, until=('active',), timeout=60)
    dev.ok('DELETE', '%s/%s' % (base, vol['id']))
    delete(world, sid)


def test_rescue_shows_the_own_disk_second_and_unrescue_boots_it(world):
    dev, image = world['dev'], world['image']
    sid = cloudlib.boot(dev, 'rescue-lv', image=image)
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)

    def sizes(wanted):
        """The guest's disks and their sizes once they are ``wanted``."""
        return wait_until(lambda: guest_image.last_disk_sizes(
            console_log(dev, sid)) == wanted, 120, interval=0.5,
            message=lambda: console_log(dev, sid)[-1500:])
    own = {'vda': 1 << 30}
    sizes(own)
    r = cloudlib.action(dev, sid, {'rescue': {'rescue_image_ref': image}})
    assert r.status_code == 200, r.text
    cloudlib.wait_status(dev, sid, until=('rescued',), timeout=120)
    # the rescue disk (the image's own size) first, the own disk second
    sizes({'vda': 64 << 20, 'vdb': 1 << 30})
    assert cloudlib.action(dev, sid, {'unrescue': None}).status_code == 202
    cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
    sizes(own)
    assert not os.path.exists(os.path.join(
        world['cloud'].state, 'instances', sid, 'disk.rescue'))
    assert guest_image.booted_uuids(console_log(dev, sid))[-1] == sid
    delete(world, sid)
