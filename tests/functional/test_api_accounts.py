"""Accounts against a real hvagent-api and conductor (RabbitMQ, SQLite):
the conductor checks passwords and no answer carries a hash; failed
logins are throttled and password checks bounded; unknown and disabled
users cost what known ones do; a password change or disabling kills old
tokens; only the user (or admin) steers their default project.

Its own cloud (conductor + API, no agent): small throttling limits and
real argon2 cost (64 MiB, 3 passes), which the shared one keeps cheap.
Each test logs in from its own 127.0.0.x address so the per-address
counts of one do not throttle another."""
import concurrent.futures
import json
import statistics
import time
import uuid

import pytest

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.rpc import transport as rpc_transport
from tests.fixtures import api_cloud as cloudlib
from tests.functional import bounded

pytestmark = pytest.mark.functional

PER_USER, PER_ADDRESS = 4, 12
HASH_MARKS = ('$argon2', 'password_hash')


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    c = cloudlib.ApiCloud(tmp_path_factory.mktemp('accounts'), extra={
        'api': {'argon2_time_cost': 3, 'argon2_memory_kib': 65536,
                'login_failures_per_user': PER_USER,
                'login_failures_per_address': PER_ADDRESS,
                'login_failure_window': 60},
        'conductor': {'max_concurrent_password_checks': 2,
                      'password_check_wait': 0.3}})
    try:
        c.start(services=('hvagent-conductor',))
        c.project = c.admin.ok('POST', '/v3/projects', json={
            'project': {'name': 'zz-home'}})['project']
        yield c
    finally:
        codes = c.stop()
    assert set(codes.values()) == {0}, codes


def new_user(cloud, role='developer', project=None):
    name = 'u-%s' % uuid.uuid4().hex[:10]
    user = cloudlib.create_user(cloud.admin, (project or cloud.project)['id'],
                                name, role)
    return user, cloud.login(name)


def no_hash(answer):
    text = json.dumps(answer, default=repr)
    assert not any(mark in text for mark in HASH_MARKS), text


def test_no_conductor_answer_carries_a_password_hash(cloud):
    """auth_info answered the user's argon2 hash to whoever could call
    it; it is gone, and no identity answer carries one."""
    rpc_transport.cleanup()
    rpc_transport.init(url=cloud.vhost.url)
    try:
        conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        ctxt = context.RequestContext()
        admin = cloud.admin.ok('GET', '/v3/auth/tokens')['token']
        with pytest.raises(Exception) as e:     # signed, as a controller
            conductor._call(ctxt, 'auth_info', version='1.2',
                            topic=conductor_rpcapi.IDENTITY_TOPIC, user='admin',
                            project=None)
        assert 'auth_info' in str(e.value)
        pid = cloud.project['id']
        made = conductor.user_create(ctxt, name='h-%s' % uuid.uuid4().hex[
            :8], password=cloudlib.PASSWORD, project_id=pid,
            role='developer')
        answers = [
            made,
            conductor.authenticate(ctxt, user=made['name'],
                                   password=cloudlib.PASSWORD,
                                   project=None),
            conductor.user_list(ctxt, project_id=pid, limit=None,
                                marker=None),
            conductor.user_list(ctxt, project_id=None),
            conductor.user_show(ctxt, ref=made['name']),
            conductor.role_assign(ctxt, user=made['name'], project_id=pid,
                                  role='netadmin', revoke=False),
            conductor.user_update(ctxt, user_id=made['id'], enabled=True,
                                  default_project=None),
            conductor.token_check(ctxt, token_id='t', user_id=admin[
                'user']['id'], project_id=admin['project']['id'],
                issued_at=None),
            conductor.bootstrap(ctxt, user='admin', project='admin',
                                password=cloudlib.PASSWORD),
            conductor.project_list(ctxt, limit=None, marker=None)]
        for answer in answers:
            no_hash(answer)
    finally:
        rpc_transport.cleanup()
    cloud.admin = cloud.login('admin')  # bootstrap killed its token
    for path in ('/v3/role_assignments?include_names=true', '/v3/users',
                 '/v3/users/admin', '/v3/auth/tokens', '/v3/projects'):
        no_hash(cloud.admin.ok('GET', path))


def failures_until_throttled(cloud, name, source):
    """Wrong logins one after another (``name(i)``) until 429: how many
    failed (401) before."""
    failed = 0
    for i in range(PER_ADDRESS + 10):
        status, _, headers = bounded.login(cloud.port, name(i),
                                           'wrong password', source)
        if status == 429:
            assert int(headers['retry-after']) >= 1
            return failed
        if status == 503:       # the flood's checks still draining
            time.sleep(int(headers['retry-after']))
            continue
        assert status == 401, status
        failed += 1
    raise AssertionError('never throttled after %d failures' % failed)


def test_login_flood_is_bounded_and_throttled(cloud):
    """24 parallel wrong logins, three times over: at most two password
    checks at once (the rest wait briefly, then 503 + Retry-After), the
    user is throttled after PER_USER failures (429 + Retry-After, no
    check spent, even with the right password), and an address after
    PER_ADDRESS; another address still logs in. The memory of the API
    and the conductor stays bounded (it reached 1.36 GB when the API
    checked every one)."""
    user, _ = new_user(cloud)
    api = cloud.dep.procs['hvagent-api'].pid
    conductor = cloud.dep.procs['hvagent-conductor'].pid
    statuses = []
    with bounded.PeakRSS(api, conductor) as rss, \
            concurrent.futures.ThreadPoolExecutor(24) as pool:
        for _ in range(3):
            results = list(pool.map(lambda i: bounded.login(
                cloud.port, user['name'] if i % 2 else 'nobody-%d' % i,
                'wrong password', source='127.0.0.2'), range(24)))
            statuses += [(s, h) for s, _, h in results]
    codes = [s for s, _ in statuses]
    assert set(codes) <= {401, 429, 503}, codes
    assert codes.count(401) <= PER_ADDRESS, codes
    assert 429 in codes and 503 in codes, codes
    for status, headers in statuses:
        if status in (429, 503):
            assert int(headers['retry-after']) >= 1
    # one by one: the user is refused after PER_USER failures, whatever
    # the address, even with the right password
    assert failures_until_throttled(
        cloud, lambda i: user['name'], '127.0.0.10') <= PER_USER
    status, _, headers = bounded.login(cloud.port, user['name'],
                                       cloudlib.PASSWORD, '127.0.0.11')
    assert status == 429 and 1 <= int(headers['retry-after']) <= 60
    # an address is refused after PER_ADDRESS failures, whatever the name
    assert failures_until_throttled(
        cloud, lambda i: 'someone-%d' % i, '127.0.0.12') == PER_ADDRESS
    other, _ = new_user(cloud)
    assert bounded.login(cloud.port, other['name'], cloudlib.PASSWORD,
                         '127.0.0.12')[0] == 429
    assert bounded.login(cloud.port, other['name'], cloudlib.PASSWORD,
                         '127.0.0.3')[0] == 201
    assert rss.growth(api) < 100 << 20, rss.peak
    # two 64 MiB checks at once, and the interpreter's own
    assert rss.growth(conductor) < 200 << 20, rss.peak


def test_unknown_and_disabled_users_cost_what_known_ones_do(cloud):
    """The old login answered an unknown user in 15 ms and a known one
    (wrong password) in 156 ms. Medians of several attempts, each user
    name under its throttle, from addresses of their own."""
    known = [new_user(cloud)[0]['name'] for _ in range(3)]
    bounded.login(cloud.port, 'warm-up', 'x', '127.0.0.4')    # dummy hash

    def median(names, source):
        times = []
        for name in names:
            status, took, _ = bounded.login(cloud.port, name,
                                            'wrong password', source)
            assert status == 401
            times.append(took)
        return statistics.median(times)
    t_known = median(known * 2, '127.0.0.5')
    t_unknown = median(['ghost-%d' % i for i in range(6)], '127.0.0.6')
    assert t_unknown >= 0.5 * t_known, (t_unknown, t_known)
    disabled = new_user(cloud)[0]
    cloud.admin.ok('PATCH', '/v3/users/%s' % disabled['id'],
                   json={'user': {'enabled': False}})
    t_disabled = median([disabled['name']] * 3, '127.0.0.7')
    assert t_disabled >= 0.5 * t_known, (t_disabled, t_known)


def test_password_change_kills_old_tokens(cloud):
    user, client = new_user(cloud)
    second = cloud.login(user['name'])
    path = '/v3/users/%s/password' % user['id']
    other = new_user(cloud)[1]
    for who in (other, cloud.admin):    # the user themself only
        r = who.call('POST', path, json={'user': {
            'password': 'another one', 'original_password': 'whatever'}})
        assert r.status_code == 403, r.text
    r = client.call('POST', path, json={'user': {
        'password': 'new password 1', 'original_password': 'not it'}})
    assert r.status_code == 401, r.text
    client.ok('POST', path, status=204, json={'user': {
        'password': 'new password 1',
        'original_password': cloudlib.PASSWORD}})
    for old in (client, second):
        r = old.call('GET', '/v3/auth/tokens')
        assert r.status_code == 401, r.text
        assert 'password changed' in r.json()['error']['message']
    assert bounded.login(cloud.port, user['name'], cloudlib.PASSWORD,
                         '127.0.0.8')[0] == 401
    fresh = cloud.login(user['name'], password='new password 1')
    fresh.ok('GET', '/v3/auth/tokens')


def test_disabled_user_token_and_login_refused(cloud):
    user, client = new_user(cloud)
    path = '/v3/users/%s' % user['id']
    r = client.call('PATCH', path, json={'user': {'enabled': False}})
    assert r.status_code == 403, r.text     # admin's alone
    out = cloud.admin.ok('PATCH', path, json={'user': {'enabled': False}})
    assert out['user']['enabled'] is False
    r = client.call('GET', '/v3/auth/tokens')
    assert r.status_code == 401, r.text
    status, _, _ = bounded.login(cloud.port, user['name'],
                                 cloudlib.PASSWORD, '127.0.0.9')
    assert status == 401
    cloud.admin.ok('PATCH', path, json={'user': {'enabled': True}})
    assert client.call('GET', '/v3/auth/tokens').status_code == 401
    cloud.login(user['name']).ok('GET', '/v3/auth/tokens')


def test_project_manager_cannot_redirect_anothers_default_project(cloud):
    """A project manager may add any user to their project; that used to
    send the user's project-less logins there when its name sorted
    first. Now the user's default project is theirs to set (or
    admin's)."""
    trap = cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'aa-trap'}})['project']
    pm = new_user(cloud, 'project_manager', trap)[1]
    victim, victim_client = new_user(cloud)
    pm.ok('PUT', '/v3/projects/%s/users/%s/roles/developer'
          % (trap['id'], victim['name']))
    assert cloud.login(victim['name']).ok('GET', '/v3/auth/tokens')[
        'token']['project']['id'] == cloud.project['id']
    path = '/v3/users/%s' % victim['id']
    r = pm.call('PATCH', path, json={'user': {
        'default_project_id': trap['id']}})
    assert r.status_code == 403, r.text
    assert cloud.login(victim['name']).ok('GET', '/v3/auth/tokens')[
        'token']['project']['id'] == cloud.project['id']
    # the user may choose it themself, only a project they are in
    outsider = cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'elsewhere'}})['project']
    r = victim_client.call('PATCH', path, json={'user': {
        'default_project_id': outsider['id']}})
    assert r.status_code == 400, r.text
    victim_client.ok('PATCH', path, json={'user': {
        'default_project_id': trap['id']}})
    assert cloud.login(victim['name']).ok('GET', '/v3/auth/tokens')[
        'token']['project']['id'] == trap['id']
    cloud.admin.ok('PATCH', path, json={'user': {
        'default_project_id': cloud.project['id']}})
    assert cloud.login(victim['name']).ok('GET', '/v3/auth/tokens')[
        'token']['project']['id'] == cloud.project['id']


def test_a_user_of_no_project_logs_in_by_id_and_is_deleted(cloud):
    """keystone v3's user of no project (as Tempest makes them) is
    admin's to make; it logs in by id with a role and a project scope; only
    admin deletes a user, whose tokens die with them."""
    # (each login names its project: the user has no default one)
    pm = new_user(cloud, 'project_manager')[1]
    body = {'user': {'name': 'nomad-%s' % uuid.uuid4().hex[:8],
                     'password': cloudlib.PASSWORD, 'email': 'n@example.org'}}
    assert pm.call('POST', '/v3/users', json=body).status_code == 403
    user = cloud.admin.ok('POST', '/v3/users', json=body)['user']
    assert user['default_project_id'] is None, user
    r = cloud.admin.call('POST', '/v3/auth/tokens', json=by_id(user))
    assert r.status_code == 401, r.text      # no role anywhere yet
    cloud.admin.ok('PUT', '/v3/projects/%s/users/%s/roles/member'
                   % (cloud.project['id'], user['id']))
    # no default project: each login names one
    r = cloud.admin.call('POST', '/v3/auth/tokens', json=by_id(user))
    assert r.status_code == 401, r.text
    r = cloud.admin.call('POST', '/v3/auth/tokens',
                         json=by_id(user, cloud.project))
    assert r.status_code == 201, r.text
    token = r.json()['token']
    assert (token['user']['id'], token['project']['id']) == (
        user['id'], cloud.project['id']), token
    client = cloudlib.Client(cloud.url, r.headers['X-Subject-Token'])
    path = '/v3/users/%s' % user['id']
    for who in (pm, client):
        r = who.call('DELETE', path)
        assert r.status_code == 403, r.text
    cloud.admin.ok('DELETE', path, status=204)
    assert client.call('GET', '/v3/auth/tokens').status_code == 401
    assert cloud.admin.call('GET', path).status_code == 404
    assert cloud.admin.call('DELETE', path).status_code == 404
    r = cloud.admin.call('POST', '/v3/auth/tokens',
                         json=by_id(user, cloud.project))
    assert r.status_code == 401, r.text


def by_id(user, project=None):
    body = {'auth': {'identity': {'methods': ['password'], 'password': {
        'user': {'id': user['id'], 'password': cloudlib.PASSWORD}}}}}
    if project is not None:
        body['auth']['scope'] = {'project': {'id': project['id']}}
    return body


def test_only_an_empty_project_is_deleted_by_admin(cloud):
    """What a project holds is not left without an owner: its deletion
    is refused (409, naming it) until it is gone; then the project's
    grants and tokens go with it."""
    project = cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'doomed-%s' % uuid.uuid4().hex[:8]}})['project']
    user, dev = new_user(cloud, 'developer', project)
    pm = new_user(cloud, 'project_manager', project)[1]
    image = dev.ok('POST', cloudlib.IMAGE + '/images', json={
        'name': 'left-behind', 'disk_format': 'raw',
        'container_format': 'bare'})
    path = '/v3/projects/%s' % project['id']
    for who in (dev, pm):
        assert who.call('DELETE', path).status_code == 403
    r = cloud.admin.call('DELETE', path)
    assert r.status_code == 409, r.text
    assert '1 image(s)' in r.json()['error']['message'], r.text
    dev.ok('DELETE', cloudlib.IMAGE + '/images/' + image['id'])
    cloud.admin.ok('DELETE', path, status=204)
    assert cloud.admin.call('GET', path).status_code == 404
    assert dev.call('GET', '/v3/auth/tokens').status_code == 401
    assert cloud.admin.ok('GET', '/v3/users/%s' % user['id'])['user'][
        'default_project_id'] is None
    assert cloud.admin.call('DELETE', path).status_code == 404


def test_a_user_lists_the_projects_they_are_in(cloud):
    """keystone's /v3/auth/projects and /v3/users/{id}/projects: the
    projects with a role of the user's; another user's list is theirs
    and admin's alone."""
    second = cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'second-%s' % uuid.uuid4().hex[:8]}})['project']
    user, client = new_user(cloud)
    cloud.admin.ok('PUT', '/v3/projects/%s/users/%s/roles/netadmin'
                   % (second['id'], user['id']))
    mine = {cloud.project['id'], second['id']}
    path = '/v3/users/%s/projects' % user['id']
    for who, url in ((client, '/v3/auth/projects'), (client, path),
                     (cloud.admin, path)):
        assert {p['id'] for p in who.ok('GET', url)['projects']} == mine
    other = new_user(cloud)[1]
    r = other.call('GET', path)
    assert r.status_code == 404, r.text
    assert {p['id'] for p in other.ok('GET', '/v3/auth/projects')[
        'projects']} == {cloud.project['id']}
