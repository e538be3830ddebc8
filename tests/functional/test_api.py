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
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.waiting import wait_until
from tests.functional.test_systemd import NotifySocket

pytestmark = pytest.mark.functional
OCTETS = {'Content-Type': 'application/octet-stream'}


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
    r = client.call('GET', COMPUTE + '/flavors')
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
        r = cloudlib.Client(api_cloud.url, token).call(
            'GET', COMPUTE + '/flavors')
        assert r.status_code == 401, r.text
        assert reason in r.json()['error']['message']


def test_request_ids_and_json_errors(api_cloud, proj):
    _, dev = proj
    seen = set()
    servers = COMPUTE + '/servers'
    for method, path, kw, status in (
            ('GET', COMPUTE + '/flavors', {}, 200),
            ('GET', servers + '/not-a-uuid', {}, 400),
            ('GET', servers + '/%s' % ('0' * 8 + '-0000-0000-0000-' +
                                       '0' * 12), {}, 404),
            ('POST', servers, {'data': b'{not json'}, 400),
            ('POST', servers, {'json': {'server': {
                'name': 'x', 'imageRef': 'cirros',
                'flavorRef': 'no-such-flavor'}}}, 404),
            ('POST', servers, {'json': {'server': {
                'name': 'x', 'imageRef': 'cirros', 'flavorRef': 'm1.tiny',
                'bogus': 1}}}, 400),
            ('POST', COMPUTE + '/os-keypairs', {'json': {'keypair': {
                'name': 'k', 'public_key': 'ssh-rsa AAAAnot-a-key'}}}, 400),
            ('GET', servers + '/detail?limit=0', {}, 400),
            ('GET', servers + '/detail?marker=%s' % (
                '1' * 8 + '-1111-1111-1111-' + '1' * 12), {}, 400),
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
    r = dev.call('POST', servers, json={'server': {
        'name': 'rid', 'imageRef': 'cirros', 'flavorRef': 'm1.tiny',
        'networks': 'none'}})
    assert r.status_code == 202, r.text
    srv = r.json()['server']
    actions = dev.ok('GET', '%s/%s/os-instance-actions' % (
        servers, srv['id']))['instanceActions']
    assert [a['action'] for a in actions] == ['create']
    assert actions[0]['request_id'] == r.headers['X-Request-Id']
    assert r.headers['X-Request-Id'] in api_cloud.dep.log('hvagent-api')
    cloudlib.wait_status(dev, srv['id'])
    dev.ok('DELETE', '%s/%s' % (servers, srv['id']))


def test_pagination(api_cloud):
    p = api_cloud.admin.ok('POST', '/v3/projects',
                           json={'project': {'name': 'paging'}})['project']
    dev = api_cloud.add_user(p['id'], 'pager', 'developer')
    made = [cloudlib.boot(dev, 'pg-%d' % i) for i in range(5)]
    for detail in ('', '/detail'):
        pages, marker = [], None
        while True:
            body = dev.ok('GET', COMPUTE + '/servers' + detail, params=dict(
                limit=2, **({'marker': marker} if marker else {})))
            pages.append([s['id'] for s in body['servers']])
            marker = cloudlib.next_marker(body, 'servers')
            if not marker:
                break
        assert [len(p) for p in pages] == [2, 2, 1], detail
        assert sum(pages, []) == made, detail
    # a server's actions: nova (2.1) lists them whole, newest first
    assert cloudlib.action(dev, made[0], {'os-stop': None}
                           ).status_code == 202
    cloudlib.wait_status(dev, made[0])
    acts = dev.ok('GET', '%s/servers/%s/os-instance-actions' % (
        COMPUTE, made[0]))['instanceActions']
    assert [a['action'] for a in acts] == ['stop', 'create']
    # short lists the conductor answers whole page the same way (the
    # compute services, which replaced the hosts list, are not paged:
    # flavors)
    flavors = [f['id'] for f in api_cloud.admin.ok(
        'GET', COMPUTE + '/flavors')['flavors']]
    assert len(flavors) >= 3, flavors
    first = api_cloud.admin.ok('GET', COMPUTE + '/flavors?limit=1')
    more = api_cloud.admin.ok('GET', COMPUTE + '/flavors', params={
        'marker': cloudlib.next_marker(first, 'flavors')})
    assert [f['id'] for f in first['flavors'] + more['flavors']] == flavors
    assert cloudlib.next_marker(more, 'flavors') is None
    assert api_cloud.admin.call('GET', COMPUTE + '/flavors?marker=nope'
                                ).status_code == 400
    for uuid_ in made:
        cloudlib.wait_status(dev, uuid_)
        dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, uuid_))


def test_twenty_concurrent_boots_against_a_quota_of_ten(api_cloud):
    admin = api_cloud.admin
    p = admin.ok('POST', '/v3/projects', json={'project': {'name': 'quota'}})['project']
    admin.ok('PUT', '%s/os-quota-sets/%s' % (COMPUTE, p['id']),
             json={'quota_set': {'instances': 10}})
    dev = api_cloud.add_user(p['id'], 'racer', 'developer')

    def boot(i):
        return dev.call('POST', COMPUTE + '/servers', json={'server': {
            'name': 'race-%d' % i, 'imageRef': 'cirros',
            'flavorRef': 'm1.tiny', 'networks': 'none'}})
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(boot, range(20)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * 10 + [403] * 10, [r.text for r in answers]
    refused = [r.json()['error'] for r in answers if r.status_code == 403]
    assert {(e['resource'], e['limit'], e['in_use']) for e in refused} == {
        ('instances', 10, 10)}
    usage = dev.ok('GET', '%s/os-quota-sets/%s/detail' % (
        COMPUTE, p['id']))['quota_set']
    assert usage['instances'] == {'limit': 10, 'in_use': 10, 'reserved': 0}
    for r in answers:
        if r.status_code == 202:
            cloudlib.wait_status(dev, r.json()['server']['id'])
            dev.ok('DELETE', '%s/servers/%s' % (COMPUTE,
                                                r.json()['server']['id']))


def test_boot_end_to_end_with_key_pair_and_metadata(api_cloud, proj):
    _, dev = proj
    key = dev.ok('POST', COMPUTE + '/os-keypairs',
                 json={'keypair': {'name': 'e2e'}})['keypair']
    ident = cloudlib.boot(dev, 'e2e', key_name='e2e',
                          metadata={'role': 'web'})
    srv = cloudlib.wait_status(dev, ident)
    assert (cloudlib.vm_state(srv), srv['status'],
            srv['OS-EXT-STS:power_state'], srv['key_name']) == (
        'active', 'ACTIVE', 1, 'e2e')
    # the host is shown to admin (and itsec), not to the developer
    assert 'OS-EXT-SRV-ATTR:host' not in srv
    assert cloudlib.server(api_cloud.admin, ident)[
        'OS-EXT-SRV-ATTR:host'] == api_cloud.dep.host
    base = '%s/servers/%s' % (COMPUTE, ident)
    assert dev.ok('PUT', base + '/metadata/tier', json={
        'meta': {'tier': 'gold'}}) == {'meta': {'tier': 'gold'}}
    assert dev.ok('GET', base + '/metadata')['metadata'] == {
        'role': 'web', 'tier': 'gold'}
    assert dev.call('DELETE', base + '/metadata/role').status_code == 204
    assert dev.ok('GET', base + '/metadata')['metadata'] == {
        'tier': 'gold'}
    for body, state in (({'os-stop': None}, 'stopped'),
                        ({'os-start': None}, 'active'),
                        ({'reboot': {'type': 'SOFT'}}, 'active')):
        assert cloudlib.action(dev, ident, body).status_code == 202
        assert cloudlib.vm_state(cloudlib.wait_status(dev, ident)) == state
    console = cloudlib.action(dev, ident, {'os-getConsoleOutput': {}})
    assert console.status_code == 200 and ident in console.json()['output']
    assert dev.call('DELETE', base).status_code == 204
    wait_until(lambda: dev.call('GET', base).status_code == 404, 30,
               interval=0.05, message='the server gone')
    listed = dev.ok('GET', COMPUTE + '/servers/detail?limit=1000')[
        'servers']
    assert ident not in {s['id'] for s in listed}
    assert key['private_key'] and key['fingerprint'].startswith('SHA256:')


def test_isolation_by_itsec_end_to_end(api_cloud, proj):
    """itsec isolates a developer's running instance through the API: the
    agent pauses it (fake driver), the owner cannot undo it (409 naming
    the isolation), itsec releases it and it runs again."""
    p, dev = proj
    sec = api_cloud.add_user(p['id'], 'isolator', 'itsec')
    ident = cloudlib.boot(dev, 'suspect')
    base = '%s/servers/%s' % (COMPUTE, ident)
    assert 'hvagent:isolated' not in cloudlib.wait_status(dev, ident)
    assert cloudlib.action(dev, ident, {'isolate': None}).status_code == 403
    assert cloudlib.action(sec, ident, {'isolate': None}).status_code == 202
    srv = cloudlib.wait_status(dev, ident)
    assert (cloudlib.vm_state(srv), srv['status'],
            srv['OS-EXT-STS:power_state'], srv['hvagent:isolated']) == (
        'paused', 'PAUSED', 3, True)
    r = cloudlib.action(dev, ident, {'unpause': None})
    assert r.status_code == 409 and 'isolated' in r.json()['error']['message']
    assert cloudlib.action(sec, ident, {'release': None}).status_code == 202
    srv = cloudlib.wait_status(dev, ident, until=('active',))
    assert (srv['OS-EXT-STS:power_state'], 'hvagent:isolated' in srv) == (
        1, False)
    assert [a['action'] for a in dev.ok('GET', base + '/os-instance-actions')[
        'instanceActions']] == ['release', 'isolate', 'create']
    dev.ok('DELETE', base)


def test_images_upload_checksum_download_boot_delete(api_cloud, proj):
    project, dev = proj
    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    image = dev.ok('POST', IMAGE + '/images', json={
        'name': 'blob', 'disk_format': 'raw', 'container_format': 'bare'})
    assert image['status'] == 'queued'
    base = '%s/images/%s' % (IMAGE, image['id'])
    # no data yet: queued, nothing to download
    assert dev.ok('GET', base)['status'] == 'queued'
    assert dev.call('GET', base + '/file').status_code == 409
    # the bytes must have the sha256 given (hvagent's ?checksum=): a
    # mismatch is 400 and keeps nothing
    wrong = dev.call('PUT', base + '/file', data=data, headers=OCTETS,
                     params={'checksum': '0' * 64})
    assert wrong.status_code == 400 and 'mismatch' in wrong.text, wrong.text
    assert dev.ok('GET', base)['status'] == 'queued'
    assert dev.call('PUT', base + '/file', data=data, headers=OCTETS,
                    params={'checksum': digest}).status_code == 204
    up = dev.ok('GET', base)
    assert (up['status'], up['size'], up['os_hash_algo'],
            up['os_hash_value']) == ('active', len(data), 'sha256', digest)
    assert dev.call('PUT', base + '/file', data=b'x',
                    headers=OCTETS).status_code == 409
    assert dev.call('GET', base + '/file').content == data
    assert image['id'] in {i['id'] for i in dev.ok('GET', IMAGE + '/images')[
        'images']}
    other = api_cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': 'img-other'}})['project']
    stranger = api_cloud.add_user(other['id'], 'img-stranger', 'developer')
    assert stranger.call('GET', base).status_code == 404
    assert stranger.call('GET', base + '/file').status_code == 404
    assert stranger.call('DELETE', base).status_code == 404
    # the URL agents download from asks for a token like any request: the
    # agent presents the booting caller's (no signed URL bypasses it)
    ident = cloudlib.boot(dev, 'from-image', image=image['id'])
    agent_url = api_cloud.url + base + '/file'
    # the agent asks the API by id
    assert cloudlib.server(dev, ident)['image']['id'] == image['id']
    assert requests.get(agent_url, timeout=30).status_code == 401
    assert requests.get(agent_url + '?sig=' + 'f' * 64,
                        timeout=30).status_code == 401
    assert requests.get(agent_url, timeout=30, headers={
        'X-Auth-Token': dev.token}).content == data
    assert requests.get(agent_url, timeout=30, headers={
        'X-Auth-Token': stranger.token}).status_code == 404
    cloudlib.wait_status(dev, ident)
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, ident))
    assert dev.call('DELETE', base).status_code == 204
    assert dev.call('GET', base).status_code == 404
    assert dev.call('GET', base + '/file').status_code == 404


def test_volumes_create_attach_detach_delete_quota(api_cloud):
    admin = api_cloud.admin
    p = admin.ok('POST', '/v3/projects', json={'project': {'name': 'vols'}})['project']
    admin.ok('PUT', '%s/os-quota-sets/%s' % (cloudlib.volume_base(admin),
                                             p['id']),
             json={'quota_set': {'volumes': 1}})
    dev = api_cloud.add_user(p['id'], 'voldev', 'developer')
    volumes = cloudlib.volume_base(dev) + '/volumes'
    vol = dev.ok('POST', volumes, json={'volume': {'name': 'data',
                                                   'size': 1}})['volume']
    path = os.path.join(api_cloud.dep.state_path, 'volumes',
                        vol['id'])
    assert os.path.getsize(path) == 1 << 30     # sparse
    r = dev.call('POST', volumes, json={'volume': {'name': 'more',
                                                   'size': 1}})
    assert r.status_code == 403 and r.json()['error']['resource'] == \
        'volumes'

    def attached(server_id):
        return cloudlib.wait_status(dev, server_id)[
            'os-extended-volumes:volumes_attached']
    srv = cloudlib.boot(dev, 'with-vol')
    cloudlib.wait_status(dev, srv)
    dev.ok('POST', '%s/servers/%s/os-volume_attachments' % (COMPUTE, srv),
           json={'volumeAttachment': {'volumeId': vol['id']}})
    assert attached(srv) == [{'id': vol['id']}]
    shown = dev.ok('GET', '%s/%s' % (volumes, vol['id']))['volume']
    assert (shown['status'], [a['server_id'] for a in shown[
        'attachments']]) == ('in-use', [srv])
    # in use: a second server cannot have it too (one attachment)
    other = cloudlib.boot(dev, 'second')
    cloudlib.wait_status(dev, other)
    r = dev.call('POST', '%s/servers/%s/os-volume_attachments' % (
        COMPUTE, other), json={'volumeAttachment': {'volumeId': vol['id']}})
    assert r.status_code == 409 and 'one attachment' in r.text, r.text
    assert attached(other) == []
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, other))
    assert dev.call('DELETE', '%s/%s' % (volumes, vol['id'])
                    ).status_code == 409
    assert dev.call('DELETE', '%s/servers/%s/os-volume_attachments/%s' % (
        COMPUTE, srv, vol['id'])).status_code == 202
    assert attached(srv) == []
    assert dev.ok('GET', volumes + '/detail')['volumes'][0]['status'] == \
        'available'
    assert dev.call('DELETE', '%s/%s' % (volumes, vol['id'])
                    ).status_code == 202
    assert not os.path.exists(path)
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, srv))


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
                            api_cloud.admin.token).call(
                                'GET', COMPUTE + '/flavors')
        assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / 'api2.log').read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
