"""Block Storage's ``os-extend`` through hvagent-api (real API, conductor,
scheduler and a fake-driver agent on RabbitMQ): an available volume's
file grows; an attached one grows as its instance's ``extend_volume``
action (the agent tells the guest); a volume never shrinks; only its
owner and admin may; a busy or suspended instance refuses it and the
size stays. The guest seeing the new size on real QEMU:
test_libvirt_lifecycle.py."""
import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
GiB = 1 << 30


@pytest.fixture(scope='module')
def world(api_cloud):
    admin = api_cloud.admin
    p, p2 = (cloudlib.create_project(admin, n) for n in ('vext', 'vext2'))
    who = {'admin': admin,
           'owner': api_cloud.add_user(p['id'], 'vext-dev', 'developer'),
           'dev2': api_cloud.add_user(p['id'], 'vext-dev2', 'developer'),
           'pm': api_cloud.add_user(p['id'], 'vext-pm', 'project_manager'),
           'netadmin': api_cloud.add_user(p['id'], 'vext-net', 'netadmin'),
           'other': api_cloud.add_user(p2['id'], 'vext-other',
                                       'developer')}
    return {'who': who, 'cloud': api_cloud}


def volumes(client):
    return cloudlib.volume_base(client) + '/volumes'


def new_volume(client, size=1):
    return client.ok('POST', volumes(client), json={'volume': {
        'name': 'vext', 'size': size}})['volume']


def extend(client, volume_id, body):
    return client.call('POST', '%s/%s/action' % (volumes(client),
                                                 volume_id), json=body)


def show(client, volume_id):
    return client.ok('GET', '%s/%s' % (volumes(client), volume_id))[
        'volume']


def test_an_available_volume_grows_its_file(world):
    owner = world['who']['owner']
    vol = new_volume(owner)
    path = world['cloud'].dep.state_path / 'volumes' / vol['id']
    assert path.stat().st_size == GiB
    r = extend(owner, vol['id'], {'os-extend': {'new_size': 3}})
    assert r.status_code == 202, r.text
    got = show(owner, vol['id'])
    assert (got['size'], got['status']) == (3, 'available')
    assert path.stat().st_size == 3 * GiB
    # not smaller, not the same; malformed bodies: clear 400s, no change
    for size in (3, 2):
        r = extend(owner, vol['id'], {'os-extend': {'new_size': size}})
        assert r.status_code == 400, r.text
        assert 'greater than current size (3 GiB)' in \
            r.json()['error']['message']
    for body in ({'os-extend': {}}, {'os-extend': {'new_size': 'big'}},
                 {'os-extend': {'new_size': 0}},
                 {'os-extend': {'new_size': 4, 'x': 1}},
                 {'os-frobnicate': {}}, {}, []):
        r = extend(owner, vol['id'], body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert 'Traceback' not in r.text
    assert show(owner, vol['id'])['size'] == 3
    assert path.stat().st_size == 3 * GiB
    owner.ok('DELETE', '%s/%s' % (volumes(owner), vol['id']))


def test_only_its_owner_and_admin_extend_a_volume(world):
    """Each caller at the URL of its own project: another project's
    user does not find it (404), the owner's project mates may not (403)."""
    who = world['who']
    vol = new_volume(who['owner'])
    size = 1
    for name in ('dev2', 'pm', 'netadmin', 'other', 'owner', 'admin'):
        r = extend(who[name], vol['id'], {'os-extend': {'new_size':
                                                        size + 1}})
        if name in ('owner', 'admin'):
            assert r.status_code == 202, (name, r.text)
            size += 1
        else:
            assert r.status_code == (404 if name == 'other' else 403), (
                name, r.status_code, r.text)
        assert show(who['owner'], vol['id'])['size'] == size, name
    who['owner'].ok('DELETE', '%s/%s' % (volumes(who['owner']), vol['id']))


def test_an_attached_volume_grows_as_its_instances_action(world):
    owner = world['who']['owner']
    sid = cloudlib.boot(owner, 'vext-1')
    cloudlib.wait_status(owner, sid, until=('active',))
    vol = new_volume(owner)
    attachments = '%s/servers/%s/os-volume_attachments' % (COMPUTE, sid)
    owner.ok('POST', attachments, json={'volumeAttachment': {
        'volumeId': vol['id']}})
    cloudlib.wait_status(owner, sid, until=('active',))
    r = extend(owner, vol['id'], {'os-extend': {'new_size': 2}})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(owner, sid, until=('active',))
    got = show(owner, vol['id'])
    assert (got['size'], got['status']) == (2, 'in-use')
    actions = owner.ok('GET', '%s/servers/%s/os-instance-actions' % (
        COMPUTE, sid))['instanceActions']
    assert actions[0]['action'] == 'extend_volume', actions
    wait_until(lambda: 'capacity changed to %d bytes' % (2 * GiB) in
               cloudlib.action(owner, sid, {'os-getConsoleOutput': {}})
               .json()['output'], 30, interval=0.2)
    # a suspended instance takes no extend: refused, nothing recorded
    assert cloudlib.action(owner, sid, {'suspend': None}).status_code == 202
    cloudlib.wait_status(owner, sid, until=('suspended',))
    r = extend(owner, vol['id'], {'os-extend': {'new_size': 3}})
    assert r.status_code == 409, r.text
    assert 'vm_state=suspended' in r.json()['error']['message']
    assert show(owner, vol['id'])['size'] == 2
    assert cloudlib.action(owner, sid, {'resume': None}).status_code == 202
    cloudlib.wait_status(owner, sid, until=('active',))
    owner.ok('DELETE', '%s/%s' % (attachments, vol['id']))
    cloudlib.wait_status(owner, sid, until=('active',))
    owner.ok('DELETE', '%s/%s' % (volumes(owner), vol['id']))
    owner.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
