"""The OpenStack clients against a real hvagent-api (its conductor,
scheduler and agent on RabbitMQ): python-openstackclient's ``openstack``
command and openstacksdk, unmodified, from PyPI (the test extra), with a
clouds.yaml as a user writes one. Identity v3: version discovery,
password log-in in the Default domain, the service catalog, token
validation and revocation; and what a hostile user tries with them."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import requests
import yaml

from tests.fixtures import api_cloud as cloudlib

pytestmark = pytest.mark.functional

OPENSTACK = shutil.which('openstack') or os.path.join(
    os.path.dirname(sys.executable), 'openstack')


@pytest.fixture(scope='module')
def users(api_cloud):
    """Two projects, a developer in each."""
    out = {}
    for name in ('os-blue', 'os-red'):
        project = api_cloud.admin.ok('POST', '/v3/projects', json={
            'name': name})['project']
        api_cloud.add_user(project['id'], name + '-dev', 'developer')
        out[name] = project
    return out


@pytest.fixture(scope='module')
def clouds(api_cloud, users, tmp_path_factory):
    """A clouds.yaml with a cloud per user; the environment to use it."""
    if not os.path.exists(OPENSTACK):
        pytest.skip('python-openstackclient is not installed (the test '
                    'extra installs it)')
    home = tmp_path_factory.mktemp('openstack-home')
    def cloud(user, project, password=cloudlib.PASSWORD, **extra):
        auth = {'auth_url': api_cloud.url + '/v3', 'username': user,
                'password': password, 'project_name': project,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default'}
        auth.update(extra)
        return {'auth': auth, 'region_name': 'RegionOne',
                'identity_api_version': 3}
    config = {'clouds': {
        'admin': cloud('admin', 'admin'),
        'blue': cloud('os-blue-dev', 'os-blue'),
        'blue-wrong-password': cloud('os-blue-dev', 'os-blue',
                                     password='not the password'),
        'blue-in-red': cloud('os-blue-dev', 'os-red'),
        'blue-other-domain': cloud('os-blue-dev', 'os-blue',
                                   user_domain_name='Elsewhere'),
    }}
    path = home / 'clouds.yaml'
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_CLIENT_CONFIG_FILE=str(path), HOME=str(home))
    return env


def openstack(env, cloud, *args, check=True):
    proc = subprocess.run([OPENSTACK, '--os-cloud', cloud, *args],
                          capture_output=True, text=True, env=env,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def as_json(env, cloud, *args):
    return json.loads(openstack(env, cloud, *args, '-f', 'json').stdout)


def test_token_issue_and_catalog(api_cloud, users, clouds):
    token = as_json(clouds, 'blue', 'token', 'issue')
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
    client.ok('GET', '/v1/flavors')
    openstack(clouds, 'blue', 'token', 'revoke', token)
    r = client.call('GET', '/v1/flavors')
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
        'GET', '/v1/flavors').status_code == 401


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
    openstack_sdk = pytest.importorskip('openstack')
    conn = openstack_sdk.connect(
        auth_url=api_cloud.url + '/v3', username='os-red-dev',
        password=cloudlib.PASSWORD, project_name='os-red',
        user_domain_name='Default', project_domain_name='Default',
        region_name='RegionOne')
    try:
        assert conn.current_project_id == users['os-red']['id']
        assert conn.session.get_endpoint(
            service_type='identity', interface='public') == \
            api_cloud.url + '/v3'
    finally:
        conn.close()
