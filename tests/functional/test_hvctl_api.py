"""hvctl through hvagent-api: login caches a private token, the instance
commands work through it, logout revokes it; without an endpoint hvctl
still talks RPC (test_boot_flow_rabbitmq, the all-in-one)."""
import json
import stat

import pytest
import requests

from agent.cli import api_backend
from tests.fixtures import api_cloud as cloudlib

pytestmark = pytest.mark.functional
hvctl = cloudlib.hvctl_api


def test_login_boot_list_delete_logout(api_cloud, tmp_path):
    p = api_cloud.admin.ok('POST', '/v3/projects',
                           json={'project': {'name': 'hvctl'}})['project']
    api_cloud.add_user(p['id'], 'cliuser', 'developer')
    out = hvctl(api_cloud, tmp_path, 'login', '--user', 'cliuser').stdout
    assert 'as cliuser in project hvctl (developer)' in out
    cache = tmp_path / 'hvagent' / 'tokens.json'
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    srv = json.loads(hvctl(api_cloud, tmp_path, '--json', 'boot', 'cli-1',
                           '--flavor', 'm1.tiny', '--image', 'cirros',
                           '--wait').stdout)
    assert srv['status'] == 'active'
    listed = json.loads(hvctl(api_cloud, tmp_path, '--json', 'list').stdout)
    assert [s['name'] for s in listed] == ['cli-1']
    for command in (('stop', 'cli-1', '--wait'), ('start', 'cli-1', '--wait'),
                    ('action-list', 'cli-1'), ('flavor-list',)):
        hvctl(api_cloud, tmp_path, *command)
    for command, state in (('suspend', 'suspended'), ('resume', 'active'),
                           ('rebuild', 'active')):
        extra = ('--image', 'cirros') if command == 'rebuild' else ()
        srv = json.loads(hvctl(api_cloud, tmp_path, '--json', command,
                               'cli-1', *extra, '--wait').stdout)
        assert srv['status'] == state, (command, srv)
    image = json.loads(hvctl(api_cloud, tmp_path, '--json', 'snapshot',
                             'cli-1', '--name', 'cli-snap', '--wait').stdout)
    assert (image['name'], image['status'], image['owner']) == (
        'cli-snap', 'active', p['id'])
    out = hvctl(api_cloud, tmp_path, 'snapshot', 'cli-1', '--name',
                'cli-snap-2').stdout
    assert out.startswith('Image ') and '(cli-snap-2)' in out, out
    assert 'deleted' in hvctl(api_cloud, tmp_path, 'delete', 'cli-1',
                              '--wait').stdout
    # a developer may not list hosts (os-hypervisors, host:list):
    # a clear error, exit 1
    refused = hvctl(api_cloud, tmp_path, 'host-list', check=False)
    assert refused.returncode == 1
    assert 'Policy does not allow host:list (HTTP 403' in refused.stderr
    token = json.loads(cache.read_text())[api_cloud.url]['token']
    hvctl(api_cloud, tmp_path, 'logout')
    assert api_cloud.url not in json.loads(cache.read_text())
    r = cloudlib.Client(api_cloud.url, token).call(
        'GET', cloudlib.COMPUTE + '/flavors')
    assert r.status_code == 401     # revoked, not merely forgotten
    gone = hvctl(api_cloud, tmp_path, 'list', check=False)
    assert gone.returncode == 1 and 'run hvctl login' in gone.stderr


def test_rpc_only_commands_refused_through_the_api(api_cloud, tmp_path):
    proc = hvctl(api_cloud, tmp_path, 'network-list', check=False)
    assert proc.returncode == 1
    assert 'not available through the API' in proc.stderr


def test_password_and_user_set(api_cloud, tmp_path):
    """hvctl password changes the user's own (the cached token dies with
    the others); hvctl user-set disables (admin only) and sets a default
    project."""
    p = api_cloud.admin.ok('POST', '/v3/projects',
                           json={'project': {'name': 'hvctl-pw'}})['project']
    api_cloud.add_user(p['id'], 'clipw', 'developer')
    hvctl(api_cloud, tmp_path, 'login', '--user', 'clipw')
    nothing = hvctl(api_cloud, tmp_path, 'user-set', 'x', check=False)
    assert nothing.returncode == 1 and 'nothing to set' in nothing.stderr
    user_id = api_cloud.login('clipw').ok('GET', '/v3/auth/tokens')[
        'token']['user']['id']
    out = hvctl(api_cloud, tmp_path, '--json', 'user-set', user_id,
                '--default-project', 'hvctl-pw').stdout
    assert json.loads(out)[0]['default_project_id'] == p['id']
    refused = hvctl(api_cloud, tmp_path, 'user-set', user_id, '--disable',
                    check=False)
    assert refused.returncode == 1 and 'HTTP 403' in refused.stderr
    token = json.loads((tmp_path / 'hvagent' / 'tokens.json').read_text())[
        api_cloud.url]['token']
    new = tmp_path / 'new'
    new.write_text('a brand new password\n')
    out = hvctl(api_cloud, tmp_path, 'password', '--new-password-file',
                str(new)).stdout
    assert 'run hvctl login' in out
    assert cloudlib.Client(api_cloud.url, token).call(
        'GET', cloudlib.COMPUTE + '/flavors').status_code == 401
    api_cloud.login('clipw', password='a brand new password')
    admin_cache = tmp_path / 'admin'
    hvctl(api_cloud, admin_cache, 'login', '--user', 'admin')
    out = hvctl(api_cloud, admin_cache, 'user-set', user_id,
                '--disable').stdout
    assert 'False' in out
    r = requests.post(api_cloud.url + '/v3/auth/tokens', timeout=60,
                      json=api_backend.password_auth(
                          'clipw', 'a brand new password'))
    assert r.status_code == 401, r.text
