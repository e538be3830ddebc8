"""hvagent-api over HTTP against the real services: tokens, request ids,
errors, pagination, quotas under a race, and a boot end to end."""
import concurrent.futures
import hashlib
import os
import signal
import subprocess
import time

import pytest
import requests

from agent.api import tokens
from agent.cli.api_backend import password_auth
from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until
from tests.functional.test_systemd import NotifySocket

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def proj(api_cloud):
    """A project with a developer, for this module."""
    p = api_cloud.admin.ok('POST', '/v3/projects',
                           json={'project': {'name': 'api-tests'}})['project']
    return p, api_cloud.add_user(p['id'], 'apidev', 'developer')


def test_login_refusals_and_revocation(api_cloud, proj):
    url = api_cloud.url + '/v3/auth/tokens'
    for body in (password_auth('apidev', 'wrong password'),
                 password_auth('nobody', cloudlib.PASSWORD),
                 password_auth('apidev', cloudlib.PASSWORD, 'p-not-mine')):
        r = requests.post(url, json=body, timeout=30)
        assert r.status_code == 401, r.text
        assert 'X-Subject-Token' not in r.headers
    client = api_cloud.login('apidev')
    me = client.ok('GET', '/v3/auth/tokens')['token']
    assert (me['user']['name'], me['project']['name'], me['roles']) == (
        'apidev', 'api-tests', [{'id': 'developer', 'name': 'developer'}])
    client.ok('DELETE', '/v3/auth/tokens')
    r = client.call('GET', '/v1/flavors')
    assert r.status_code == 401 and 'revoked' in r.json()['error']['message']


def test_forged_expired_and_missing_tokens(api_cloud, proj):
    key = tokens.load_key(str(api_cloud.dep.state_path /
                              'api_token.key'))
    project, dev = proj
    me = dev.ok('GET', '/v3/auth/tokens')['token']
    expired, _ = tokens.issue(key, me['user']['id'], project['id'], ttl=60,
                              now=time.time() - 120)
    forged, _ = tokens.issue(b'f' * 32, me['user']['id'], project['id'],
                             ttl=60)
    for token, reason in ((expired, 'expired'), (forged, 'not signed'),
                          (None, 'missing'), ('garbage', 'malformed')):
        r = cloudlib.Client(api_cloud.url, token).call('GET', '/v1/flavors')
        assert r.status_code == 401, r.text
        assert reason in r.json()['error']['message']


def test_request_ids_and_json_errors(api_cloud, proj):
    _, dev = proj
    seen = set()
    for method, path, kw, status in (
            ('GET', '/v1/flavors', {}, 200),
            ('GET', '/v1/servers/not-a-uuid', {}, 400),
            ('GET', '/v1/servers/%s' % ('0' * 8 + '-0000-0000-0000-' +
                                        '0' * 12), {}, 404),
            ('POST', '/v1/servers', {'data': b'{not json'}, 400),
            ('POST', '/v1/servers', {'json': {'server': {
                'name': 'x', 'flavor': 'no-such-flavor'}}}, 404),
            ('POST', '/v1/servers', {'json': {'server': {
                'name': 'x', 'flavor': 'm1.tiny', 'bogus': 1}}}, 400),
            ('POST', '/v1/keypairs', {'json': {
                'name': 'k', 'public_key': 'ssh-rsa AAAAnot-a-key'}}, 400),
            ('GET', '/v1/servers?limit=0', {}, 400),
            ('GET', '/v1/servers?marker=%s' % ('1' * 8 + '-1111-1111-1111-'
                                               + '1' * 12), {}, 400),
            ('GET', '/no/such/path', {}, 404)):
        r = dev.call(method, path, **kw)
        assert r.status_code == status, (path, r.status_code, r.text)
        rid = r.headers['X-Request-Id']
        assert rid.startswith('req-') and rid not in seen
        seen.add(rid)
        if status >= 400:
            assert r.json()['error']['code'] == status
            assert r.json()['error']['message']
    # the request id is the one the conductor recorded for the boot
    r = dev.call('POST', '/v1/servers', json={'server': {
        'name': 'rid', 'flavor': 'm1.tiny'}})
    srv = r.json()['server']
    actions = dev.ok('GET', '/v1/servers/%s/actions' % srv['id'])['actions']
    assert actions[0]['request_id'] == r.headers['X-Request-Id']
    assert r.headers['X-Request-Id'] in api_cloud.dep.log('hvagent-api')
    cloudlib.wait_status(dev, srv['id'])
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_pagination(api_cloud):
    p = api_cloud.admin.ok('POST', '/v3/projects',
                           json={'project': {'name': 'paging'}})['project']
    dev = api_cloud.add_user(p['id'], 'pager', 'developer')
    made = [dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'pg-%d' % i, 'flavor': 'm1.tiny'}})['server']['id']
        for i in range(5)]
    pages, marker = [], None
    while True:
        q = '/v1/servers?limit=2' + ('&marker=%s' % marker if marker else '')
        body = dev.ok('GET', q)
        pages.append([s['id'] for s in body['servers']])
        marker = body['next_marker']
        if not marker:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == made
    # short lists the conductor answers whole page the same way
    dev.ok('POST', '/v1/servers/%s/action' % made[0],
           json={'action': 'stop'})
    cloudlib.wait_status(dev, made[0])
    acts = dev.ok('GET', '/v1/servers/%s/actions?limit=1' % made[0])
    assert [a['action'] for a in acts['actions']] == ['create']
    rest = dev.ok('GET', '/v1/servers/%s/actions?marker=%s' % (
        made[0], acts['next_marker']))
    assert [a['action'] for a in rest['actions']] == ['stop']
    assert rest['next_marker'] is None
    hosts = api_cloud.admin.ok('GET', '/v1/hosts?limit=1')
    more = api_cloud.admin.ok('GET', '/v1/hosts?marker=' +
                              hosts['next_marker'])
    assert len(hosts['hosts']) == 1 and len(more['hosts']) == 2
    for uuid_ in made:
        cloudlib.wait_status(dev, uuid_)
        dev.ok('DELETE', '/v1/servers/%s' % uuid_)


def test_twenty_concurrent_boots_against_a_quota_of_ten(api_cloud):
    admin = api_cloud.admin
    p = admin.ok('POST', '/v3/projects', json={'project': {'name': 'quota'}})['project']
    admin.ok('PUT', '/v1/quotas/%s' % p['id'], json={'instances': 10})
    dev = api_cloud.add_user(p['id'], 'racer', 'developer')

    def boot(i):
        return dev.call('POST', '/v1/servers', json={'server': {
            'name': 'race-%d' % i, 'flavor': 'm1.tiny'}})
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(boot, range(20)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * 10 + [403] * 10, [r.text for r in answers]
    refused = [r.json()['error'] for r in answers if r.status_code == 403]
    assert {(e['resource'], e['limit'], e['in_use']) for e in refused} == {
        ('instances', 10, 10)}
    usage = dev.ok('GET', '/v1/quotas/%s' % p['id'])['quotas']
    assert usage['instances'] == {'limit': 10, 'in_use': 10}
    for r in answers:
        if r.status_code == 202:
            cloudlib.wait_status(dev, r.json()['server']['id'])
            dev.ok('DELETE', '/v1/servers/%s' % r.json()['server']['id'])


def test_boot_end_to_end_with_key_pair_and_metadata(api_cloud, proj):
    _, dev = proj
    key = dev.ok('POST', '/v1/keypairs', json={'name': 'e2e'})['keypair']
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'e2e', 'flavor': 'm1.tiny', 'image': 'cirros',
        'key_name': 'e2e', 'metadata': {'role': 'web'}}})['server']
    srv = cloudlib.wait_status(dev, srv['id'])
    assert (srv['status'], srv['power_state'], srv['key_name']) == (
        'active', 'running', 'e2e')
    assert srv['host'] == api_cloud.dep.host
    base = '/v1/servers/%s' % srv['id']
    assert dev.ok('PUT', base + '/metadata/tier', json={'value': 'gold'}
                  )['metadata'] == {'role': 'web', 'tier': 'gold'}
    assert dev.ok('DELETE', base + '/metadata/role')['metadata'] == {
        'tier': 'gold'}
    for action, state in (('stop', 'stopped'), ('start', 'active'),
                          ('reboot', 'active')):
        dev.ok('POST', base + '/action', json={'action': action})
        assert cloudlib.wait_status(dev, srv['id'])['status'] == state
    assert srv['id'] in dev.ok('GET', base + '/console')['output']
    dev.ok('DELETE', base)
    wait_until(lambda: dev.call('GET', base).status_code == 404, 30,
               interval=0.05, message='the server gone')
    actions = dev.ok('GET', '/v1/servers?limit=1000')['servers']
    assert srv['id'] not in {s['id'] for s in actions}
    assert key['private_key'] and key['fingerprint'].startswith('SHA256:')


def test_isolation_by_itsec_end_to_end(api_cloud, proj):
    """itsec isolates a developer's running instance through the API: the
    agent pauses it (fake driver), the owner cannot undo it (409 naming
    the isolation), itsec releases it and it runs again."""
    p, dev = proj
    sec = api_cloud.add_user(p['id'], 'isolator', 'itsec')
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'suspect', 'flavor': 'm1.tiny', 'image': 'cirros'}})['server']
    base = '/v1/servers/%s' % srv['id']
    assert cloudlib.wait_status(dev, srv['id'])['isolated'] is False
    assert dev.call('POST', base + '/action',
                    json={'action': 'isolate'}).status_code == 403
    sec.ok('POST', base + '/action', json={'action': 'isolate'})
    srv = cloudlib.wait_status(dev, srv['id'])
    assert (srv['status'], srv['power_state'], srv['isolated']) == (
        'paused', 'paused', True)
    r = dev.call('POST', base + '/action', json={'action': 'unpause'})
    assert r.status_code == 409 and 'isolated' in r.json()['error']['message']
    sec.ok('POST', base + '/action', json={'action': 'release'})
    srv = cloudlib.wait_status(dev, srv['id'], until=('active',))
    assert (srv['power_state'], srv['isolated']) == ('running', False)
    assert [a['action'] for a in dev.ok('GET', base + '/actions')[
        'actions']] == ['create', 'isolate', 'release']
    dev.ok('DELETE', base)


def test_images_upload_checksum_download_boot_delete(api_cloud, proj):
    project, dev = proj
    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    image = dev.ok('POST', '/v1/images', json={
        'name': 'blob', 'disk_format': 'raw'})['image']
    assert image['status'] == 'queued'
    base = '/v1/images/%s' % image['id']
    # a wrong checksum is refused and leaves the image queued, empty
    r = dev.call('PUT', base + '/file?checksum=' + '0' * 64, data=data)
    assert r.status_code == 400 and 'mismatch' in r.text
    assert dev.ok('GET', base)['image']['status'] == 'queued'
    assert dev.call('GET', base + '/file').status_code == 409
    up = dev.ok('PUT', base + '/file?checksum=' + digest, data=data)
    assert (up['image']['status'], up['image']['size'],
            up['image']['checksum']) == ('active', len(data), digest)
    assert dev.call('PUT', base + '/file', data=b'x').status_code == 409
    assert dev.call('GET', base + '/file').content == data
    assert image['id'] in {i['id'] for i in dev.ok('GET', '/v1/images')[
        'images']}
    other = api_cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'img-other'}})['project']
    stranger = api_cloud.add_user(other['id'], 'img-stranger', 'developer')
    assert stranger.call('GET', base).status_code == 404
    assert stranger.call('GET', base + '/file').status_code == 404
    assert stranger.call('DELETE', base).status_code == 404
    # the URL agents download from asks for a token like any request: the
    # agent presents the booting caller's (no signed URL bypasses it)
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'from-image', 'flavor': 'm1.tiny',
        'image': image['id']}})['server']
    agent_url = '%s/v1/images/%s/file' % (api_cloud.url, image['id'])
    assert srv['image'] == image['id']      # the agent asks the API by id
    assert requests.get(agent_url, timeout=30).status_code == 401
    assert requests.get(agent_url + '?sig=' + 'f' * 64,
                        timeout=30).status_code == 401
    assert requests.get(agent_url, timeout=30, headers={
        'X-Auth-Token': dev.token}).content == data
    assert requests.get(agent_url, timeout=30, headers={
        'X-Auth-Token': stranger.token}).status_code == 404
    cloudlib.wait_status(dev, srv['id'])
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])
    dev.ok('DELETE', base)
    assert dev.call('GET', base).status_code == 404
    assert dev.call('GET', base + '/file').status_code == 404


def test_volumes_create_attach_detach_delete_quota(api_cloud):
    admin = api_cloud.admin
    p = admin.ok('POST', '/v3/projects', json={'project': {'name': 'vols'}})['project']
    admin.ok('PUT', '/v1/quotas/%s' % p['id'], json={'volumes': 1})
    dev = api_cloud.add_user(p['id'], 'voldev', 'developer')
    vol = dev.ok('POST', '/v1/volumes', json={'name': 'data',
                                              'size_gb': 1})['volume']
    path = os.path.join(api_cloud.dep.state_path, 'volumes',
                        vol['id'])
    assert os.path.getsize(path) == 1 << 30     # sparse
    r = dev.call('POST', '/v1/volumes', json={'name': 'more', 'size_gb': 1})
    assert r.status_code == 403 and r.json()['error']['resource'] == \
        'volumes'
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'with-vol', 'flavor': 'm1.tiny'}})['server']
    cloudlib.wait_status(dev, srv['id'])
    dev.ok('POST', '/v1/servers/%s/volumes' % srv['id'],
           json={'volume_id': vol['id']})
    assert cloudlib.wait_status(dev, srv['id'])['volumes'] == [vol['id']]
    shown = dev.ok('GET', '/v1/volumes/%s' % vol['id'])['volume']
    assert (shown['status'], shown['attached_to']) == ('in-use', srv['id'])
    # in use: a second server cannot have it too (one attachment)
    other = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'second', 'flavor': 'm1.tiny'}})['server']
    cloudlib.wait_status(dev, other['id'])
    r = dev.call('POST', '/v1/servers/%s/volumes' % other['id'],
                 json={'volume_id': vol['id']})
    assert r.status_code == 409 and 'one attachment' in r.text, r.text
    assert cloudlib.wait_status(dev, other['id'])['volumes'] == []
    dev.ok('DELETE', '/v1/servers/%s' % other['id'])
    assert dev.call('DELETE', '/v1/volumes/%s' % vol['id']
                    ).status_code == 409
    dev.ok('DELETE', '/v1/servers/%s/volumes/%s' % (srv['id'], vol['id']))
    assert cloudlib.wait_status(dev, srv['id'])['volumes'] == []
    assert dev.ok('GET', '/v1/volumes')['volumes'][0]['status'] == \
        'available'
    dev.ok('DELETE', '/v1/volumes/%s' % vol['id'])
    assert not os.path.exists(path)
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_second_api_server_under_systemd_notify(api_cloud, tmp_path):
    """Another hvagent-api beside the first (same key, same conductor)
    as systemd runs it: READY=1 once it listens, exit 0 on SIGTERM."""
    port = cloudlib.free_port()
    config = tmp_path / 'api2.conf'
    config.write_text(api_cloud.dep.config.read_text().replace(
        'bind_port = %d' % api_cloud.port, 'bind_port = %d' % port))
    notify = NotifySocket(tmp_path / 'notify')
    with open(tmp_path / 'api2.log', 'w') as log:
        proc = subprocess.Popen(
            [os.path.join(deployment.BIN, 'hvagent-api'), '--config-file',
             str(config)], stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, NOTIFY_SOCKET=notify.path))
    try:
        notify.wait_for('READY', '1', timeout=60)
        # a token of the first server is good here: one key, one cloud
        r = cloudlib.Client('http://127.0.0.1:%d' % port,
                            api_cloud.admin.token).call('GET', '/v1/flavors')
        assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / 'api2.log').read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
