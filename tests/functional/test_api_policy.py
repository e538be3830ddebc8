"""The role matrix over HTTP: every endpoint (the list of them:
test_api_route_matrix.py), called as each of the seed's
five roles and as another project's user, is allowed or refused exactly
as the policy says (refused: 403, or 404 where the caller may not even
see the thing). Real hvagent-api + conductor + scheduler + fake-driver
agent on RabbitMQ."""
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.api_cloud import NETWORK
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

CALLERS = ('admin', 'itsec', 'pm', 'netadmin', 'owner', 'dev2', 'other')
P1 = ('pm', 'netadmin', 'owner', 'dev2')          # members of p1
READERS = {'admin', 'itsec', *P1}
#: lifecycle action -> (its body, vm_state it needs, vm_state it leaves,
#: who may)
LIFECYCLE = {
    'stop': ({'os-stop': None}, 'active', 'stopped',
             {'admin', 'pm', 'owner'}),
    'start': ({'os-start': None}, 'stopped', 'active',
              {'admin', 'pm', 'owner'}),
    'reboot': ({'reboot': {'type': 'SOFT'}}, 'active', 'active',
               {'admin', 'pm', 'owner'}),
    'reboot_hard': ({'reboot': {'type': 'HARD'}}, 'active', 'active',
                    {'admin', 'pm', 'owner'}),
    'pause': ({'pause': None}, 'active', 'paused',
              {'admin', 'itsec', 'owner'}),
    'unpause': ({'unpause': None}, 'paused', 'active',
                {'admin', 'itsec', 'owner'}),
    'suspend': ({'suspend': None}, 'active', 'suspended',
                {'admin', 'pm', 'owner'}),
    'resume': ({'resume': None}, 'suspended', 'active',
               {'admin', 'pm', 'owner'}),
    # itsec's quarantine (pause + ports cut off); release lifts it
    'isolate': ({'isolate': None}, 'active', 'paused', {'admin', 'itsec'}),
    'release': ({'release': None}, 'paused', 'active', {'admin', 'itsec'}),
}


@pytest.fixture(scope='module')
def world(api_cloud):
    cloud, admin = api_cloud, api_cloud.admin
    p1, p2, sec = (cloudlib.create_project(admin, name)
                   for name in ('p1', 'p2', 'sec'))
    admin.ok('PUT', '%s/os-quota-sets/%s' % (COMPUTE, p1['id']),
             json={'quota_set': {'instances': -1, 'cores': -1, 'ram': -1}})
    who = {'admin': admin,
           'itsec': cloud.add_user(sec['id'], 'itsec1', 'itsec'),
           'pm': cloud.add_user(p1['id'], 'pm1', 'project_manager'),
           'netadmin': cloud.add_user(p1['id'], 'net1', 'netadmin'),
           'owner': cloud.add_user(p1['id'], 'dev1', 'developer'),
           'dev2': cloud.add_user(p1['id'], 'dev2', 'developer'),
           'other': cloud.add_user(p2['id'], 'dev3', 'developer')}
    group = who['netadmin'].ok('POST', NETWORK + '/security-groups', json={
        'security_group': {'name': 'web'}})['security_group']
    return {'who': who, 'p1': p1, 'p2': p2, 'group': group,
            'server': booted(who['owner'])}


def booted(client, name=None, state='active'):
    """A new server of ``client``'s, once its vm_state is ``state``
    (nova's view)."""
    server_id = cloudlib.boot(client, name or 'vm-%s' % uuid.uuid4().hex[:8])
    srv = cloudlib.wait_status(client, server_id)
    if state != 'active':
        body = {'stopped': {'os-stop': None}, 'paused': {'pause': None},
                'suspended': {'suspend': None}}[state]
        assert cloudlib.action(client, server_id, body).status_code == 202
        srv = cloudlib.wait_status(client, server_id, until=(state,))
    return srv


def expect(client, allowed, method, path, who=None, **kw):
    """``who`` (the caller's name) only for the failure's message."""
    r = client.call(method, path, **kw)
    if allowed:
        assert r.status_code < 300, (who, method, path, r.status_code,
                                     r.text)
    else:
        assert r.status_code in (403, 404), (who, method, path,
                                             r.status_code, r.text)
        assert r.json()['error']['code'] == r.status_code
    return r


def check_all(world, method, path, allowed, **kw):
    for name in CALLERS:
        expect(world['who'][name], name in allowed, method, path, who=name,
               **kw)


def test_reading_an_instance(world):
    base = '%s/servers/%s' % (COMPUTE, world['server']['id'])
    for suffix in ('', '/os-instance-actions', '/metadata'):
        check_all(world, 'GET', base + suffix, READERS)
    (first, *_) = world['who']['owner'].ok(
        'GET', base + '/os-instance-actions')['instanceActions']
    check_all(world, 'GET', '%s/os-instance-actions/%s'
              % (base, first['request_id']), READERS)
    check_all(world, 'POST', base + '/action', {'admin', 'itsec', 'pm',
                                                'owner'},
              json={'os-getConsoleOutput': {'length': 10}})


def test_metadata_writes(world):
    """Setting and deleting a key: admin and the server's owner; the
    project reads it (a key set by the owner before each call, so a
    refusal is the policy's, not a missing key's)."""
    owner = world['who']['owner']
    base = '%s/servers/%s/metadata' % (COMPUTE, world['server']['id'])
    one = base + '/color'
    check_all(world, 'PUT', one, {'admin', 'owner'},
              json={'meta': {'color': 'red'}})
    assert owner.ok('GET', one) == {'meta': {'color': 'red'}}
    check_all(world, 'GET', one, READERS)
    check_all(world, 'POST', base, {'admin', 'owner'},
              json={'metadata': {'size': 'big'}})
    assert owner.ok('GET', base)['metadata'] == {'color': 'red',
                                                  'size': 'big'}
    for name in CALLERS:
        owner.ok('PUT', one, json={'meta': {'color': 'red'}})
        expect(world['who'][name], name in {'admin', 'owner'}, 'DELETE',
               one)
    owner.ok('DELETE', one)
    assert owner.call('GET', one).status_code == 404
    owner.ok('DELETE', base + '/size')


@pytest.mark.parametrize('action', sorted(LIFECYCLE))
def test_lifecycle_actions(world, action):
    body, before, after, allowed = LIFECYCLE[action]
    owner, subject = world['who']['owner'], None
    for name in CALLERS:
        subject = subject or booted(owner, state=before)
        path = '%s/servers/%s/action' % (COMPUTE, subject['id'])
        expect(world['who'][name], name in allowed, 'POST', path, json=body)
        srv = cloudlib.wait_status(owner, subject['id'],
                                   until=(before, after))
        assert cloudlib.vm_state(srv) == (
            after if name in allowed else before), name
        if name in allowed:
            subject = None
    owner.ok('DELETE', '%s/servers/%s' % (COMPUTE, (subject or srv)['id']))


def test_snapshots(world):
    """createImage needs server:create_image (admin, the project's
    manager, the server's owner) and image:create (admin, developers):
    admin and the owner. The image is the caller's project's."""
    sid = world['server']['id']
    path = '%s/servers/%s/action' % (COMPUTE, sid)
    owner = world['who']['owner']
    for name in CALLERS:
        client = world['who'][name]
        r = expect(client, name in {'admin', 'owner'}, 'POST', path,
                   who=name, json={'createImage': {'name': 'by-' + name}})
        if r.status_code == 202:
            image_id = r.headers['Location'].rsplit('/', 1)[1]
            image = wait_until(lambda: (lambda i: i if i['status'] ==
                                        'active' else None)(client.ok(
                                            'GET', '%s/images/%s' % (
                                                IMAGE, image_id))), 60,
                               interval=0.1)
            assert (image['owner'] == world['p1']['id']) == \
                (name == 'owner'), (name, image)
            client.ok('DELETE', '%s/images/%s' % (IMAGE, image_id))
        cloudlib.wait_status(owner, sid, until=('active',))


def test_delete(world):
    for name in CALLERS:
        subject = booted(world['who']['owner'])
        expect(world['who'][name], name in {'admin', 'pm', 'owner'},
               'DELETE', '%s/servers/%s' % (COMPUTE, subject['id']))
        if name not in {'admin', 'pm', 'owner'}:
            world['who']['owner'].ok('DELETE', '%s/servers/%s'
                                     % (COMPUTE, subject['id']))


def test_boot_and_list(world):
    may_boot = {'admin', 'owner', 'dev2', 'other'}
    for name in CALLERS:
        r = cloudlib.try_boot(world['who'][name], 'b-%s' % name)
        if name in may_boot:
            assert r.status_code == 202, (name, r.text)
            srv = cloudlib.wait_status(world['who'][name],
                                       r.json()['server']['id'])
            world['who'][name].ok('DELETE', '%s/servers/%s'
                                  % (COMPUTE, srv['id']))
        else:
            assert r.status_code == 403, (name, r.text)
            assert r.json()['error']['code'] == 403
    for path in ('/servers', '/servers/detail'):
        check_all(world, 'GET', COMPUTE + path + '?all_tenants=true',
                  {'admin', 'itsec'})
        seen = {s['id'] for s in world['who']['other'].ok(
            'GET', COMPUTE + path)['servers']}
        assert world['server']['id'] not in seen
        assert world['server']['id'] in {s['id'] for s in world['who'][
            'dev2'].ok('GET', COMPUTE + path)['servers']}


def test_identity(world):
    p1 = world['p1']['id']
    check_all(world, 'GET', '/v3/projects/%s' % p1, READERS)
    check_all(world, 'GET', '/v3/role_assignments?scope.project.id=%s' % p1,
              READERS)
    quotas = '%s/os-quota-sets/%s' % (COMPUTE, p1)
    check_all(world, 'GET', quotas, READERS)
    check_all(world, 'PUT', quotas, {'admin'},
              json={'quota_set': {'security_groups': 20}})
    for name in CALLERS:
        expect(world['who'][name], name == 'admin', 'POST', '/v3/projects',
               json={'project': {'name': 'new-%s' % name}})
        expect(world['who'][name], name in {'admin', 'pm'}, 'POST',
               '/v3/users', json={'user': {
                   'name': 'u-%s' % name, 'password': cloudlib.PASSWORD,
                   'default_project_id': p1}})
    # a project manager may not hand out admin (nor keystone's names for
    # roles it may not grant)
    for role in ('admin', 'itsec', 'project_manager', 'manager'):
        check_all(world, 'PUT', '/v3/projects/%s/users/dev3/roles/%s'
                  % (p1, role), {'admin'})
        world['who']['admin'].ok(
            'DELETE', '/v3/projects/%s/users/dev3/roles/%s' % (p1, role))
    check_all(world, 'PUT', '/v3/projects/%s/users/dev3/roles/developer'
              % p1, {'admin', 'pm'})
    check_all(world, 'DELETE', '/v3/projects/%s/users/dev3/roles/developer'
              % p1, {'admin', 'pm'})
    check_all(world, 'GET', '/v3/projects', set(CALLERS))
    listed = {p['name'] for p in world['who']['other'].ok(
        'GET', '/v3/projects')['projects']}
    assert listed == {'p2'}


def test_image_limits(world):
    """Image quotas (images, image_megabytes of /v1/quotas) as keystone's
    unified limits: the project (and admin, itsec) reads its limits,
    only admin sets or deletes one (back to the default); the defaults,
    the catalog's services and glance's usage of one's own project are
    everyone's to read."""
    p1 = world['p1']['id']
    check_all(world, 'GET', '/v3/registered_limits', set(CALLERS))
    check_all(world, 'GET', IMAGE + '/info/usage', set(CALLERS))
    check_all(world, 'GET', '/v3/services', set(CALLERS))
    check_all(world, 'GET', '/v3/services/image', set(CALLERS))
    check_all(world, 'GET', '/v3/limits?project_id=%s' % p1, READERS)
    count, size = ('/v3/limits/%s:%s' % (p1, name)
                   for name in ('image_count_total', 'image_size_total'))
    check_all(world, 'GET', count, READERS)
    check_all(world, 'PATCH', count, {'admin'},
              json={'limit': {'resource_limit': 50}})
    check_all(world, 'POST', '/v3/limits', {'admin'}, json={'limits': [{
        'service_id': 'image', 'project_id': p1,
        'resource_name': 'image_size_total', 'resource_limit': 4096}]})
    for path in (count, size):
        check_all(world, 'DELETE', path, {'admin'})


def test_user_accounts(world, api_cloud):
    """Disabling a user is admin's; a default project is the user's own
    to set (or admin's, for anyone); a password is its user's alone."""
    p1 = world['p1']['id']
    for name in CALLERS:
        client = world['who'][name]
        me = client.ok('GET', '/v3/auth/tokens')['token']
        own = '/v3/users/%s' % me['user']['id']
        expect(client, True, 'PATCH', own, json={'user': {
            'default_project_id': me['project']['id']}})
        r = client.call('POST', own + '/password', json={'user': {
            'password': 'a new password', 'original_password': 'wrong'}})
        assert r.status_code == 401, (name, r.text)   # allowed, not right
        victim = cloudlib.create_user(api_cloud.admin, p1, 'acct-%s' % name,
                                      'developer')
        theirs = '/v3/users/%s' % victim['id']
        expect(client, name == 'admin', 'PATCH', theirs, json={'user': {
            'default_project_id': p1}})
        expect(client, False, 'POST', theirs + '/password', json={'user': {
            'password': 'a new password',
            'original_password': cloudlib.PASSWORD}})
        expect(client, name == 'admin', 'PATCH', theirs, json={'user': {
            'enabled': False}})


def test_catalogue_and_security_groups(world):
    """Flavors: everyone; hosts (nova's hypervisors): admin and itsec;
    security groups: netadmin (and admin) make them and their rules, the
    project lists them, admin and itsec list every project's (neutron
    has no all_projects switch: their lists are every project's)."""
    check_all(world, 'GET', COMPUTE + '/flavors/detail', set(CALLERS))
    hosts = world['who']['admin'].ok('GET', COMPUTE + '/os-hypervisors')[
        'hypervisors']
    for path in ('', '/detail', '/%s' % hosts[0]['id']):
        check_all(world, 'GET', COMPUTE + '/os-hypervisors' + path,
                  {'admin', 'itsec'})
    check_all(world, 'GET', NETWORK + '/security-groups', set(CALLERS))
    group = world['group']['id']
    for name in CALLERS:
        listed = {g['id'] for g in world['who'][name].ok(
            'GET', NETWORK + '/security-groups')['security_groups']}
        assert (group in listed) is (name in READERS), name
    check_all(world, 'GET', '%s/security-groups/%s' % (NETWORK, group),
              READERS)
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'netadmin'}, 'POST',
               NETWORK + '/security-groups', json={'security_group': {
                   'name': 'g-%s' % name}})
    # a port of its own for each caller: a rule made twice is 409
    for port, name in enumerate(CALLERS, start=2200):
        expect(world['who'][name], name in {'admin', 'netadmin'}, 'POST',
               NETWORK + '/security-group-rules', json={
                   'security_group_rule': rule(group, 'tcp', port)})
    groups = world['who']['other'].ok('GET', NETWORK + '/security-groups')
    assert 'web' not in {g['name'] for g in groups['security_groups']}


def rule(group_id, protocol, port):
    """neutron's body of an ingress rule of ``group_id``."""
    return {'security_group_id': group_id, 'direction': 'ingress',
            'ethertype': 'IPv4', 'protocol': protocol,
            'port_range_min': port, 'port_range_max': port}


def test_compute_services(world, api_cloud):
    """Listing services and disabling or enabling a host: admin only
    (the host is enabled again after each disable)."""
    ref = {'host': api_cloud.dep.host, 'binary': 'hvagent-compute'}
    check_all(world, 'GET', COMPUTE + '/os-services', {'admin'})
    for path, body in (('disable', ref),
                       ('disable-log-reason', dict(ref,
                                                   disabled_reason='test')),
                       ('enable', ref)):
        for name in CALLERS:
            expect(world['who'][name], name == 'admin', 'PUT',
                   COMPUTE + '/os-services/' + path, json=body)
            world['who']['admin'].ok('PUT', COMPUTE + '/os-services/enable',
                                     json=ref)


def test_live_migration_and_migrations(world):
    """Moving instances and seeing the moves: admin only; everyone else
    gets 403 before any lookup (another project's server included). The
    session's cloud has one host: admin's move is refused for want of a
    destination (400) and leaves a migration in error to show."""
    server_id = world['server']['id']
    base = '%s/servers/%s' % (COMPUTE, server_id)
    move = {'os-migrateLive': {'host': None, 'block_migration': 'auto'}}
    for name in CALLERS:
        r = cloudlib.action(world['who'][name], server_id, move)
        if name == 'admin':
            assert r.status_code == 400, r.text
            assert r.json()['error']['message'].startswith('No valid host')
        else:
            assert r.status_code == 403, (name, r.text)
    check_all(world, 'GET', base + '/migrations', {'admin'})
    (mig,) = world['who']['admin'].ok('GET', base + '/migrations')[
        'migrations']
    assert mig['status'] == 'error'
    one = '%s/migrations/%s' % (base, mig['id'])
    check_all(world, 'GET', one, {'admin'})
    check_all(world, 'GET', COMPUTE + '/os-migrations', {'admin'})
    check_all(world, 'GET', '%s/os-migrations/%s' % (COMPUTE, mig['id']),
              {'admin'})
    # not in progress: admin's abort and forced completion are 404
    for method, path, body in (('DELETE', one, None),
                               ('POST', one + '/action',
                                {'force_complete': None})):
        for name in CALLERS:
            r = world['who'][name].call(method, path, json=body)
            assert r.status_code == (404 if name == 'admin' else 403), (
                name, method, r.text)
    srv = cloudlib.server(world['who']['owner'], server_id)
    assert (srv['status'], cloudlib.vm_state(srv)) == ('ACTIVE', 'active')


def test_resize_and_cold_migration(world):
    """resize, confirmResize, revertResize: admin, the project's manager
    and the server's owner (nova's owner rule); migrate: admin only
    (403 to anyone else before any lookup). The session's cloud has one
    host: an allowed resize or migrate is refused for want of another
    host (400), confirm and revert of a server not resized are 409;
    another project's user finds no such server (404)."""
    server_id = world['server']['id']
    for body, who_may, status in (
            ({'resize': {'flavorRef': 'm1.small'}},
             {'admin', 'pm', 'owner'}, 400),
            ({'confirmResize': None}, {'admin', 'pm', 'owner'}, 409),
            ({'revertResize': None}, {'admin', 'pm', 'owner'}, 409),
            ({'migrate': None}, {'admin'}, 400)):
        for name in CALLERS:
            r = cloudlib.action(world['who'][name], server_id, body)
            if name in who_may:
                assert r.status_code == status, (name, body, r.text)
            elif 'migrate' in body:
                assert r.status_code == 403, (name, r.text)
            else:
                assert r.status_code == (404 if name == 'other' else 403), (
                    name, body, r.text)
    srv = cloudlib.server(world['who']['owner'], server_id)
    assert (cloudlib.vm_state(srv), cloudlib.flavor_name(
        world['who']['owner'], srv)) == ('active', 'm1.tiny')


def test_security_group_deletes_and_server_groups(world):
    """Deleting rules and groups, and adding a group to (removing it
    from) a server: netadmin and admin of the owning project only;
    another project gets 404 for the group and the server alike."""
    netadmin, group = world['who']['netadmin'], world['group']
    server_id = world['server']['id']
    groups, rules = (NETWORK + '/security-groups',
                     NETWORK + '/security-group-rules')
    add = {'addSecurityGroup': {'name': group['id']}}
    remove = {'removeSecurityGroup': {'name': group['id']}}
    for name in CALLERS:
        client, allowed = world['who'][name], name in {'admin', 'netadmin'}
        made = netadmin.ok('POST', rules, json={
            'security_group_rule': rule(group['id'], 'udp', 53)})[
            'security_group_rule']['id']
        expect(client, allowed, 'DELETE', '%s/%s' % (rules, made))
        if not allowed:
            netadmin.ok('DELETE', '%s/%s' % (rules, made))
        doomed = netadmin.ok('POST', groups, json={'security_group': {
            'name': 'doomed-%s' % name}})['security_group']['id']
        expect(client, allowed, 'DELETE', '%s/%s' % (groups, doomed))
        if not allowed:
            netadmin.ok('DELETE', '%s/%s' % (groups, doomed))
        r = expect(client, allowed, 'POST', '%s/servers/%s/action'
                   % (COMPUTE, server_id), json=add)
        if r.status_code >= 300:
            assert cloudlib.action(netadmin, server_id, add).status_code \
                == 202
        expect(client, allowed, 'POST', '%s/servers/%s/action'
               % (COMPUTE, server_id), json=remove)
        if not allowed:
            assert cloudlib.action(netadmin, server_id, remove
                                   ).status_code == 202
    # another project: 404, not 403 (no existence oracle)
    other = world['who']['other']
    for method, path, body in (
            ('DELETE', '%s/%s' % (groups, group['id']), None),
            ('GET', '%s/%s' % (groups, group['id']), None),
            ('POST', rules, {'security_group_rule': rule(group['id'],
                                                         'tcp', 8080)}),
            ('POST', '%s/servers/%s/action' % (COMPUTE, server_id), add)):
        r = other.call(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)


def test_key_pairs_are_each_users_own(world):
    keypairs = COMPUTE + '/os-keypairs'
    for name in CALLERS:
        client = world['who'][name]
        made = client.ok('POST', keypairs, json={'keypair': {'name': 'k'}})
        assert made['keypair']['private_key'].startswith(
            '-----BEGIN OPENSSH PRIVATE KEY-----')
        shown = client.ok('GET', keypairs + '/k')['keypair']
        assert shown.get('private_key') is None     # returned once only
        assert shown['fingerprint'] == made['keypair']['fingerprint']
        assert [k['keypair']['name'] for k in client.ok(
            'GET', keypairs)['keypairs']] == ['k']
    fingerprints = {world['who'][n].ok('GET', keypairs + '/k')['keypair'][
        'fingerprint'] for n in CALLERS}
    assert len(fingerprints) == len(CALLERS)    # seven users, seven keys
    for name in CALLERS:
        world['who'][name].ok('DELETE', keypairs + '/k')
        assert world['who'][name].call('GET', keypairs + '/k'
                                       ).status_code == 404


def test_images(world):
    """Developers upload into their project; the project (and admin,
    itsec) sees them; only the uploader and admin change them."""
    owner = world['who']['owner']
    images = IMAGE + '/images'

    def queued():
        made = owner.ok('POST', images, json={
            'name': 'img', 'disk_format': 'qcow2',
            'container_format': 'bare'})
        assert made['status'] == 'queued'
        return '%s/%s' % (images, made['id'])
    base = queued()
    for name in CALLERS:      # uploading takes the queued image, once
        expect(world['who'][name], name in {'admin', 'owner'}, 'PUT',
               base + '/file', data=b'image bytes',
               headers={'Content-Type': 'application/octet-stream'})
        if name in {'admin', 'owner'}:
            last, base = base, queued()
    for path in (last, last + '/file'):
        check_all(world, 'GET', path, READERS)
    for name in CALLERS:
        listed = world['who'][name].ok('GET', images)['images']
        assert (last.split('/')[-1] in {i['id'] for i in listed}) is (
            name in P1), name
        expect(world['who'][name], name in {'admin', 'owner', 'dev2',
                                            'other'},
               'POST', images, json={'name': 'i-%s' % name,
                                     'disk_format': 'qcow2',
                                     'container_format': 'bare'})
        expect(world['who'][name], name == 'admin', 'POST', images,
               json={'name': 'pub-%s' % name, 'disk_format': 'qcow2',
                     'container_format': 'bare', 'visibility': 'public'})
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner'}, 'DELETE',
               base)
        if name in {'admin', 'owner'}:
            base = queued()


def test_volumes(world):
    """Developers make volumes in their project; the instance's owner
    (and admin) attaches and detaches; the volume's owner deletes.
    Block Storage's URLs carry each caller's own project."""
    owner, server = world['who']['owner'], world['server']['id']
    vols = {name: cloudlib.volume_base(world['who'][name]) + '/volumes'
            for name in CALLERS}
    attachments = '%s/servers/%s/os-volume_attachments' % (COMPUTE, server)

    def volume():
        return owner.ok('POST', vols['owner'], json={'volume': {
            'name': 'v', 'size': 1}})['volume']['id']
    vol = volume()
    for name in CALLERS:
        expect(world['who'][name], name in READERS, 'GET',
               '%s/%s' % (vols[name], vol))
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner', 'dev2',
                                            'other'},
               'POST', vols[name], json={'volume': {'name': 'v-%s' % name,
                                                    'size': 1}})
        expect(world['who'][name], name in {'admin', 'owner'}, 'POST',
               attachments, json={'volumeAttachment': {'volumeId': vol}})
        if name in {'admin', 'owner'}:
            cloudlib.wait_status(owner, server)
            expect(world['who'][name], True, 'DELETE',
                   '%s/%s' % (attachments, vol))
            cloudlib.wait_status(owner, server)
        else:
            expect(world['who'][name], False, 'DELETE',
                   '%s/%s' % (attachments, vol))
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner'}, 'DELETE',
               '%s/%s' % (vols[name], vol))
        if name in {'admin', 'owner'}:
            vol = volume()
    listed = {v['id'] for v in world['who']['other'].ok(
        'GET', vols['other'] + '/detail')['volumes']}
    assert vol not in listed


def netadmin_resource(world, base, key, body, extra_checks=()):
    """The matrix of a project resource netadmin (and admin) make and
    free and the project reads: POST ``body`` to ``base`` answers
    ``{key: {"id"...}}``; ``extra_checks`` (method, json, allowed) run on
    one made by netadmin. Lists are neutron's: the project's, every
    project's for admin and itsec."""
    netadmin = world['who']['netadmin']

    def make():
        return '%s/%s' % (base, netadmin.ok('POST', base, json=body)[
            key]['id'])
    made = make()
    check_all(world, 'GET', made, READERS)
    for method, json, allowed in extra_checks:
        check_all(world, method, made, allowed, json=json)
    for name in CALLERS:
        listed = {f['id'] for f in world['who'][name].ok(
            'GET', base)[key + 's']}
        assert (made.split('/')[-1] in listed) is (name in READERS), name
        r = expect(world['who'][name], name in {'admin', 'netadmin'},
                   'POST', base, json=body)
        if r.status_code == 201:
            world['who'][name].ok('DELETE', '%s/%s'
                                  % (base, r.json()[key]['id']))
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'netadmin'}, 'DELETE',
               made)
        if name in {'admin', 'netadmin'}:
            made = make()
    netadmin.ok('DELETE', made)


def test_floating_ips(world, api_cloud):
    """netadmin (and admin) allocate, point and free the project's
    floating IPs; the project reads them; others see nothing.
    Association is policed before the conductor looks at the port:
    disassociating (port_id null) needs the same right."""
    net = cloudlib.network_id(world['who']['netadmin'],
                              api_cloud.external_network())
    netadmin_resource(world, NETWORK + '/floatingips', 'floatingip', {
        'floatingip': {'floating_network_id': net}}, [
        ('PUT', {'floatingip': {'port_id': None}}, {'admin', 'netadmin'})])


def test_ports(world, api_cloud):
    """netadmin (and admin) make and free the project's ports without a
    server (what fixed IP reservations were); the project reads them;
    others see nothing."""
    net = cloudlib.network_id(world['who']['netadmin'],
                              api_cloud.lan_network())
    netadmin_resource(world, NETWORK + '/ports', 'port', {
        'port': {'network_id': net, 'name': 'held'}}, [
        # port security: admin's alone (off, then on again)
        ('PUT', {'port': {'port_security_enabled': flag}}, {'admin'})
        for flag in (False, True)])


def test_sharing_a_network(world, api_cloud):
    """Only an admin shares a network with every project, or stops; the
    project's own netadmin may not (404 for a network one cannot see)."""
    net = world['who']['netadmin'].ok('POST', NETWORK + '/networks', json={
        'network': {'name': 'p1-share'}})['network']['id']
    for flag in (True, False):
        check_all(world, 'PUT', '%s/networks/%s' % (NETWORK, net), {'admin'},
                  json={'network': {'shared': flag}})
    world['who']['netadmin'].ok('DELETE', '%s/networks/%s' % (NETWORK, net))
