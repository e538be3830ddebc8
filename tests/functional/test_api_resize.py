"""Resize and cold migration over HTTP and hvctl, in nova's shapes
(``resize``, ``migrate``, ``confirmResize``, ``revertResize`` server
actions), on test_api_migrations' cloud of real processes (hvagent-api,
conductor, scheduler, two fake-driver agents on a private RabbitMQ
vhost): the owner resizes, confirms and reverts; only admins migrate;
another project's member finds no such server; refusals are one line."""
import json

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.functional.test_api_migrations import NODE1
from tests.functional.test_api_migrations import NODE2
from tests.functional.test_api_migrations import boot_on
from tests.functional.test_api_migrations import both_enabled  # noqa: F401
from tests.functional.test_api_migrations import cloud  # noqa: F401
from tests.functional.test_api_migrations import enable
from tests.functional.test_api_migrations import hvctl  # noqa: F401
from tests.functional.test_api_migrations import migrations
from tests.functional.test_api_migrations import one_line

pytestmark = pytest.mark.functional


def act(client, server_id, body):
    return client.call('POST', '/v1/servers/%s/action' % server_id,
                       json=body)


def resized(cloud, server_id):  # noqa: F811
    return cloudlib.wait_status(cloud.owner, server_id, until=('resized',))


def test_resize_confirm_and_revert(cloud):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    r = act(cloud.owner, srv['id'], {'resize': {'flavorRef': 'm1.small'}})
    assert r.status_code == 202, r.text
    mig = r.json()['migration']
    assert (mig['migration_type'], mig['source_compute'],
            mig['dest_compute']) == ('resize', NODE1, NODE2)
    srv = resized(cloud, srv['id'])
    assert (srv['host'], srv['flavor'], srv['power_state']) == (
        NODE2, 'm1.small', 'running')
    r = act(cloud.owner, srv['id'], {'confirmResize': None})
    assert r.status_code == 202, r.text
    assert r.json()['migration']['status'] == 'confirmed'
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['status'], srv['host'], srv['flavor']) == (
        'active', NODE2, 'm1.small')
    # up again, then back: the old flavor, the old host
    act(cloud.owner, srv['id'], {'resize': {'flavorRef': 'm1.medium'}})
    assert resized(cloud, srv['id'])['host'] == NODE1
    r = act(cloud.owner, srv['id'], {'revertResize': None})
    assert r.status_code == 202, r.text
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['status'], srv['host'], srv['flavor'], srv['power_state']) \
        == ('active', NODE2, 'm1.small', 'running')
    assert [m['status'] for m in migrations(cloud, srv['id'])] == [
        'reverted', 'confirmed']
    names = [a['action'] for a in cloud.owner.ok(
        'GET', '/v1/servers/%s/actions' % srv['id'])['actions']]
    assert {'resize', 'confirmResize', 'revertResize'} <= set(names)
    cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_only_admins_migrate_and_strangers_find_nothing(cloud):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    one_line(act(cloud.owner, srv['id'], {'migrate': None}), 403,
             'Policy does not allow server:migrate')
    # itsec reads every server but does not resize them
    one_line(act(cloud.itsec, srv['id'],
                 {'resize': {'flavorRef': 'm1.small'}}), 403,
             'Policy does not allow server:resize')
    project = cloud.admin.ok('POST', '/v3/projects',
                             json={'project': {'name': 'strangers'}})['project']
    stranger = cloud.add_user(project['id'], 'strangerdev', 'developer')
    for body in ({'resize': {'flavorRef': 'm1.small'}},
                 {'confirmResize': None}, {'revertResize': None}):
        one_line(act(stranger, srv['id'], body), 404, 'could not be found')
    r = act(cloud.admin, srv['id'], {'migrate': {'host': NODE2}})
    assert r.status_code == 202, r.text
    assert r.json()['migration']['migration_type'] == 'migration'
    srv = resized(cloud, srv['id'])
    assert (srv['host'], srv['flavor']) == (NODE2, 'm1.tiny')
    # the stranger cannot confirm it either; the owner reverts it
    one_line(act(stranger, srv['id'], {'confirmResize': None}), 404,
             'could not be found')
    act(cloud.owner, srv['id'], {'revertResize': None})
    assert cloudlib.wait_status(cloud.owner, srv['id'])['host'] == NODE1
    cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_refusals_are_one_clear_line(cloud):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    sid = srv['id']
    for body, status, part in (
            ({'confirmResize': None}, 409, 'vm_state=active'),
            ({'revertResize': None}, 409, 'vm_state=active'),
            ({'resize': {'flavorRef': 'm1.tiny'}}, 400, 'already'),
            ({'resize': {'flavorRef': 'm1.nope'}}, 404, 'm1.nope')):
        one_line(act(cloud.owner, sid, body), status, part)
    # no other host: never to the same host (nova's default)
    enable(cloud, NODE2, False)
    one_line(act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.small'}}),
             400, 'No valid host')
    enable(cloud, NODE2)
    assert cloudlib.wait_status(cloud.owner, sid)['status'] == 'active'
    act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.small'}})
    resized(cloud, sid)
    one_line(act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.medium'}}),
             409, 'vm_state=resized')
    act(cloud.owner, sid, {'confirmResize': None})
    cloudlib.wait_status(cloud.owner, sid)
    one_line(act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.tiny'}}),
             400, 'smaller disk')
    cloud.owner.ok('DELETE', '/v1/servers/%s' % sid)


def test_hvctl_resize_confirm_migrate_revert(cloud, hvctl):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    shown = json.loads(hvctl('--json', 'resize', srv['id'],
                             'm1.small').stdout)
    assert shown['status'] in ('running', 'post-migrating', 'finished')
    resized(cloud, srv['id'])
    hvctl('resize-confirm', srv['id'])
    assert cloudlib.wait_status(cloud.owner, srv['id'])['host'] == NODE2
    out = hvctl('migrate', srv['id'], '--host', NODE1).stdout
    assert '| source_compute         | %s' % NODE2 in out, out
    assert resized(cloud, srv['id'])['host'] == NODE1
    hvctl('resize-revert', srv['id'])
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['host'], srv['flavor']) == (NODE2, 'm1.small')
    proc = hvctl('resize-confirm', srv['id'], check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines()
               if line.startswith('hvctl:')]
    assert line.startswith(
        'hvctl: error: Cannot confirm the resize of instance %s while '
        'vm_state=active task_state=None' % srv['id']), proc.stderr
    cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_a_resize_up_over_quota_is_403(cloud):  # noqa: F811
    project = cloud.admin.ok('POST', '/v3/projects',
                             json={'project': {'name': 'tight'}})['project']
    cloud.admin.ok('PUT', '/v1/quotas/%s' % project['id'], json={
        'instances': 2, 'cores': 1, 'ram': -1})
    dev = cloud.add_user(project['id'], 'tightdev', 'developer')
    srv = dev.ok('POST', '/v1/servers', json={'server': {
        'name': 'tight-1', 'flavor': 'm1.tiny'}})['server']
    srv = cloudlib.wait_status(dev, srv['id'])
    one_line(act(dev, srv['id'], {'resize': {'flavorRef': 'm1.medium'}}),
             403, 'Quota exceeded for cores')
    # the same cores, more disk: within the quota
    r = act(dev, srv['id'], {'resize': {'flavorRef': 'm1.small'}})
    assert r.status_code == 202, r.text
    assert cloudlib.wait_status(dev, srv['id'], until=('resized',))[
        'flavor'] == 'm1.small'
    dev.ok('DELETE', '/v1/servers/%s' % srv['id'])
