"""Compute services over HTTP, nova's os-services shapes (before 2.53):
admins list them and disable or enable a host; everyone else gets 403;
a hostile reason is a 400 that says why; a disabled host takes no new
server (its fault says "down or disabled") until it is enabled again;
hvctl does the same through the API. Real hvagent-api, conductor,
scheduler and fake-driver agent on RabbitMQ (the session's api_cloud:
every test leaves its one host enabled)."""
import json
import time

import pytest

from tests.fixtures import api_cloud as cloudlib

pytestmark = pytest.mark.functional

COMPUTE = 'hvagent-compute'
hvctl = cloudlib.hvctl_api
#: [scheduler] host_state_refresh_interval (default): a scheduler sees a
#: disable at its next refresh, at most this long after it
REFRESH = 1.0


@pytest.fixture(scope='module')
def people(api_cloud):
    admin = api_cloud.admin
    p = admin.ok('POST', '/v3/projects', json={'project': {'name': 'svc'}})['project']
    return {'admin': admin,
            'member': api_cloud.add_user(p['id'], 'svcdev', 'developer'),
            'project admin': api_cloud.add_user(p['id'], 'svcpm',
                                                'project_manager'),
            'reader': api_cloud.add_user(p['id'], 'svcsec', 'itsec'),
            'project': p}


@pytest.fixture
def host(api_cloud):
    """The cloud's compute host; enabled again after the test."""
    name = api_cloud.dep.host
    yield name
    api_cloud.admin.ok('PUT', '/compute/v2.1/os-services/enable',
                       json={'host': name, 'binary': COMPUTE})


def services(client, **params):
    return client.ok('GET', '/compute/v2.1/os-services', params=params)['services']


def test_admins_list_in_nova_shapes(people, host):
    listed = services(people['admin'])
    assert {s['binary'] for s in listed} >= {
        COMPUTE, 'hvagent-conductor', 'hvagent-scheduler'}
    (svc,) = services(people['admin'], host=host, binary=COMPUTE)
    # nova 2.1's fields (forced_down came with 2.11)
    assert set(svc) == {'id', 'binary', 'host', 'zone', 'status', 'state',
                        'updated_at', 'disabled_reason'}
    assert (svc['host'], svc['status'], svc['state'],
            svc['disabled_reason']) == (host, 'enabled', 'up', None)
    assert isinstance(svc['id'], int) and svc['updated_at']
    controllers = [s for s in listed if s['binary'] != COMPUTE]
    assert {s['zone'] for s in controllers} == {'internal'}
    assert svc['zone'] == 'nova'       # its host names no zone
    assert services(people['admin'], host='no-such-host') == []


@pytest.mark.parametrize('who', ['member', 'project admin', 'reader'])
def test_no_one_else_lists_or_disables(people, host, who):
    client = people[who]
    for method, path, body in (
            ('GET', '/compute/v2.1/os-services', None),
            ('PUT', '/compute/v2.1/os-services/disable',
             {'host': host, 'binary': COMPUTE}),
            ('PUT', '/compute/v2.1/os-services/disable-log-reason',
             {'host': host, 'binary': COMPUTE, 'disabled_reason': 'mine'}),
            ('PUT', '/compute/v2.1/os-services/enable',
             {'host': host, 'binary': COMPUTE})):
        r = client.call(method, path, json=body)
        assert r.status_code == 403, (who, path, r.text)
        assert r.json()['error']['message'].startswith(
            'Policy does not allow service:')
    (svc,) = services(people['admin'], host=host, binary=COMPUTE)
    assert svc['status'] == 'enabled'


@pytest.mark.parametrize('body, status, message', [
    ({'disabled_reason': 'down\x1b[2J\x1b[Hfor disks'}, 400,
     'body.disabled_reason: Value error, contains the non-printable '
     'character U+001B at position 4'),
    ({'disabled_reason': 'x' * 10000}, 400,
     'body.disabled_reason: String should have at most 255 characters'),
    ({'disabled_reason': 'two\nlines'}, 400, 'U+000A at position 3'),
    ({'disabled_reason': ''}, 400, 'at least 1 character'),
    ({}, 400, 'body.disabled_reason: Field required'),
    ({'disabled_reason': 'ok', 'forced_down': True}, 400,
     'body.forced_down: Extra inputs are not permitted'),
    ({'disabled_reason': 'ok', 'host': 'nowhere'}, 404,
     'Service hvagent-compute on host nowhere could not be found'),
    ({'disabled_reason': 'ok', 'binary': 'hvagent-conductor'}, 400,
     'Only hvagent-compute services can be disabled or enabled, not '
     'hvagent-conductor'),
    ({'disabled_reason': 'ok', 'host': 'evil\x00host'}, 400,
     'body.host: String should match pattern'),
])
def test_hostile_or_wrong_input_gets_one_clear_line(people, host, body,
                                                    status, message):
    full = dict({'host': host, 'binary': COMPUTE}, **body)
    r = people['admin'].call('PUT', '/compute/v2.1/os-services/disable-log-reason',
                             json=full)
    assert r.status_code == status, r.text
    text = r.json()['error']['message']
    assert message in text and '\n' not in text and len(text) < 300, text
    (svc,) = services(people['admin'], host=host, binary=COMPUTE)
    assert (svc['status'], svc['disabled_reason']) == ('enabled', None)


def boot(client, name):
    """The new server (nova's view) once its boot is done."""
    return cloudlib.wait_status(client, cloudlib.boot(client, name))


def host_of(srv, admin):
    """The host of a server (shown to admin)."""
    return cloudlib.server(admin, srv['id'])['OS-EXT-SRV-ATTR:host']


def test_a_disabled_host_takes_no_new_server(people, host):
    admin, member = people['admin'], people['member']
    out = admin.ok('PUT', '/compute/v2.1/os-services/disable-log-reason', json={
        'host': host, 'binary': COMPUTE,
        'disabled_reason': 'Ersatzteile fehlen — RAM tauschen'})
    assert out == {'service': {
        'host': host, 'binary': COMPUTE, 'status': 'disabled',
        'disabled_reason': 'Ersatzteile fehlen — RAM tauschen'}}
    (svc,) = services(admin, host=host, binary=COMPUTE)
    assert (svc['status'], svc['disabled_reason']) == (
        'disabled', 'Ersatzteile fehlen — RAM tauschen')
    time.sleep(REFRESH + 0.5)       # the schedulers' caches refresh
    srv = boot(member, 'nowhere')
    assert (cloudlib.vm_state(srv), srv['status']) == ('error', 'ERROR')
    assert host_of(srv, admin) is None
    assert srv['fault']['message'].startswith('No valid host'), srv
    assert 'down or disabled' in srv['fault']['message'], srv
    member.ok('DELETE', '%s/servers/%s' % (cloudlib.COMPUTE, srv['id']))
    # plain disable: no reason; enable: placement resumes at once
    assert admin.ok('PUT', '/compute/v2.1/os-services/disable', json={
        'host': host, 'binary': COMPUTE}) == {'service': {
            'host': host, 'binary': COMPUTE, 'status': 'disabled'}}
    assert admin.ok('PUT', '/compute/v2.1/os-services/enable', json={
        'host': host, 'binary': COMPUTE}) == {'service': {
            'host': host, 'binary': COMPUTE, 'status': 'enabled'}}
    srv = boot(member, 'somewhere')
    assert (cloudlib.vm_state(srv), host_of(srv, admin)) == ('active', host)
    member.ok('DELETE', '%s/servers/%s' % (cloudlib.COMPUTE, srv['id']))


def test_hvctl_through_the_api(api_cloud, people, host, tmp_path):
    hvctl(api_cloud, tmp_path, 'login', '--user', 'admin')
    shown = json.loads(hvctl(api_cloud, tmp_path, '--json', 'host-disable',
                             host, '--reason', 'new disks').stdout)
    assert shown == {'host': host, 'binary': COMPUTE, 'status': 'disabled',
                     'disabled_reason': 'new disks'}
    table = hvctl(api_cloud, tmp_path, 'host-list').stdout
    assert [line for line in table.splitlines() if host in line and
            COMPUTE in line and '| disabled | new disks |' in line], table
    out = hvctl(api_cloud, tmp_path, 'host-enable', host).stdout
    assert '| status          | enabled ' in out
    bad = hvctl(api_cloud, tmp_path, 'host-disable', host, '--reason',
                'bell\x07', check=False)
    assert bad.returncode == 1 and 'U+0007 at position 4' in bad.stderr \
        and '(HTTP 400' in bad.stderr and 'Traceback' not in bad.stderr
    member = tmp_path / 'member'
    hvctl(api_cloud, member, 'login', '--user', 'svcdev')
    refused = hvctl(api_cloud, member, 'host-disable', host, check=False)
    assert refused.returncode == 1
    assert 'Policy does not allow service:update (HTTP 403' in \
        refused.stderr
    (svc,) = services(people['admin'], host=host, binary=COMPUTE)
    assert svc['status'] == 'enabled'
