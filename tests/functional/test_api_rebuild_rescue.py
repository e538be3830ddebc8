"""Rebuild and rescue through hvagent-api (nova's ``{"rebuild":
{"imageRef"}}``, ``{"rescue": ...}``, ``{"unrescue": null}``; real API,
conductor, scheduler and a fake-driver agent on RabbitMQ, the project's
network wired on this host): the same server - id, port, address - with
a new guest from another image, or booted from a rescue image and back;
who may; what is refused (another project's image, a suspended server,
malformed bodies) changes nothing. On real QEMU:
test_libvirt_lifecycle.py."""
import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.netns import skip_unless

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def world(api_cloud):
    skip_unless('nft', 'dnsmasq')
    for world in cloudlib.wired_project(api_cloud, 'rebuild'):
        world['dev2'] = api_cloud.add_user(world['project']['id'],
                                           'rebuild-dev2', 'developer')
        other = cloudlib.create_project(api_cloud.admin, 'rebuild-other')
        world['other'] = api_cloud.add_user(other['id'], 'rebuild-other',
                                            'developer')
        yield world


def rebuild(client, sid, body):
    return cloudlib.action(client, sid, body)


def test_rebuild_keeps_the_server_its_port_and_address(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'rebuilt', networks=['apilan'])
    before = cloudlib.wait_status(dev, sid, until=('active',))
    port = cloudlib.server_port(dev, sid)
    image = cloudlib.upload_image(dev, 'rebuild-img', b'\0' * 4096, 'raw')
    r = rebuild(dev, sid, {'rebuild': {'imageRef': image['id']}})
    assert r.status_code == 202, r.text
    assert r.json()['server']['id'] == sid
    after = cloudlib.wait_status(dev, sid, until=('active',))
    assert after['image']['id'] == image['id'] != before['image'].get('id')
    assert after['addresses'] == before['addresses'] != {}
    again = cloudlib.server_port(dev, sid)
    assert (again['id'], again['fixed_ips'], again['status']) == (
        port['id'], port['fixed_ips'], 'ACTIVE')
    actions = dev.ok('GET', '%s/servers/%s/os-instance-actions' % (
        COMPUTE, sid))['instanceActions']
    assert actions[0]['action'] == 'rebuild', actions
    # the guest is new: one boot banner on its console
    log = cloudlib.action(dev, sid, {'os-getConsoleOutput': {}}).json()[
        'output']
    assert log.count('fake-bios: booting') == 1, log
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def test_what_a_rebuild_refuses_changes_nothing(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'not-rebuilt')
    before = cloudlib.wait_status(dev, sid, until=('active',))
    theirs = cloudlib.upload_image(world['other'], 'theirs', b'\0' * 512,
                                   'raw')
    mine = cloudlib.upload_image(dev, 'mine', b'\0' * 512, 'raw')
    for client, body, status in (
            (dev, {'rebuild': {'imageRef': theirs['id']}}, 404),
            (dev, {'rebuild': {}}, 400),
            (dev, {'rebuild': {'imageRef': mine['id'], 'name': 'x'}}, 400),
            (dev, {'rebuild': {'imageRef': ''}}, 400),
            (dev, {'rebuild': None}, 400),
            (world['dev2'], {'rebuild': {'imageRef': mine['id']}}, 403),
            (world['netadmin'], {'rebuild': {'imageRef': mine['id']}}, 403),
            (world['other'], {'rebuild': {'imageRef': mine['id']}}, 404)):
        r = rebuild(client, sid, body)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert 'Traceback' not in r.text
    assert cloudlib.action(dev, sid, {'suspend': None}).status_code == 202
    cloudlib.wait_status(dev, sid, until=('suspended',))
    r = rebuild(dev, sid, {'rebuild': {'imageRef': mine['id']}})
    assert r.status_code == 409, r.text
    srv = cloudlib.server(dev, sid)
    assert srv['image'] == before['image'] and \
        cloudlib.vm_state(srv) == 'suspended'
    assert [a['action'] for a in dev.ok(
        'GET', '%s/servers/%s/os-instance-actions' % (COMPUTE, sid))[
        'instanceActions']] == ['suspend', 'create']
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def test_rescue_and_unrescue_keep_the_server(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'rescued', networks=['apilan'])
    before = cloudlib.wait_status(dev, sid, until=('active',))
    rescue_img = cloudlib.upload_image(dev, 'rescue-img', b'\0' * 512, 'raw')
    theirs = cloudlib.upload_image(world['other'], 'their-rescue',
                                   b'\0' * 512, 'raw')
    for client, body, status in (
            (dev, {'rescue': {'rescue_image_ref': theirs['id']}}, 404),
            (dev, {'rescue': {'adminPass': 'x'}}, 400),
            (dev, {'unrescue': None}, 409),          # not rescued
            (world['dev2'], {'rescue': None}, 403),
            (world['other'], {'rescue': None}, 404)):
        r = cloudlib.action(client, sid, body)
        assert r.status_code == status, (body, r.status_code, r.text)
    r = cloudlib.action(dev, sid, {'rescue': {
        'rescue_image_ref': rescue_img['id']}})
    assert (r.status_code, r.json()) == (200, {}), r.text
    srv = cloudlib.wait_status(dev, sid, until=('rescued',))
    assert srv['status'] == 'RESCUE'
    assert srv['addresses'] == before['addresses'] != {}
    log = cloudlib.action(dev, sid, {'os-getConsoleOutput': {}}).json()[
        'output']
    assert 'rescue: booting %s' % rescue_img['id'] in log
    r = cloudlib.action(dev, sid, {'rescue': None})     # rescued already
    assert r.status_code == 409, r.text
    assert cloudlib.action(dev, sid, {'unrescue': None}).status_code == 202
    srv = cloudlib.wait_status(dev, sid, until=('active',))
    assert srv['addresses'] == before['addresses']
    assert [a['action'] for a in dev.ok(
        'GET', '%s/servers/%s/os-instance-actions' % (COMPUTE, sid))[
        'instanceActions']][:2] == ['unrescue', 'rescue']
    # with no image: its own
    assert cloudlib.action(dev, sid, {'rescue': {}}).status_code == 200
    cloudlib.wait_status(dev, sid, until=('rescued',))
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
