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
        wait_until(lambda: {h['host'] for h in c.admin.ok(
            'GET', '/v1/hosts')['hosts'] if h['up'] and
            h['binary'] == COMPUTE} == {NODE1, NODE2}, 60,
            message='both agents up')
        project = c.admin.ok('POST', '/v3/projects',
                             json={'project': {'name': 'movers'}})['project']
        c.admin.ok('PUT', '/v1/quotas/%s' % project['id'], json={
            'instances': -1, 'cores': -1, 'ram': -1})
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
    cloud.admin.ok('PUT', '/compute/v2.1/os-services/%s' % (
        'enable' if enabled else 'disable'), json={'host': host,
                                                   'binary': COMPUTE})


@pytest.fixture(autouse=True)
def both_enabled(cloud):
    yield
    for host in (NODE1, NODE2):
        enable(cloud, host)


def boot_on(cloud, host, state='active'):
    """A server of the owner's on ``host`` (the other host disabled
    meanwhile), stopped or paused if asked."""
    other = NODE2 if host == NODE1 else NODE1
    enable(cloud, other, False)
    try:
        srv = cloud.owner.ok('POST', '/v1/servers', json={'server': {
            'name': 'mv-%s' % uuid.uuid4().hex[:6],
            'flavor': 'm1.tiny'}})['server']
        srv = cloudlib.wait_status(cloud.owner, srv['id'])
    finally:
        enable(cloud, other)
    assert (srv['status'], srv['host']) == ('active', host), srv
    if state != 'active':
        cloud.owner.ok('POST', '/v1/servers/%s/action' % srv['id'], json={
            'action': {'stopped': 'stop', 'paused': 'pause'}[state]})
        srv = cloudlib.wait_status(cloud.owner, srv['id'], until=(state,))
    return srv


def migrate(client, server_id, **body):
    return client.call('POST', '/v1/servers/%s/action' % server_id,
                       json={'os-migrateLive': body})


def migrations(cloud, server_id):
    return cloud.admin.ok('GET', '/v1/servers/%s/migrations'
                          % server_id)['migrations']


def settled_migration(cloud, server_id, mid, timeout=60):
    return wait_until(lambda: (lambda m: m if m['status'] in (
        'completed', 'error', 'cancelled') else None)(cloud.admin.ok(
            'GET', '/v1/servers/%s/migrations/%s' % (server_id, mid))[
            'migration']), timeout, interval=0.1)


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
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['host'], srv['status'], srv['power_state']) == (
        NODE2, 'active', 'running')
    # back, named, with the disk copied; paused guests move too
    cloud.owner.ok('POST', '/v1/servers/%s/action' % srv['id'],
                   json={'action': 'pause'})
    cloudlib.wait_status(cloud.owner, srv['id'], until=('paused',))
    r = migrate(cloud.admin, srv['id'], host=NODE1, block_migration=True)
    assert r.status_code == 202, r.text
    back = settled_migration(cloud, srv['id'], r.json()['migration']['id'],
                             timeout=SLOW + 30)
    assert back['status'] == 'completed', back
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['host'], srv['status']) == (NODE1, 'paused')
    listed = migrations(cloud, srv['id'])
    assert [m['id'] for m in listed] == [back['id'], mig['id']]
    every = cloud.admin.ok('GET', '/v1/os-migrations', params={
        'instance_uuid': srv['id']})['migrations']
    assert [(m['id'], m['instance_uuid']) for m in every] == [
        (back['id'], srv['id']), (mig['id'], srv['id'])]
    assert cloud.admin.ok('GET', '/v1/os-migrations/%s' % mig['id'])[
        'migration']['status'] == 'completed'
    by_host = cloud.admin.ok('GET', '/v1/os-migrations', params={
        'host': NODE2, 'status': 'completed', 'limit': 1})['migrations']
    assert len(by_host) == 1 and NODE2 in (by_host[0]['source_compute'],
                                           by_host[0]['dest_compute'])
    # the old form of the action route still works
    cloud.owner.ok('POST', '/v1/servers/%s/action' % srv['id'],
                   json={'action': 'unpause'})
    cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


def test_abort_and_force_complete_of_a_slow_move(cloud):
    srv = boot_on(cloud, NODE2)
    mig = migrate(cloud.admin, srv['id']).json()['migration']
    path = '/v1/servers/%s/migrations/%s' % (srv['id'], mig['id'])
    wait_until(lambda: cloud.admin.ok('GET', path)['migration'][
        'memory_processed_bytes'] > 0, 30)
    r = cloud.admin.call('DELETE', path)
    assert r.status_code == 202, r.text
    done = settled_migration(cloud, srv['id'], mig['id'])
    assert done['status'] == 'cancelled'
    assert 'was aborted' in done['error'], done
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['host'], srv['status']) == (NODE2, 'active')
    # again, forced to complete: it ends long before SLOW seconds
    mig = migrate(cloud.admin, srv['id']).json()['migration']
    path = '/v1/servers/%s/migrations/%s' % (srv['id'], mig['id'])
    wait_until(lambda: cloud.admin.ok('GET', path)['migration'][
        'status'] == 'running', 30)
    r = cloud.admin.call('POST', path + '/action',
                         json={'force_complete': None})
    assert r.status_code == 202, r.text
    assert settled_migration(cloud, srv['id'], mig['id'],
                             timeout=SLOW / 2)['status'] == 'completed'
    srv = cloudlib.wait_status(cloud.owner, srv['id'])
    assert (srv['host'], srv['status']) == (NODE1, 'active')
    # nothing in progress any more: 404 to abort, 404 to force
    one_line(cloud.admin.call('DELETE', path), 404, 'could not be found')
    one_line(cloud.admin.call('POST', path + '/action', json={
        'force_complete': None}), 404, 'could not be found')
    cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


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
    one_line(admin.call('GET', '/v1/servers/%s/migrations/%s' % (
        srv['id'], mig['id'])), 404, 'could not be found')
    one_line(admin.call('GET', '/v1/servers/%s/migrations/%s' % (
        srv['id'], uuid.uuid4())), 404, 'could not be found')
    one_line(admin.call('GET', '/v1/servers/%s/migrations/not-a-uuid'
                        % srv['id']), 400, 'migration_id')
    one_line(admin.call('POST', '/v1/servers/%s/migrations/%s/action' % (
        other['id'], mig['id']), json={'force_complete': 1}), 400,
        'force_complete')
    for params, part in (({'status': 'bogus'}, 'status'),
                         ({'limit': 0}, 'limit'),
                         ({'instance_uuid': 'x'}, 'instance_uuid')):
        one_line(admin.call('GET', '/v1/os-migrations', params=params), 400,
                 part)
    # a stopped guest does not move live
    cloud.owner.ok('POST', '/v1/servers/%s/action' % srv['id'],
                   json={'action': 'stop'})
    cloudlib.wait_status(cloud.owner, srv['id'], until=('stopped',))
    one_line(migrate(admin, srv['id']), 409, 'vm_state=stopped')
    assert [m['status'] for m in migrations(cloud, srv['id'])] == [
        'error', 'error']       # the two that found no host
    for s in (srv, other):
        cloud.owner.ok('DELETE', '/v1/servers/%s' % s['id'])


def test_users_get_403_before_anything(cloud):
    srv = boot_on(cloud, NODE1)
    base = '/v1/servers/%s' % srv['id']
    mid = str(uuid.uuid4())
    for who in (cloud.owner, cloud.itsec):
        for method, path, body in (
                ('POST', base + '/action', {'os-migrateLive': {}}),
                ('GET', base + '/migrations', None),
                ('GET', '%s/migrations/%s' % (base, mid), None),
                ('DELETE', '%s/migrations/%s' % (base, mid), None),
                ('POST', '%s/migrations/%s/action' % (base, mid),
                 {'force_complete': None}),
                ('GET', '/v1/os-migrations', None),
                ('GET', '/v1/os-migrations/%s' % mid, None),
                # a server that does not exist: still 403, no oracle
                ('POST', '/v1/servers/%s/action' % uuid.uuid4(),
                 {'os-migrateLive': {}})):
            one_line(who.call(method, path, json=body), 403,
                     'Policy does not allow ')
    assert migrations(cloud, srv['id']) == []
    assert cloudlib.wait_status(cloud.owner, srv['id'])['host'] == NODE1
    cloud.owner.ok('DELETE', base)


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
    assert cloudlib.wait_status(cloud.owner, slow['id'])['host'] == NODE2
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
    cloud.owner.ok('DELETE', '/v1/servers/%s' % slow['id'])


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
        assert cloudlib.wait_status(cloud.owner, srv['id'])['host'] == NODE2
    assert 'completed (moved to %s)' % NODE2 in proc.stderr
    (svc,) = cloud.admin.ok('GET', '/compute/v2.1/os-services', params={
        'host': NODE1, 'binary': COMPUTE})['services']
    assert (svc['status'], svc['disabled_reason']) == ('disabled', 'drain')
    for srv in guests:
        cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])


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
    (svc,) = cloud.admin.ok('GET', '/compute/v2.1/os-services', params={
        'host': NODE1, 'binary': COMPUTE})['services']
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
        cloud.owner.ok('DELETE', '/v1/servers/%s' % srv['id'])
