"""The OpenStack clients against a real hvagent-api (its conductor,
scheduler and agent on RabbitMQ): python-openstackclient's ``openstack``
command and openstacksdk, unmodified, from PyPI (the test extra), with a
clouds.yaml as a user writes one. Identity v3: version discovery,
password log-in in the Default domain, the service catalog, token
validation and revocation; projects, users, roles and role assignments
as an admin makes them; and what a hostile user tries with them."""
import json

import pytest
import requests

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import openstack_cli as oscli
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def users(api_cloud):
    """Two projects, a developer in each."""
    out = {}
    for name in ('os-blue', 'os-red'):
        project = cloudlib.create_project(api_cloud.admin, name)
        api_cloud.add_user(project['id'], name + '-dev', 'developer')
        out[name] = project
    return out


@pytest.fixture(scope='module')
def clouds(api_cloud, users, tmp_path_factory):
    """A clouds.yaml with a cloud per user; the environment to use it."""
    def cloud(user, project, **extra):
        return oscli.cloud_entry(api_cloud, user, project, **extra)
    return oscli.environment(tmp_path_factory.mktemp('openstack-home'), {
        'admin': cloud('admin', 'admin'),
        'blue': cloud('os-blue-dev', 'os-blue'),
        'blue-wrong-password': cloud('os-blue-dev', 'os-blue',
                                     password='not the password'),
        'blue-in-red': cloud('os-blue-dev', 'os-red'),
        'blue-other-domain': cloud('os-blue-dev', 'os-blue',
                                   user_domain_name='Elsewhere'),
        'green': cloud('os-green-dev', 'os-green'),
        'red': cloud('os-red-dev', 'os-red'),
    })


openstack, as_json, _image = oscli.openstack, oscli.as_json, oscli.image


def test_token_issue_and_catalog(api_cloud, users, clouds):
    # the installed command, as a shell runs it (the other tests run its
    # entry point in one process: tests.fixtures.osc_runner)
    token = json.loads(oscli.openstack_process(
        clouds, 'blue', 'token', 'issue', '-f', 'json').stdout)
    assert token['project_id'] == users['os-blue']['id']
    assert token['id'] and token['user_id'] and token['expires']
    catalog = as_json(clouds, 'blue', 'catalog', 'list')
    (identity,) = [s for s in catalog if s['Type'] == 'identity']
    shown = json.dumps(identity['Endpoints'])
    assert api_cloud.url + '/v3' in shown and 'RegionOne' in shown
    # the token works on hvagent's own resources too
    client = cloudlib.Client(api_cloud.url, token['id'])
    assert client.ok('GET', '/v3/auth/tokens')['token']['project'][
        'name'] == 'os-blue'


@pytest.mark.parametrize('cloud', ['blue-wrong-password', 'blue-in-red',
                                   'blue-other-domain'])
def test_refused_log_ins(clouds, cloud):
    """A wrong password, a project the user has no role in, a domain
    that is not there: 401, no token, no traceback."""
    proc = openstack(clouds, cloud, 'token', 'issue', check=False)
    assert proc.returncode != 0
    assert 'HTTP 401' in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr


def test_token_revoke(api_cloud, clouds):
    token = as_json(clouds, 'blue', 'token', 'issue')['id']
    client = cloudlib.Client(api_cloud.url, token)
    client.ok('GET', cloudlib.COMPUTE + '/flavors')
    openstack(clouds, 'blue', 'token', 'revoke', token)
    r = client.call('GET', cloudlib.COMPUTE + '/flavors')
    assert r.status_code == 401 and 'revoked' in r.json()['error']['message']


def test_another_users_token_is_admins_to_check(api_cloud, clouds):
    """X-Subject-Token: a developer may not validate or revoke another
    user's token (403; theirs stays valid); admin may (200, then 204)."""
    blue = as_json(clouds, 'blue', 'token', 'issue')['id']
    red = api_cloud.login('os-red-dev')
    for method in ('GET', 'HEAD', 'DELETE'):
        r = red.call(method, '/v3/auth/tokens',
                     headers={'X-Subject-Token': blue})
        assert r.status_code == 403, (method, r.status_code, r.text)
    shown = api_cloud.admin.ok('GET', '/v3/auth/tokens',
                               headers={'X-Subject-Token': blue})['token']
    assert shown['user']['name'] == 'os-blue-dev'
    assert shown['project']['name'] == 'os-blue'
    assert api_cloud.admin.call('HEAD', '/v3/auth/tokens', headers={
        'X-Subject-Token': 'garbage'}).status_code == 404
    api_cloud.admin.ok('DELETE', '/v3/auth/tokens',
                       headers={'X-Subject-Token': blue})
    assert cloudlib.Client(api_cloud.url, blue).call(
        'GET', cloudlib.COMPUTE + '/flavors').status_code == 401


def test_version_discovery(api_cloud):
    r = requests.get(api_cloud.url + '/', timeout=30)
    assert r.status_code == 300
    (v3,) = r.json()['versions']['values']
    assert v3['id'].startswith('v3.') and v3['status'] == 'stable'
    r = requests.get(api_cloud.url + '/v3', timeout=30)
    assert r.status_code == 200
    assert r.json()['version']['links'][0]['href'] == api_cloud.url + '/v3/'
    assert r.headers['X-OpenStack-Request-Id'].startswith('req-')


def test_openstacksdk_logs_in(api_cloud, users, clouds):
    conn = oscli.sdk(api_cloud, 'os-red-dev', 'os-red')
    try:
        assert conn.current_project_id == users['os-red']['id']
        assert conn.session.get_endpoint(
            service_type='identity', interface='public') == \
            api_cloud.url + '/v3'
    finally:
        conn.close()


def test_admin_makes_a_project_and_its_user(api_cloud, clouds):
    """As an operator does it with keystone: project create, user
    create, role add (keystone's ``member``: the seed's developer); the
    user logs in; role remove, and the log-in is refused."""
    project = as_json(clouds, 'admin', 'project', 'create', 'os-green')
    assert project['domain_id'] == 'default' and project['enabled']
    user = as_json(clouds, 'admin', 'user', 'create', '--project',
                   'os-green', '--password', cloudlib.PASSWORD,
                   'os-green-dev')
    assert user['default_project_id'] == project['id']
    # no role yet: no log-in
    assert openstack(clouds, 'green', 'token', 'issue',
                     check=False).returncode != 0
    openstack(clouds, 'admin', 'role', 'add', '--project', 'os-green',
              '--user', 'os-green-dev', 'member')
    assert as_json(clouds, 'green', 'token', 'issue')['project_id'] == \
        project['id']
    listed = as_json(clouds, 'admin', 'role', 'assignment', 'list',
                     '--project', 'os-green', '--names')
    assert [(a['Role'], a['User']) for a in listed] == [
        ('developer', 'os-green-dev@Default')]
    roles = {r['Name'] for r in as_json(clouds, 'admin', 'role', 'list')}
    assert {'admin', 'developer', 'member', 'netadmin'} <= roles
    assert 'os-green-dev' in {u['Name'] for u in as_json(
        clouds, 'admin', 'user', 'list')}
    assert [p['Name'] for p in as_json(
        clouds, 'green', 'project', 'list', '--my-projects')] == ['os-green']
    openstack(clouds, 'admin', 'role', 'remove', '--project', 'os-green',
              '--user', 'os-green-dev', 'member')
    proc = openstack(clouds, 'green', 'token', 'issue', check=False)
    assert 'HTTP 401' in proc.stderr, proc.stderr
    # and away: the user, then the (empty) project, in the one domain
    assert as_json(clouds, 'admin', 'domain', 'show', 'Default')['id'] == \
        'default'
    openstack(clouds, 'admin', 'user', 'delete', 'os-green-dev')
    openstack(clouds, 'admin', 'project', 'delete', 'os-green')
    assert 'os-green' not in {p['Name'] for p in as_json(
        clouds, 'admin', 'project', 'list')}


def test_a_developer_cannot_reach_other_projects_or_raise_itself(
        api_cloud, users, clouds):
    """os-blue's developer: sees its own project's users only; another
    project, its users and its assignments are not there (404) or
    refused; it may not make users or grant itself admin."""
    names = {u['Name'] for u in as_json(clouds, 'blue', 'user', 'list')}
    assert names == {'os-blue-dev'}
    for args in (('project', 'show', 'os-red'),
                 ('user', 'show', 'os-red-dev'),
                 ('role', 'assignment', 'list', '--project', 'os-red'),
                 ('user', 'create', '--project', 'os-blue', '--password',
                  cloudlib.PASSWORD, 'blue-sock-puppet'),
                 ('project', 'create', 'blue-empire')):
        proc = openstack(clouds, 'blue', *args, check=False)
        assert proc.returncode != 0, args
        assert 'Traceback' not in proc.stderr, proc.stderr
    # openstacksdk does not raise when a grant is refused (the client
    # exits 0 on our 403): what counts is that nothing was granted
    for role in ('admin', 'manager', 'itsec'):
        openstack(clouds, 'blue', 'role', 'add', '--project', 'os-blue',
                  '--user', 'os-blue-dev', role, check=False)
        r = cloudlib.Client(api_cloud.url, as_json(
            clouds, 'blue', 'token', 'issue')['id']).call(
            'PUT', '/v3/projects/%s/users/os-blue-dev/roles/%s'
            % (users['os-blue']['id'], role))
        assert r.status_code == 403, r.text
    mine = as_json(clouds, 'blue', 'role', 'assignment', 'list', '--names')
    assert {(a['Role'], a['User'], a['Project']) for a in mine} == {
        ('developer', 'os-blue-dev@Default', 'os-blue@Default')}
    # nothing changed: still a developer of os-blue, and only that
    token = cloudlib.Client(api_cloud.url, as_json(
        clouds, 'blue', 'token', 'issue')['id'])
    assert [r['name'] for r in token.ok('GET', '/v3/auth/tokens')[
        'token']['roles']] == ['developer']
    assert 'blue-sock-puppet' not in {u['name'] for u in api_cloud.admin.ok(
        'GET', '/v3/users')['users']}


def test_a_server_through_compute_and_image(api_cloud, users, clouds,
                                            tmp_path):
    """The everyday flow with the fake driver: upload an image, make a
    key pair, ``server create --wait``, list and show it, stop, start,
    reboot (soft and hard), pause, unpause, suspend, resume, rebuild,
    rescue, unrescue, snapshot (``server image create --wait``), read its
    console log and its actions (``server
    event list``, ``show``),
    ``server delete --wait``; os-red's developer meanwhile reaches none
    of it."""
    disk = tmp_path / 'tiny.img'
    disk.write_bytes(b'\0' * 65536)
    image = as_json(clouds, 'blue', 'image', 'create', '--file', str(disk),
                    '--disk-format', 'raw', '--container-format', 'bare',
                    'blue-img')
    assert image['status'] == 'active' and image['size'] == 65536
    assert 'blue-img' in {i['Name'] for i in as_json(
        clouds, 'blue', 'image', 'list')}
    flavors = {f['Name']: f for f in as_json(clouds, 'blue', 'flavor',
                                              'list')}
    assert 'm1.tiny' in flavors
    key = openstack(clouds, 'blue', 'keypair', 'create', 'blue-key').stdout
    assert 'PRIVATE KEY' in key
    server = as_json(clouds, 'blue', 'server', 'create', '--image',
                     'blue-img', '--flavor', 'm1.tiny', '--key-name',
                     'blue-key', '--wait', 'blue-vm')
    assert server['status'] == 'ACTIVE', server
    sid = server['id']
    assert [s['Name'] for s in as_json(clouds, 'blue', 'server',
                                       'list')] == ['blue-vm']
    shown = as_json(clouds, 'blue', 'server', 'show', 'blue-vm')
    assert (shown['status'], shown['key_name']) == ('ACTIVE', 'blue-key')
    assert shown['flavor'].startswith('m1.tiny'), shown
    assert shown['project_id'] == users['os-blue']['id'], shown
    # os-red's developer: none of it is there
    for args in (('server', 'show', sid), ('server', 'delete', sid),
                 ('server', 'stop', sid),
                 ('server', 'rebuild', '--image', image['id'], sid),
                 ('console', 'log', 'show', sid),
                 ('image', 'show', image['id']),
                 ('server', 'create', '--image', image['id'], '--flavor',
                  'm1.tiny', 'red-steals')):
        proc = openstack(clouds, 'red', *args, check=False)
        assert proc.returncode != 0, (args, proc.stdout)
        assert 'Traceback' not in proc.stderr, proc.stderr
    assert as_json(clouds, 'red', 'server', 'list') == []

    def status():
        return as_json(clouds, 'blue', 'server', 'show', sid)['status']

    def settles(want):
        wait_until(lambda: status() == want, 60, interval=0.5,
                   message=status)

    openstack(clouds, 'blue', 'server', 'stop', sid)
    settles('SHUTOFF')
    openstack(clouds, 'blue', 'server', 'start', sid)
    settles('ACTIVE')
    openstack(clouds, 'blue', 'server', 'reboot', '--wait', sid)
    openstack(clouds, 'blue', 'server', 'reboot', '--hard', '--wait', sid)
    assert status() == 'ACTIVE'
    openstack(clouds, 'blue', 'server', 'pause', sid)
    settles('PAUSED')
    openstack(clouds, 'blue', 'server', 'unpause', sid)
    settles('ACTIVE')
    openstack(clouds, 'blue', 'server', 'suspend', sid)
    settles('SUSPENDED')
    openstack(clouds, 'blue', 'server', 'resume', sid)
    settles('ACTIVE')
    openstack(clouds, 'blue', 'server', 'rebuild', '--image', 'blue-img',
              '--wait', sid)
    assert status() == 'ACTIVE'
    openstack(clouds, 'blue', 'server', 'rescue', '--image', 'blue-img', sid)
    settles('RESCUE')
    openstack(clouds, 'blue', 'server', 'unrescue', sid)
    settles('ACTIVE')
    # a snapshot: the client follows the image (Location) until active
    snap = as_json(clouds, 'blue', 'server', 'image', 'create', '--name',
                   'blue-snap', '--wait', sid)
    assert (snap['name'], snap['status']) == ('blue-snap', 'active'), snap
    shown = as_json(clouds, 'blue', 'image', 'show', 'blue-snap')
    assert shown['owner'] == users['os-blue']['id'], shown
    proc = openstack(clouds, 'red', 'server', 'image', 'create', '--name',
                     'red-snap', sid, check=False)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    openstack(clouds, 'blue', 'image', 'delete', 'blue-snap')
    openstack(clouds, 'blue', 'console', 'log', 'show', sid)
    # os-instance-actions: what was done to it, newest first
    events = as_json(clouds, 'blue', 'server', 'event', 'list', sid)
    done = [e['Action'] for e in events]
    assert done[-1] == 'create' and {'stop', 'start', 'reboot', 'pause',
                                      'unpause', 'suspend', 'resume',
                                      'rebuild', 'rescue', 'unrescue',
                                      'snapshot'} <= set(done), events
    event = as_json(clouds, 'blue', 'server', 'event', 'show', sid,
                    events[-1]['Request ID'])
    assert event['action'] == 'create' and event['events'], event
    assert all(e['traceback'] is None for e in event['events']), event
    proc = openstack(clouds, 'red', 'server', 'event', 'list', sid,
                     check=False)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    openstack(clouds, 'blue', 'server', 'delete', '--wait', sid)
    assert as_json(clouds, 'blue', 'server', 'list') == []
    openstack(clouds, 'blue', 'keypair', 'delete', 'blue-key')
    openstack(clouds, 'blue', 'image', 'delete', image['id'])


def test_hosts_services_zones_quotas_and_limits(api_cloud, users, clouds):
    """What an operator and a user look at: hypervisor list, compute
    service list, availability zones, quota show and set, limits; a
    developer sees its own quota and limits and nothing of the hosts."""
    hosts = as_json(clouds, 'admin', 'hypervisor', 'list')
    assert hosts and all(h['State'] == 'up' for h in hosts), hosts
    services = as_json(clouds, 'admin', 'compute', 'service', 'list')
    assert 'hvagent-compute' in {s['Binary'] for s in services}
    zones = as_json(clouds, 'blue', 'availability', 'zone', 'list',
                    '--compute')
    assert zones and zones[0]['Zone Status'] == 'available', zones
    openstack(clouds, 'admin', 'quota', 'set', '--cores', '7',
              '--instances', '3', 'os-blue')
    shown = as_json(clouds, 'blue', 'quota', 'show', 'os-blue')
    values = {(q.get('Resource') or q.get('Field')): (
        q.get('Limit', q.get('Value'))) for q in shown} \
        if isinstance(shown, list) else shown
    assert values['cores'] == 7 and values['instances'] == 3, shown
    limits = as_json(clouds, 'blue', 'limits', 'show', '--absolute')
    assert {'Name': 'instances', 'Value': 3} in limits, limits
    for args in (('hypervisor', 'list'), ('compute', 'service', 'list'),
                 ('quota', 'set', '--cores', '99', 'os-blue'),
                 ('quota', 'show', 'os-red')):
        proc = openstack(clouds, 'blue', *args, check=False)
        assert proc.returncode != 0, (args, proc.stdout)
        assert 'Traceback' not in proc.stderr, proc.stderr
    assert as_json(clouds, 'admin', 'quota', 'show', 'os-blue') == shown


def test_volumes_attach_and_detach(api_cloud, users, clouds):
    """volume create, list, show; server add volume (in-use), server
    remove volume (available); volume set --size; volume delete; os-red's
    developer sees none of it and cannot attach or extend it."""
    volume = as_json(clouds, 'blue', 'volume', 'create', '--size', '1',
                     'blue-vol')
    assert volume['status'] == 'available' and volume['size'] == 1
    assert [v['Name'] for v in as_json(clouds, 'blue', 'volume',
                                       'list')] == ['blue-vol']
    server = as_json(clouds, 'blue', 'server', 'create', '--image',
                     _image(clouds, 'blue', 'blue-vol-img'), '--flavor',
                     'm1.tiny', '--wait', 'blue-vol-vm')
    openstack(clouds, 'blue', 'server', 'add', 'volume', server['id'],
              volume['id'])

    def status():
        return as_json(clouds, 'blue', 'volume', 'show',
                       volume['id'])['status']

    wait_until(lambda: status() == 'in-use', 60, interval=0.5,
               message=status)
    shown = as_json(clouds, 'blue', 'volume', 'show', volume['id'])
    assert server['id'] in json.dumps(shown['attachments'])
    for args in (('volume', 'show', volume['id']),
                 ('volume', 'delete', volume['id']),
                 ('server', 'remove', 'volume', server['id'],
                  volume['id'])):
        proc = openstack(clouds, 'red', *args, check=False)
        assert proc.returncode != 0, (args, proc.stdout)
        assert 'Traceback' not in proc.stderr, proc.stderr
    assert as_json(clouds, 'red', 'volume', 'list') == []
    # attached: not deleted
    assert openstack(clouds, 'blue', 'volume', 'delete', volume['id'],
                     check=False).returncode != 0
    openstack(clouds, 'blue', 'server', 'remove', 'volume', server['id'],
              volume['id'])
    wait_until(lambda: status() == 'available', 60, interval=0.5,
               message=status)
    # extended (os-extend; an in-use one needs --os-volume-api-version
    # 3.42, which hvagent-api does not announce: docs/lifecycle.md)
    openstack(clouds, 'blue', 'volume', 'set', '--size', '2', volume['id'])
    assert as_json(clouds, 'blue', 'volume', 'show', volume['id'])[
        'size'] == 2
    proc = openstack(clouds, 'red', 'volume', 'set', '--size', '3',
                     volume['id'], check=False)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    openstack(clouds, 'blue', 'volume', 'delete', volume['id'])
    assert as_json(clouds, 'blue', 'volume', 'list') == []
    openstack(clouds, 'blue', 'server', 'delete', '--wait', server['id'])
