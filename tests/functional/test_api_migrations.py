"""Live migration for operators over HTTP and hvctl: the os-migrateLive
action, a server's migrations (list, show, abort, force complete),
os-migrations, and ``hvctl host-drain``, on a cloud of real processes:
hvagent-api, conductor, scheduler and two fake-driver agents on a private
RabbitMQ vhost. NODE1's moves are quick; NODE2's copy for 20 s (so one of
them can be aborted or forced to complete). Only admins may do any of it
(the role matrix is in test_api_policy.py); hostile and wrong input gets
one clear line."""
import configparser
import json
import os
import subprocess
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

NODE1, NODE2 = 'hvtest-mig1', 'hvtest-mig2'
COMPUTE = 'hvagent-compute'
SLOW = 20


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('api-migrations')
    c = cloudlib.ApiCloud(tmp, extra={
        'DEFAULT': {'host': NODE1},
        'scheduler': {'host_state_refresh_interval': 0},
        'migration': {'progress_interval': 0.2}})
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(c.dep.config)
    conf['DEFAULT']['host'] = NODE2
    conf['DEFAULT']['state_path'] = str(tmp / 'node2')
    conf['fake_driver'] = {'migration_seconds': str(SLOW)}
    node2 = tmp / 'node2.conf'
    with open(node2, 'w') as f:
        conf.write(f)
    try:
        c.start()
        c.dep.start(COMPUTE, as_name=NODE2, config=node2)
        wait_until(lambda: {s['host'] for s in c.admin.ok(
            'GET', cloudlib.COMPUTE + '/os-services')['services']
            if s['state'] == 'up' and s['binary'] == COMPUTE} ==
            {NODE1, NODE2}, 60, message='both agents up')
        project = c.admin.ok('POST', '/v3/projects',
                             json={'project': {'name': 'movers'}})['project']
        c.admin.ok('PUT', '%s/os-quota-sets/%s' % (
            cloudlib.COMPUTE, project['id']), json={'quota_set': {
                'instances': -1, 'cores': -1, 'ram': -1}})
        c.owner = c.add_user(project['id'], 'moverdev', 'developer')
        c.itsec = c.add_user(project['id'], 'moversec', 'itsec')
        yield c
    finally:
        codes = c.stop()
    assert set(codes.values()) == {0}, codes
    for name in (COMPUTE, NODE2, 'hvagent-conductor', 'hvagent-api'):
        log = c.dep.log(name)
        assert 'Traceback' not in log, log[-5000:]
        # the source agent logs the aborts asked for at ERROR, nothing else
        assert [line for line in log.splitlines() if ' ERROR ' in line
                and 'was aborted: aborted on request' not in line] == [], \
            log[-5000:]


def enable(cloud, host, enabled=True):
    cloud.admin.ok('PUT', cloudlib.COMPUTE + '/os-services/%s' % (
        'enable' if enabled else 'disable'), json={'host': host,
                                                   'binary': COMPUTE})


@pytest.fixture(autouse=True)
def both_enabled(cloud):
    yield
    for host in (NODE1, NODE2):
        enable(cloud, host)


#: where a server runs, in nova's server view (admin and itsec see it)
HOST = 'OS-EXT-SRV-ATTR:host'
OS_MIGRATIONS = cloudlib.COMPUTE + '/os-migrations'
#: nova's OS-EXT-STS:power_state of a running guest
RUNNING = 1


def settled(cloud, server_id, until=('active', 'error', 'stopped',
                                     'paused'), timeout=30):
    """The server once its owner sees it settled (wait_status), as the
    admin sees it: nova's view with its host (``HOST``)."""
    cloudlib.wait_status(cloud.owner, server_id, until=until,
                         timeout=timeout)
    return cloudlib.server(cloud.admin, server_id)


def servers_path(server_id):
    return '%s/servers/%s' % (cloudlib.COMPUTE, server_id)


def delete(cloud, server_id):
    """The owner deletes the server (nova: 204)."""
    cloud.owner.ok('DELETE', servers_path(server_id), status=204)


def boot_on(cloud, host, state='active'):
    """A server of the owner's on ``host`` (the other host disabled
    meanwhile), stopped or paused if asked; the admin's view of it."""
    other = NODE2 if host == NODE1 else NODE1
    enable(cloud, other, False)
    try:
        sid = cloudlib.boot(cloud.owner, 'mv-%s' % uuid.uuid4().hex[:6])
        srv = settled(cloud, sid)
    finally:
        enable(cloud, other)
    assert (cloudlib.vm_state(srv), srv[HOST]) == ('active', host), srv
    if state != 'active':
        r = cloudlib.action(cloud.owner, sid, {
            {'stopped': 'os-stop', 'paused': 'pause'}[state]: None})
        assert r.status_code == 202, r.text
        srv = settled(cloud, sid, until=(state,))
    return srv


def migrate(client, server_id, **body):
    return cloudlib.action(client, server_id, {'os-migrateLive': body})


def migration_path(server_id, mid=None):
    """C/servers/{id}/migrations[/{mid}]."""
    return servers_path(server_id) + '/migrations' + (
        '/%s' % mid if mid else '')


def migrations(cloud, server_id):
    return cloud.admin.ok('GET', migration_path(server_id))['migrations']


def settled_migration(cloud, server_id, mid, timeout=60):
    return wait_until(lambda: (lambda m: m if m['status'] in (
        'completed', 'error', 'cancelled') else None)(cloud.admin.ok(
            'GET', migration_path(server_id, mid))['migration']),
        timeout, interval=0.1)


def one_line(r, status, *parts):
    assert r.status_code == status, r.text
    text = r.json()['error']['message']
    assert '\n' not in text and len(text) < 400, text
    for part in parts:
        assert part in text, text
    return text


# ---------------------------------------------------------------- REST
def test_live_migrate_there_and_back_in_novas_shapes(cloud):
    srv = boot_on(cloud, NODE1)
    r = migrate(cloud.admin, srv['id'], host=None, block_migration='auto')
    assert r.status_code == 202, r.text
    mig = r.json()['migration']
    assert set(mig) == {
        'id', 'server_uuid', 'migration_type', 'source_compute',
        'dest_compute', 'status', 'memory_total_bytes',
        'memory_processed_bytes', 'memory_remaining_bytes',
        'disk_total_bytes', 'disk_processed_bytes', 'disk_remaining_bytes',
        'error', 'created_at', 'updated_at'}
    assert (mig['server_uuid'], mig['source_compute'], mig['dest_compute'],
            mig['migration_type']) == (srv['id'], NODE1, NODE2,
                                       'live-migration')
    done = settled_migration(cloud, srv['id'], mig['id'])
    assert done['status'] == 'completed' and done['error'] is None
    assert done['memory_total_bytes'] > 0 and \
        done['memory_remaining_bytes'] == 0
    srv = settled(cloud, srv['id'])
    assert (srv[HOST], cloudlib.vm_state(srv),
            srv['OS-EXT-STS:power_state']) == (NODE2, 'active', RUNNING)
    # back, named, with the disk copied; paused guests move too
    r = cloudlib.action(cloud.owner, srv['id'], {'pause': None})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(cloud.owner, srv['id'], until=('paused',))
    r = migrate(cloud.admin, srv['id'], host=NODE1, block_migration=True)
    assert r.status_code == 202, r.text
    back = settled_migration(cloud, srv['id'], r.json()['migration']['id'],
                             timeout=SLOW + 30)
    assert back['status'] == 'completed', back
    srv = settled(cloud, srv['id'])
    assert (srv[HOST], cloudlib.vm_state(srv)) == (NODE1, 'paused')
    listed = migrations(cloud, srv['id'])
    assert [m['id'] for m in listed] == [back['id'], mig['id']]
    every = cloud.admin.ok('GET', OS_MIGRATIONS, params={
        'instance_uuid': srv['id']})['migrations']
    assert [(m['id'], m['instance_uuid']) for m in every] == [
        (back['id'], srv['id']), (mig['id'], srv['id'])]
    assert cloud.admin.ok('GET', '%s/%s' % (OS_MIGRATIONS, mig['id']))[
        'migration']['status'] == 'completed'
    by_host = cloud.admin.ok('GET', OS_MIGRATIONS, params={
        'host': NODE2, 'status': 'completed', 'limit': 1})['migrations']
    assert len(by_host) == 1 and NODE2 in (by_host[0]['source_compute'],
                                           by_host[0]['dest_compute'])
    r = cloudlib.action(cloud.owner, srv['id'], {'unpause': None})
    assert r.status_code == 202, r.text
    # (a delete racing the agent's end of the unpause can be a 409: the
    # conductor's compare-and-swap of task_state loses)
    cloudlib.wait_status(cloud.owner, srv['id'], until=('active',))
    delete(cloud, srv['id'])


def test_abort_and_force_complete_of_a_slow_move(cloud):
    srv = boot_on(cloud, NODE2)
    mig = migrate(cloud.admin, srv['id']).json()['migration']
    path = migration_path(srv['id'], mig['id'])
    wait_until(lambda: cloud.admin.ok('GET', path)['migration'][
        'memory_processed_bytes'] > 0, 30)
    r = cloud.admin.call('DELETE', path)
    assert r.status_code == 202, r.text
    done = settled_migration(cloud, srv['id'], mig['id'])
    assert done['status'] == 'cancelled'
    assert 'was aborted' in done['error'], done
    srv = settled(cloud, srv['id'])
    assert (srv[HOST], cloudlib.vm_state(srv)) == (NODE2, 'active')
    # again, forced to complete: it ends long before SLOW seconds
    mig = migrate(cloud.admin, srv['id']).json()['migration']
    path = migration_path(srv['id'], mig['id'])
    wait_until(lambda: cloud.admin.ok('GET', path)['migration'][
        'status'] == 'running', 30)
    r = cloud.admin.call('POST', path + '/action',
                         json={'force_complete': None})
    assert r.status_code == 202, r.text
    assert settled_migration(cloud, srv['id'], mig['id'],
                             timeout=SLOW / 2)['status'] == 'completed'
    srv = settled(cloud, srv['id'])
    assert (srv[HOST], cloudlib.vm_state(srv)) == (NODE1, 'active')
    # nothing in progress any more: 404 to abort, 404 to force
    one_line(cloud.admin.call('DELETE', path), 404, 'could not be found')
    one_line(cloud.admin.call('POST', path + '/action', json={
        'force_complete': None}), 404, 'could not be found')
    delete(cloud, srv['id'])


def test_refusals_are_one_clear_line(cloud):
    srv = boot_on(cloud, NODE1)
    other = boot_on(cloud, NODE1)
    admin = cloud.admin
    one_line(migrate(admin, srv['id'], host='nowhere'), 400,
             'No valid host')
    one_line(migrate(admin, srv['id'], host=NODE1), 400,
             'runs on %s already' % NODE1)
    enable(cloud, NODE2, False)
    one_line(migrate(admin, srv['id']), 400, 'No valid host',
             'down or disabled')
    enable(cloud, NODE2)
    one_line(migrate(admin, srv['id'], host='evil\x1b[2Jhost'), 400,
             'os-migrateLive.host')
    one_line(migrate(admin, srv['id'], host='x' * 10000), 400,
             'at most 255 characters')
    one_line(migrate(admin, srv['id'], block_migration='yes'), 400,
             'block_migration')
    one_line(migrate(admin, srv['id'], force=True), 400,
             'Extra inputs are not permitted')
    one_line(migrate(admin, str(uuid.uuid4())), 404, 'could not be found')
    # another server's migration is not found under this one
    mig = migrate(admin, other['id'], host=NODE2).json()['migration']
    settled_migration(cloud, other['id'], mig['id'])
    one_line(admin.call('GET', migration_path(srv['id'], mig['id'])), 404,
             'could not be found')
    one_line(admin.call('GET', migration_path(srv['id'], uuid.uuid4())),
             404, 'could not be found')
    one_line(admin.call('GET', migration_path(srv['id'], 'not-a-uuid')),
             400, 'migration_id')
    one_line(admin.call('POST', migration_path(other['id'], mig['id']) +
                        '/action', json={'force_complete': 1}), 400,
             'force_complete')
    for params, part in (({'status': 'bogus'}, 'status'),
                         ({'limit': 0}, 'limit'),
                         ({'instance_uuid': 'x'}, 'instance_uuid')):
        one_line(admin.call('GET', OS_MIGRATIONS, params=params), 400,
                 part)
    # a stopped guest does not move live
    r = cloudlib.action(cloud.owner, srv['id'], {'os-stop': None})
    assert r.status_code == 202, r.text
    cloudlib.wait_status(cloud.owner, srv['id'], until=('stopped',))
    one_line(migrate(admin, srv['id']), 409, 'vm_state=stopped')
    assert [m['status'] for m in migrations(cloud, srv['id'])] == [
        'error', 'error']       # the two that found no host
    for s in (srv, other):
        delete(cloud, s['id'])


def test_users_get_403_before_anything(cloud):
    srv = boot_on(cloud, NODE1)
    base = servers_path(srv['id'])
    mid = str(uuid.uuid4())
    for who in (cloud.owner, cloud.itsec):
        for method, path, body in (
                ('POST', base + '/action', {'os-migrateLive': {}}),
                ('GET', base + '/migrations', None),
                ('GET', '%s/migrations/%s' % (base, mid), None),
                ('DELETE', '%s/migrations/%s' % (base, mid), None),
                ('POST', '%s/migrations/%s/action' % (base, mid),
                 {'force_complete': None}),
                ('GET', OS_MIGRATIONS, None),
                ('GET', '%s/%s' % (OS_MIGRATIONS, mid), None),
                # a server that does not exist: still 403, no oracle
                ('POST', servers_path(uuid.uuid4()) + '/action',
                 {'os-migrateLive': {}})):
            one_line(who.call(method, path, json=body), 403,
                     'Policy does not allow ')
    assert migrations(cloud, srv['id']) == []
    assert settled(cloud, srv['id'])[HOST] == NODE1
    delete(cloud, srv['id'])


# --------------------------------------------------------------- hvctl
def hvctl_rpc(cloud, *args, check=True):
    proc = subprocess.run(
        [os.path.join(deployment.BIN, 'hvctl'), '--transport-url',
         cloud.vhost.url, *args, '--config-file', deployment.bus_conf()],
        capture_output=True, text=True, timeout=180)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(params=['rpc', 'api'])
def hvctl(request, cloud, tmp_path):
    """hvctl as the admin, over the bus or through hvagent-api."""
    if request.param == 'rpc':
        return lambda *args, check=True: hvctl_rpc(cloud, *args,
                                                   check=check)
    cloudlib.hvctl_api(cloud, tmp_path, 'login', '--user', 'admin')
    return lambda *args, check=True: cloudlib.hvctl_api(
        cloud, tmp_path, *args, check=check)


def test_hvctl_live_migrate_list_and_abort(cloud, hvctl):
    quick = boot_on(cloud, NODE1)
    shown = json.loads(hvctl('--json', 'live-migrate', quick['id'],
                             '--host', NODE2).stdout)
    mid = shown.get('id') or shown.get('uuid')
    assert settled_migration(cloud, quick['id'], mid)['status'] == \
        'completed'
    table = hvctl('migration-list', '--server', quick['id']).stdout
    assert [line for line in table.splitlines() if mid in line and
            '| completed |' in line and NODE1 in line], table
    out = hvctl('migration-show', mid).stdout
    assert '| status ' in out and 'completed' in out and '| memory ' in out
    slow = quick        # now on NODE2, whose moves are slow
    out = hvctl('live-migrate', slow['id']).stdout
    assert '| source_compute         | %s' % NODE2 in out, out
    wait_until(lambda: migrations(cloud, slow['id'])[0][
        'memory_processed_bytes'] > 0, 30)
    running = hvctl('migration-list', '--host', NODE2, '--status',
                    'running').stdout
    assert slow['id'] in running, running
    hvctl('migration-abort', slow['id'])
    mig = migrations(cloud, slow['id'])[0]
    assert settled_migration(cloud, slow['id'], mig['id'])['status'] == \
        'cancelled'
    assert settled(cloud, slow['id'])[HOST] == NODE2
    # refusals: one line, exit 1
    for args, part in ((('migration-abort', slow['id']), 'in progress'),
                       (('live-migrate', slow['id'], '--host', NODE2),
                        'runs on %s already' % NODE2),
                       (('migration-show', str(uuid.uuid4())),
                        'could not be found')):
        proc = hvctl(*args, check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert part in proc.stderr and 'Traceback' not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    delete(cloud, slow['id'])


def summary(proc):
    return {r['uuid']: r for r in json.loads(proc.stdout)}


def test_host_drain_moves_everything(cloud, hvctl):
    guests = [boot_on(cloud, NODE1) for _ in range(3)]
    proc = hvctl('--json', 'host-drain', NODE1, '--max-concurrent', '2',
                 '--timeout', '120')
    done = summary(proc)
    for srv in guests:
        assert (done[srv['id']]['result'], done[srv['id']]['host']) == (
            'moved', NODE2), done
        assert settled(cloud, srv['id'])[HOST] == NODE2
    assert 'completed (moved to %s)' % NODE2 in proc.stderr
    (svc,) = cloud.admin.ok('GET', cloudlib.COMPUTE + '/os-services',
                            params={'host': NODE1, 'binary': COMPUTE})[
        'services']
    assert (svc['status'], svc['disabled_reason']) == ('disabled', 'drain')
    for srv in guests:
        delete(cloud, srv['id'])


def test_host_drain_reports_what_cannot_move(cloud, hvctl):
    moving = boot_on(cloud, NODE1)
    stopped = boot_on(cloud, NODE1, state='stopped')
    proc = hvctl('host-drain', NODE1, '--no-disable', check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    rows = {line.split('|')[1].strip(): [c.strip() for c in
                                         line.split('|')[1:-1]]
            for line in lines if line.startswith('| ')}
    assert rows[moving['id']][2:4] == ['moved', NODE2], proc.stdout
    assert rows[stopped['id']][2:4] == ['not moved', NODE1], proc.stdout
    assert 'vm_state stopped: only active and paused instances move live' \
        in rows[stopped['id']][5]
    (svc,) = cloud.admin.ok('GET', cloudlib.COMPUTE + '/os-services',
                            params={'host': NODE1, 'binary': COMPUTE})[
        'services']
    assert svc['status'] == 'enabled'
    # no host to go to: the refusal is the summary's reason
    back = boot_on(cloud, NODE1)
    enable(cloud, NODE2, False)
    proc = hvctl('--json', 'host-drain', NODE1, '--no-disable', check=False)
    assert proc.returncode == 1
    row = summary(proc)[back['id']]
    assert row['result'] == 'not moved' and 'No valid host' in \
        row['reason'], row
    for srv in (moving, stopped, back):
        delete(cloud, srv['id'])
