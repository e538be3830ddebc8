"""Resize and cold migration over HTTP and hvctl, in nova's shapes
(``resize``, ``migrate``, ``confirmResize``, ``revertResize`` server
actions), on test_api_migrations' cloud of real processes (hvagent-api,
conductor, scheduler, two fake-driver agents on a private RabbitMQ
vhost): the owner resizes, confirms and reverts; only admins migrate;
another project's member finds no such server; refusals are one line."""
import json

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import openstack_cli as oscli
from tests.fixtures.waiting import wait_until
from tests.functional.test_api_migrations import HOST
from tests.functional.test_api_migrations import NODE1
from tests.functional.test_api_migrations import NODE2
from tests.functional.test_api_migrations import RUNNING
from tests.functional.test_api_migrations import boot_on
from tests.functional.test_api_migrations import both_enabled  # noqa: F401
from tests.functional.test_api_migrations import cloud  # noqa: F401
from tests.functional.test_api_migrations import delete
from tests.functional.test_api_migrations import enable
from tests.functional.test_api_migrations import hvctl  # noqa: F401
from tests.functional.test_api_migrations import migrations
from tests.functional.test_api_migrations import one_line
from tests.functional.test_api_migrations import servers_path
from tests.functional.test_api_migrations import settled

pytestmark = pytest.mark.functional
act = cloudlib.action


def resized(cloud, server_id):  # noqa: F811
    """The admin's view of the server once it waits for confirmResize
    or revertResize (vm_state resized)."""
    return settled(cloud, server_id, until=('resized',))


def flavor(cloud, srv):  # noqa: F811
    """The name of the server's flavor."""
    return cloudlib.flavor_name(cloud.admin, srv)


def test_resize_confirm_and_revert(cloud):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    r = act(cloud.owner, srv['id'], {'resize': {'flavorRef': 'm1.small'}})
    assert r.status_code == 202, r.text
    mig = r.json()['migration']
    assert (mig['migration_type'], mig['source_compute'],
            mig['dest_compute']) == ('resize', NODE1, NODE2)
    srv = resized(cloud, srv['id'])
    assert (srv[HOST], flavor(cloud, srv), srv['OS-EXT-STS:power_state']) == (
        NODE2, 'm1.small', RUNNING)
    r = act(cloud.owner, srv['id'], {'confirmResize': None})
    assert r.status_code == 202, r.text
    assert r.json()['migration']['status'] == 'confirmed'
    srv = settled(cloud, srv['id'])
    assert (cloudlib.vm_state(srv), srv[HOST], flavor(cloud, srv)) == (
        'active', NODE2, 'm1.small')
    # up again, then back: the old flavor, the old host
    r = act(cloud.owner, srv['id'], {'resize': {'flavorRef': 'm1.medium'}})
    assert r.status_code == 202, r.text
    assert resized(cloud, srv['id'])[HOST] == NODE1
    r = act(cloud.owner, srv['id'], {'revertResize': None})
    assert r.status_code == 202, r.text
    srv = settled(cloud, srv['id'])
    assert (cloudlib.vm_state(srv), srv[HOST], flavor(cloud, srv),
            srv['OS-EXT-STS:power_state']) == (
        'active', NODE2, 'm1.small', RUNNING)
    assert [m['status'] for m in migrations(cloud, srv['id'])] == [
        'reverted', 'confirmed']
    names = [a['action'] for a in cloud.owner.ok(
        'GET', servers_path(srv['id']) + '/os-instance-actions')[
        'instanceActions']]
    assert {'resize', 'confirmResize', 'revertResize'} <= set(names)
    delete(cloud, srv['id'])


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
    assert (srv[HOST], flavor(cloud, srv)) == (NODE2, 'm1.tiny')
    # the stranger cannot confirm it either; the owner reverts it
    one_line(act(stranger, srv['id'], {'confirmResize': None}), 404,
             'could not be found')
    r = act(cloud.owner, srv['id'], {'revertResize': None})
    assert r.status_code == 202, r.text
    assert settled(cloud, srv['id'])[HOST] == NODE1
    delete(cloud, srv['id'])


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
    assert cloudlib.vm_state(cloudlib.wait_status(cloud.owner, sid)) == \
        'active'
    r = act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.small'}})
    assert r.status_code == 202, r.text
    resized(cloud, sid)
    one_line(act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.medium'}}),
             409, 'vm_state=resized')
    r = act(cloud.owner, sid, {'confirmResize': None})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(cloud.owner, sid)
    one_line(act(cloud.owner, sid, {'resize': {'flavorRef': 'm1.tiny'}}),
             400, 'smaller disk')
    delete(cloud, sid)


def test_hvctl_resize_confirm_migrate_revert(cloud, hvctl):  # noqa: F811
    srv = boot_on(cloud, NODE1)
    shown = json.loads(hvctl('--json', 'resize', srv['id'],
                             'm1.small').stdout)
    assert shown['status'] in ('running', 'post-migrating', 'finished')
    resized(cloud, srv['id'])
    hvctl('resize-confirm', srv['id'])
    assert settled(cloud, srv['id'])[HOST] == NODE2
    out = hvctl('migrate', srv['id'], '--host', NODE1).stdout
    assert '| source_compute         | %s' % NODE2 in out, out
    assert resized(cloud, srv['id'])[HOST] == NODE1
    hvctl('resize-revert', srv['id'])
    srv = settled(cloud, srv['id'])
    assert (srv[HOST], flavor(cloud, srv)) == (NODE2, 'm1.small')
    proc = hvctl('resize-confirm', srv['id'], check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines()
               if line.startswith('hvctl:')]
    assert line.startswith(
        'hvctl: error: Cannot confirm the resize of instance %s while '
        'vm_state=active task_state=None' % srv['id']), proc.stderr
    delete(cloud, srv['id'])


def test_a_resize_up_over_quota_is_403(cloud):  # noqa: F811
    project = cloud.admin.ok('POST', '/v3/projects',
                             json={'project': {'name': 'tight'}})['project']
    cloud.admin.ok('PUT', '%s/os-quota-sets/%s' % (
        cloudlib.COMPUTE, project['id']), json={'quota_set': {
            'instances': 2, 'cores': 1, 'ram': -1}})
    dev = cloud.add_user(project['id'], 'tightdev', 'developer')
    srv = cloudlib.wait_status(dev, cloudlib.boot(dev, 'tight-1'))
    one_line(act(dev, srv['id'], {'resize': {'flavorRef': 'm1.medium'}}),
             403, 'Quota exceeded for cores')
    # the same cores, more disk: within the quota
    r = act(dev, srv['id'], {'resize': {'flavorRef': 'm1.small'}})
    assert r.status_code == 202, r.text
    assert flavor(cloud, cloudlib.wait_status(
        dev, srv['id'], until=('resized',))) == 'm1.small'
    dev.ok('DELETE', servers_path(srv['id']), status=204)


def test_the_openstack_clients_move_a_server(cloud, tmp_path):  # noqa: F811
    """At microversion 2.1: openstacksdk live-migrates as the admin (the
    ``openstack`` command cannot: python-openstackclient 10.5 passes
    openstacksdk a ``disk_overcommit`` it does not take below 2.25, and
    fails before any request) and is refused as the owner; the unmodified
    ``openstack`` command migrates cold (``server migrate --wait``, admin),
    the owner reverts it (``server resize revert``), resizes (``server
    resize --flavor --wait``) and confirms (``server resize confirm``)."""
    env = oscli.environment(tmp_path, {
        'admin': oscli.cloud_entry(cloud, 'admin', 'admin'),
        'owner': oscli.cloud_entry(cloud, 'moverdev', 'movers')})
    srv = boot_on(cloud, NODE1)
    sdk_errors = pytest.importorskip('openstack.exceptions')
    with pytest.raises(sdk_errors.ForbiddenException,
                       match='server:migrate_live'):
        oscli.sdk(cloud, 'moverdev', 'movers').compute.live_migrate_server(
            srv['id'], host=None, block_migration=False)
    oscli.sdk(cloud, 'admin', 'admin').compute.live_migrate_server(
        srv['id'], host=None, block_migration=False)
    wait_until(lambda: settled(cloud, srv['id'])[HOST] == NODE2, 30,
               message='live-migrated to ' + NODE2)
    oscli.openstack(env, 'admin', 'server', 'migrate', '--wait', srv['id'])
    assert oscli.as_json(env, 'owner', 'server', 'show', srv['id'])[
        'status'] == 'VERIFY_RESIZE'
    oscli.openstack(env, 'owner', 'server', 'resize', 'revert', srv['id'])
    srv = settled(cloud, srv['id'])
    assert (cloudlib.vm_state(srv), srv[HOST]) == ('active', NODE2)
    oscli.openstack(env, 'owner', 'server', 'resize', '--flavor', 'm1.small',
                    '--wait', srv['id'])
    oscli.openstack(env, 'owner', 'server', 'resize', 'confirm', srv['id'])
    srv = settled(cloud, srv['id'])
    assert (cloudlib.vm_state(srv), srv[HOST], flavor(cloud, srv)) == (
        'active', NODE1, 'm1.small')
    assert [m['status'] for m in migrations(cloud, srv['id'])] == [
        'confirmed', 'reverted', 'completed']
    delete(cloud, srv['id'])
