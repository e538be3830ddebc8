"""Snapshots through hvagent-api (nova's ``{"createImage": {"name"}}``;
real API, conductor, scheduler and a fake-driver agent on RabbitMQ): the
server's disk becomes an active image of the caller's project, uploaded
by the server's own agent with the conductor's upload grant, and boots
a server; who may; what is refused (another project's server, bad
bodies, the images quota, a rescued server) records nothing; the upload
grant is the only way into a snapshot's data, and it opens only that
one. On real QEMU: test_libvirt_snapshot.py."""
import hashlib
import uuid

import pytest
import requests

from agent.security import bus_auth
from agent.security import image_grants
from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def world(api_cloud):
    project = cloudlib.create_project(api_cloud.admin, 'snap')
    other = cloudlib.create_project(api_cloud.admin, 'snap-other')
    return {'cloud': api_cloud, 'project': project,
            'dev': api_cloud.add_user(project['id'], 'snap-dev',
                                      'developer'),
            'dev2': api_cloud.add_user(project['id'], 'snap-dev2',
                                       'developer'),
            'netadmin': api_cloud.add_user(project['id'], 'snap-net',
                                           'netadmin'),
            'other': api_cloud.add_user(other['id'], 'snap-other',
                                        'developer')}


def create_image(client, sid, body):
    return cloudlib.action(client, sid, {'createImage': body})


def image(client, image_id):
    """The image as ``client`` sees it; None if not found."""
    r = client.call('GET', '%s/images/%s' % (IMAGE, image_id))
    assert r.status_code in (200, 404), r.text
    return r.json() if r.status_code == 200 else None


def wait_image(client, image_id):
    return wait_until(lambda: (lambda i: i if i['status'] == 'active'
                               else None)(image(client, image_id)), 60,
                      interval=0.1, message='the snapshot becoming active')


def actions(client, sid):
    return [a['action'] for a in client.ok(
        'GET', '%s/servers/%s/os-instance-actions' % (COMPUTE, sid))[
        'instanceActions']]


def images_of(client):
    return {i['id'] for i in client.ok('GET', IMAGE + '/images')['images']}


def test_a_snapshot_is_an_active_image_of_the_project_that_boots(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'snapped')
    srv = cloudlib.wait_status(dev, sid, until=('active',))
    r = create_image(dev, sid, {'name': 'snap-1'})
    assert r.status_code == 202 and not r.content, r.text
    image_id = r.headers['Location'].rsplit('/', 1)[1]
    assert r.headers['Location'] == '%s%s/images/%s' % (
        world['cloud'].url, IMAGE, image_id)
    img = wait_image(dev, image_id)
    data = ('hvagent fake snapshot of %s (%s)\n' % (
        sid, srv['image']['id'])).encode()
    assert (img['name'], img['owner'], img['visibility'], img['size'],
            img['disk_format'], img['os_hash_value'], img['instance_uuid'],
            img['image_type']) == (
        'snap-1', world['project']['id'], 'private', len(data), 'qcow2',
        hashlib.sha256(data).hexdigest(), sid, 'snapshot')
    assert dev.call('GET', '%s/images/%s/file' % (
        IMAGE, image_id)).content == data
    srv = cloudlib.wait_status(dev, sid, until=('active',))
    assert srv['OS-EXT-STS:task_state'] is None
    assert actions(dev, sid)[0] == 'snapshot'
    # it boots a server; another project neither sees nor boots it
    booted = cloudlib.boot(dev, 'from-snap', image=image_id)
    again = cloudlib.wait_status(dev, booted, until=('active',))
    assert again['image']['id'] == image_id
    assert image(world['other'], image_id) is None
    r = cloudlib.try_boot(world['other'], 'theirs', image=image_id)
    assert r.status_code == 404, r.text
    for server in (sid, booted):
        dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, server))


def test_stopped_and_suspended_servers_are_snapshotted_too(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'snap-stopped')
    cloudlib.wait_status(dev, sid, until=('active',))
    for action, state in (('os-stop', 'stopped'), ('os-start', 'active'),
                          ('suspend', 'suspended')):
        assert cloudlib.action(dev, sid, {action: None}).status_code == 202
        cloudlib.wait_status(dev, sid, until=(state,))
        if state == 'active':
            continue
        r = create_image(dev, sid, {'name': 'snap-' + state})
        assert r.status_code == 202, r.text
        wait_image(dev, r.headers['Location'].rsplit('/', 1)[1])
        assert cloudlib.vm_state(cloudlib.wait_status(
            dev, sid, until=(state,))) == state
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def test_what_a_snapshot_refuses_records_nothing(world):
    dev, cloud = world['dev'], world['cloud']
    sid = cloudlib.boot(dev, 'not-snapped')
    cloudlib.wait_status(dev, sid, until=('active',))
    before = images_of(dev)
    for client, body, status in (
            (dev, {}, 400),
            (dev, {'name': ''}, 400),
            (dev, {'name': 'x\x07'}, 400),
            (dev, {'name': 'x' * 256}, 400),
            (dev, {'name': 'x', 'metadata': {'a': 'b'}}, 400),
            (dev, {'name': 'x', 'adminPass': 'y'}, 400),
            (world['dev2'], {'name': 'x'}, 403),
            (world['netadmin'], {'name': 'x'}, 403),
            (world['other'], {'name': 'x'}, 404)):
        r = create_image(client, sid, body)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert 'Traceback' not in r.text
    # the images quota (the project's own images, not the public ones
    # every project lists): refused before anything is recorded
    limit = {'service_id': 'image', 'project_id': world['project']['id'],
             'resource_name': 'image_count_total'}
    own = dev.ok('GET', IMAGE + '/info/usage')['usage'][
        'image_count_total']['usage']
    cloud.admin.ok('POST', '/v3/limits', json={'limits': [
        dict(limit, resource_limit=own)]})
    try:
        r = create_image(dev, sid, {'name': 'over-quota'})
        assert r.status_code == 403 and 'images' in r.text, r.text
        assert images_of(dev) == before
    finally:
        cloud.admin.ok('POST', '/v3/limits', json={'limits': [
            dict(limit, resource_limit=-1)]})
    # a rescued server is not snapshotted (its root disk is the rescue's)
    assert cloudlib.action(dev, sid, {'rescue': None}).status_code == 200
    cloudlib.wait_status(dev, sid, until=('rescued',))
    r = create_image(dev, sid, {'name': 'rescued'})
    assert r.status_code == 409, r.text
    assert images_of(dev) == before
    assert 'snapshot' not in actions(dev, sid)
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def _put(cloud, image_id, headers):
    return requests.put('%s%s/images/%s/file' % (cloud.url, IMAGE, image_id),
                        data=b'not the disk', timeout=30, headers=dict(
                            headers, **{'Content-Type':
                                        'application/octet-stream'}))


def test_only_the_agent_with_its_grant_uploads_a_snapshot(world):
    """The agent is stopped while a snapshot is asked: the image waits,
    saving. Nobody else writes it - not its owner, not a grant for
    another image, instance or project, not a read grant. The server is
    deleted meanwhile: its saving image goes with it. (The fake driver
    forgets its guests when its agent stops; a restarted agent finishing
    a snapshot: test_agent_killed.py on libvirt.)"""
    dev, cloud = world['dev'], world['cloud']
    sid = cloudlib.boot(dev, 'snap-saving')
    cloudlib.wait_status(dev, sid, until=('active',))
    queued = dev.ok('POST', IMAGE + '/images', json={
        'name': 'queued', 'disk_format': 'raw', 'container_format': 'bare'})
    cloud.dep.stop('hvagent-compute')
    try:
        r = create_image(dev, sid, {'name': 'snap-saving'})
        assert r.status_code == 202, r.text
        image_id = r.headers['Location'].rsplit('/', 1)[1]
        assert image(dev, image_id)['status'] == 'saving'
        assert cloudlib.server(dev, sid)['OS-EXT-STS:task_state'] == \
            'image_snapshot'
        key = bus_auth.keyring()
        project = world['project']['id']

        def upload_grant(instance, image, project=project):
            return {image_grants.UPLOAD_HEADER: image_grants.issue_upload(
                key, instance, project, image, 'hvtest-node1')}
        for target, headers, status in (
                # its owner: a token does not write a snapshot's data
                (image_id, {'X-Auth-Token': dev.token}, 409),
                # a grant signed by this cloud for another instance
                (image_id, upload_grant(str(uuid.uuid4()), image_id), 409),
                # ... for this instance, into a user's queued image
                (queued['id'], upload_grant(sid, queued['id']), 409),
                # ... naming another image than the one written
                (image_id, upload_grant(sid, queued['id']), 401),
                # ... for another project
                (image_id, upload_grant(sid, image_id, 'elsewhere'), 404),
                # a read grant is no upload grant
                (image_id, {image_grants.UPLOAD_HEADER: image_grants.issue(
                    key, sid, project, [image_id], 'hvtest-node1')}, 401),
                (image_id, {image_grants.UPLOAD_HEADER: 'forged.grant'},
                 401)):
            r = _put(cloud, target, headers)
            assert r.status_code == status, (headers, r.status_code, r.text)
            assert 'Traceback' not in r.text
        assert image(dev, image_id)['status'] == 'saving'
        assert image(dev, queued['id'])['status'] == 'queued'
        dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
    finally:
        cloud.dep.start('hvagent-compute')
    wait_until(lambda: image(dev, image_id) is None, 60, interval=0.2,
               message='the saving image removed with its server')
    assert image(dev, queued['id'])['status'] == 'queued'
    dev.ok('DELETE', '%s/images/%s' % (IMAGE, queued['id']))


def test_a_snapshot_past_the_bytes_quota_fails_readably(world):
    """The images quota allows the image, its megabytes quota not its
    bytes: the API refuses the agent's upload, the snapshot fails, the
    image goes and the server runs on with the quota as its fault."""
    dev, cloud = world['dev'], world['cloud']
    sid = cloudlib.boot(dev, 'snap-too-big')
    cloudlib.wait_status(dev, sid, until=('active',))
    before = images_of(dev)
    limit = {'service_id': 'image', 'project_id': world['project']['id'],
             'resource_name': 'image_size_total'}
    cloud.admin.ok('POST', '/v3/limits', json={'limits': [
        dict(limit, resource_limit=0)]})
    try:
        r = create_image(dev, sid, {'name': 'too-big'})
        assert r.status_code == 202, r.text
        image_id = r.headers['Location'].rsplit('/', 1)[1]
        srv = cloudlib.wait_status(dev, sid, until=('active', 'error'))
        assert cloudlib.vm_state(srv) == 'active', srv
        wait_until(lambda: image(dev, image_id) is None, 30, interval=0.1,
                   message='the refused snapshot removed')
        assert images_of(dev) == before
        event = dev.ok('GET', '%s/servers/%s/os-instance-actions' % (
            COMPUTE, sid))['instanceActions'][0]
        assert event['action'] == 'snapshot'
        shown = dev.ok('GET', '%s/servers/%s/os-instance-actions/%s' % (
            COMPUTE, sid, event['request_id']))['instanceAction']
        assert [e['result'] for e in shown['events']] == ['Error'], shown
    finally:
        cloud.admin.ok('POST', '/v3/limits', json={'limits': [
            dict(limit, resource_limit=-1)]})
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
