"""The role matrix over HTTP: every endpoint, called as each of the seed's
five roles and as another project's user, is allowed or refused exactly
as the policy says (refused: 403, or 404 where the caller may not even
see the thing). Real hvagent-api + conductor + scheduler + fake-driver
agent on RabbitMQ."""
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib

pytestmark = pytest.mark.functional

CALLERS = ('admin', 'itsec', 'pm', 'netadmin', 'owner', 'dev2', 'other')
P1 = ('pm', 'netadmin', 'owner', 'dev2')          # members of p1
READERS = {'admin', 'itsec', *P1}
#: lifecycle action -> (state it needs, state it leaves, who may)
LIFECYCLE = {
    'stop': ('active', 'stopped', {'admin', 'pm', 'owner'}),
    'start': ('stopped', 'active', {'admin', 'pm', 'owner'}),
    'reboot': ('active', 'active', {'admin', 'pm', 'owner'}),
    'pause': ('active', 'paused', {'admin', 'itsec', 'owner'}),
    'unpause': ('paused', 'active', {'admin', 'itsec', 'owner'}),
    # itsec's quarantine (pause + ports cut off); release lifts it
    'isolate': ('active', 'paused', {'admin', 'itsec'}),
    'release': ('paused', 'active', {'admin', 'itsec'}),
}


@pytest.fixture(scope='module')
def world(api_cloud):
    cloud, admin = api_cloud, api_cloud.admin
    p1, p2, sec = (cloudlib.create_project(admin, name)
                   for name in ('p1', 'p2', 'sec'))
    admin.ok('PUT', '/v1/quotas/%s' % p1['id'], json={'instances': -1,
                                                     'cores': -1, 'ram': -1})
    who = {'admin': admin,
           'itsec': cloud.add_user(sec['id'], 'itsec1', 'itsec'),
           'pm': cloud.add_user(p1['id'], 'pm1', 'project_manager'),
           'netadmin': cloud.add_user(p1['id'], 'net1', 'netadmin'),
           'owner': cloud.add_user(p1['id'], 'dev1', 'developer'),
           'dev2': cloud.add_user(p1['id'], 'dev2', 'developer'),
           'other': cloud.add_user(p2['id'], 'dev3', 'developer')}
    group = who['netadmin'].ok('POST', '/v1/security-groups',
                               json={'name': 'web'})['security_group']
    return {'who': who, 'p1': p1, 'p2': p2, 'group': group,
            'server': boot(who['owner'])}


def boot(client, name=None, state='active'):
    srv = client.ok('POST', '/v1/servers', json={'server': {
        'name': name or 'vm-%s' % uuid.uuid4().hex[:8],
        'flavor': 'm1.tiny', 'image': 'cirros'}})['server']
    srv = cloudlib.wait_status(client, srv['id'])
    if state != 'active':
        action = {'stopped': 'stop', 'paused': 'pause'}[state]
        client.ok('POST', '/v1/servers/%s/action' % srv['id'],
                  json={'action': action})
        srv = cloudlib.wait_status(client, srv['id'], until=(state,))
    return srv


def expect(client, allowed, method, path, **kw):
    r = client.call(method, path, **kw)
    if allowed:
        assert r.status_code < 300, (method, path, r.status_code, r.text)
    else:
        assert r.status_code in (403, 404), (method, path, r.status_code,
                                             r.text)
        assert r.json()['error']['code'] == r.status_code
    return r


def check_all(world, method, path, allowed, **kw):
    for name in CALLERS:
        expect(world['who'][name], name in allowed, method, path, **kw)


def test_reading_an_instance(world):
    base = '/v1/servers/%s' % world['server']['id']
    for suffix in ('', '/actions', '/metadata'):
        check_all(world, 'GET', base + suffix, READERS)
    check_all(world, 'GET', base + '/console',
              {'admin', 'itsec', 'pm', 'owner'})


def test_metadata_writes(world):
    base = '/v1/servers/%s/metadata/color' % world['server']['id']
    check_all(world, 'PUT', base, {'admin', 'owner'}, json={'value': 'red'})
    check_all(world, 'DELETE', base, {'admin', 'owner'})


@pytest.mark.parametrize('action', sorted(LIFECYCLE))
def test_lifecycle_actions(world, action):
    before, after, allowed = LIFECYCLE[action]
    owner, subject = world['who']['owner'], None
    for name in CALLERS:
        subject = subject or boot(owner, state=before)
        path = '/v1/servers/%s/action' % subject['id']
        expect(world['who'][name], name in allowed, 'POST', path,
               json={'action': action})
        srv = cloudlib.wait_status(owner, subject['id'],
                                    until=(before, after))
        assert srv['status'] == (after if name in allowed else before), name
        if name in allowed:
            subject = None
    owner.ok('DELETE', '/v1/servers/%s' % (subject or srv)['id'])


def test_delete(world):
    for name in CALLERS:
        subject = boot(world['who']['owner'])
        expect(world['who'][name], name in {'admin', 'pm', 'owner'},
               'DELETE', '/v1/servers/%s' % subject['id'])
        if name not in {'admin', 'pm', 'owner'}:
            world['who']['owner'].ok('DELETE',
                                     '/v1/servers/%s' % subject['id'])


def test_boot_and_list(world):
    may_boot = {'admin', 'owner', 'dev2', 'other'}
    for name in CALLERS:
        r = expect(world['who'][name], name in may_boot, 'POST',
                   '/v1/servers', json={'server': {
                       'name': 'b-%s' % name, 'flavor': 'm1.tiny'}})
        if name in may_boot:
            srv = cloudlib.wait_status(world['who'][name],
                                        r.json()['server']['id'])
            world['who'][name].ok('DELETE', '/v1/servers/%s' % srv['id'])
    check_all(world, 'GET', '/v1/servers?all_projects=true',
              {'admin', 'itsec'})
    seen = {s['id'] for s in world['who']['other'].ok(
        'GET', '/v1/servers')['servers']}
    assert world['server']['id'] not in seen
    assert world['server']['id'] in {s['id'] for s in world['who'][
        'dev2'].ok('GET', '/v1/servers')['servers']}


def test_identity(world):
    p1 = world['p1']['id']
    check_all(world, 'GET', '/v3/projects/%s' % p1, READERS)
    check_all(world, 'GET', '/v3/role_assignments?scope.project.id=%s' % p1,
              READERS)
    check_all(world, 'GET', '/v1/quotas/%s' % p1, READERS)
    check_all(world, 'PUT', '/v1/quotas/%s' % p1, {'admin'},
              json={'security_groups': 20})
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
    check_all(world, 'GET', '/v1/flavors', set(CALLERS))
    check_all(world, 'GET', '/v1/hosts', {'admin', 'itsec'})
    check_all(world, 'GET', '/v1/security-groups', set(CALLERS))
    check_all(world, 'GET', '/v1/security-groups?all_projects=true',
              {'admin', 'itsec'})
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'netadmin'}, 'POST',
               '/v1/security-groups', json={'name': 'g-%s' % name})
    check_all(world, 'POST', '/v1/security-groups/%s/rules'
              % world['group']['id'], {'admin', 'netadmin'},
              json={'protocol': 'tcp', 'port_range_min': 22})
    groups = world['who']['other'].ok('GET', '/v1/security-groups')
    assert 'web' not in {g['name'] for g in groups['security_groups']}


def test_compute_services(world, api_cloud):
    """Listing services and disabling or enabling a host: admin only
    (the host is enabled again after each disable)."""
    ref = {'host': api_cloud.dep.host, 'binary': 'hvagent-compute'}
    check_all(world, 'GET', '/compute/v2.1/os-services', {'admin'})
    for path, body in (('disable', ref),
                       ('disable-log-reason', dict(ref,
                                                   disabled_reason='test')),
                       ('enable', ref)):
        for name in CALLERS:
            expect(world['who'][name], name == 'admin', 'PUT',
                   '/compute/v2.1/os-services/' + path, json=body)
            world['who']['admin'].ok('PUT', '/compute/v2.1/os-services/enable',
                                     json=ref)


def test_live_migration_and_migrations(world):
    """Moving instances and seeing the moves: admin only; everyone else
    gets 403 before any lookup (another project's server included). The
    session's cloud has one host: admin's move is refused for want of a
    destination (400) and leaves a migration in error to show."""
    base = '/v1/servers/%s' % world['server']['id']
    move = {'os-migrateLive': {'host': None, 'block_migration': 'auto'}}
    for name in CALLERS:
        r = world['who'][name].call('POST', base + '/action', json=move)
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
    check_all(world, 'GET', '/v1/os-migrations', {'admin'})
    check_all(world, 'GET', '/v1/os-migrations/%s' % mig['id'], {'admin'})
    # not in progress: admin's abort and forced completion are 404
    for method, path, body in (('DELETE', one, None),
                               ('POST', one + '/action',
                                {'force_complete': None})):
        for name in CALLERS:
            r = world['who'][name].call(method, path, json=body)
            assert r.status_code == (404 if name == 'admin' else 403), (
                name, method, r.text)
    assert world['who']['owner'].ok('GET', base)['server']['status'] == \
        'active'


def test_resize_and_cold_migration(world):
    """resize, confirmResize, revertResize: admin, the project's manager
    and the server's owner (nova's owner rule); migrate: admin only
    (403 to anyone else before any lookup). The session's cloud has one
    host: an allowed resize or migrate is refused for want of another
    host (400), confirm and revert of a server not resized are 409;
    another project's user finds no such server (404)."""
    base = '/v1/servers/%s/action' % world['server']['id']
    for body, who_may, status in (
            ({'resize': {'flavorRef': 'm1.small'}},
             {'admin', 'pm', 'owner'}, 400),
            ({'confirmResize': None}, {'admin', 'pm', 'owner'}, 409),
            ({'revertResize': None}, {'admin', 'pm', 'owner'}, 409),
            ({'migrate': None}, {'admin'}, 400)):
        for name in CALLERS:
            r = world['who'][name].call('POST', base, json=body)
            if name in who_may:
                assert r.status_code == status, (name, body, r.text)
            elif 'migrate' in body:
                assert r.status_code == 403, (name, r.text)
            else:
                assert r.status_code == (404 if name == 'other' else 403), (
                    name, body, r.text)
    srv = world['who']['owner'].ok('GET', '/v1/servers/%s' %
                                   world['server']['id'])['server']
    assert (srv['status'], srv['flavor']) == ('active', 'm1.tiny')


def test_security_group_deletes_and_server_groups(world):
    """Deleting rules and groups, and adding a group to (removing it
    from) a server: netadmin and admin of the owning project only;
    another project gets 404 for the group and the server alike."""
    netadmin, group = world['who']['netadmin'], world['group']
    base = '/v1/security-groups/%s' % group['id']
    srv = '/v1/servers/%s/security-groups' % world['server']['id']
    for name in CALLERS:
        allowed = name in {'admin', 'netadmin'}
        rule = netadmin.ok('POST', base + '/rules', json={
            'protocol': 'udp', 'port_range_min': 53})['security_group'][
            'rules'][-1]['id']
        expect(world['who'][name], allowed, 'DELETE',
               '%s/rules/%s' % (base, rule))
        if not allowed:
            netadmin.ok('DELETE', '%s/rules/%s' % (base, rule))
        doomed = netadmin.ok('POST', '/v1/security-groups', json={
            'name': 'doomed-%s' % name})['security_group']['id']
        expect(world['who'][name], allowed, 'DELETE',
               '/v1/security-groups/%s' % doomed)
        if not allowed:
            netadmin.ok('DELETE', '/v1/security-groups/%s' % doomed)
        r = expect(world['who'][name], allowed, 'POST', srv,
                   json={'security_group': group['id']})
        if r.status_code >= 300:
            netadmin.ok('POST', srv, json={'security_group': group['id']})
        expect(world['who'][name], allowed, 'DELETE',
               '%s/%s' % (srv, group['id']))
        if not allowed:
            netadmin.ok('DELETE', '%s/%s' % (srv, group['id']))
    # another project: 404, not 403 (no existence oracle)
    for method, path in (('DELETE', base), ('POST', base + '/rules'),
                         ('POST', srv)):
        r = world['who']['other'].call(method, path, json={
            'security_group': group['id']} if path == srv else {})
        assert r.status_code == 404, (method, path, r.text)


def test_key_pairs_are_each_users_own(world):
    for name in CALLERS:
        client = world['who'][name]
        made = client.ok('POST', '/v1/keypairs', json={'name': 'k'})
        assert made['keypair']['private_key'].startswith(
            '-----BEGIN OPENSSH PRIVATE KEY-----')
        shown = client.ok('GET', '/v1/keypairs/k')['keypair']
        assert shown['private_key'] is None     # returned once only
        assert shown['fingerprint'] == made['keypair']['fingerprint']
        assert [k['name'] for k in client.ok(
            'GET', '/v1/keypairs')['keypairs']] == ['k']
    fingerprints = {world['who'][n].ok('GET', '/v1/keypairs/k')['keypair'][
        'fingerprint'] for n in CALLERS}
    assert len(fingerprints) == len(CALLERS)    # seven users, seven keys
    for name in CALLERS:
        world['who'][name].ok('DELETE', '/v1/keypairs/k')
        assert world['who'][name].call('GET', '/v1/keypairs/k'
                                       ).status_code == 404


def test_images(world):
    """Developers upload into their project; the project (and admin,
    itsec) sees them; only the uploader and admin change them."""
    owner = world['who']['owner']

    def queued():
        return '/v1/images/%s' % owner.ok('POST', '/v1/images', json={
            'name': 'img'})['image']['id']
    base = queued()
    for name in CALLERS:      # uploading takes the queued image, once
        expect(world['who'][name], name in {'admin', 'owner'}, 'PUT',
               base + '/file', data=b'image bytes')
        if name in {'admin', 'owner'}:
            last, base = base, queued()
    for path in (last, last + '/file'):
        check_all(world, 'GET', path, READERS)
    for name in CALLERS:
        listed = world['who'][name].ok('GET', '/v1/images')['images']
        assert (last.split('/')[-1] in {i['id'] for i in listed}) is (
            name in P1), name
        expect(world['who'][name], name in {'admin', 'owner', 'dev2',
                                            'other'},
               'POST', '/v1/images', json={'name': 'i-%s' % name})
        expect(world['who'][name], name == 'admin', 'POST', '/v1/images',
               json={'name': 'pub-%s' % name, 'visibility': 'public'})
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner'}, 'DELETE',
               base)
        if name in {'admin', 'owner'}:
            base = queued()


def test_volumes(world):
    """Developers make volumes in their project; the instance's owner
    (and admin) attaches and detaches; the volume's owner deletes."""
    owner, server = world['who']['owner'], world['server']['id']

    def volume():
        return owner.ok('POST', '/v1/volumes', json={
            'name': 'v', 'size_gb': 1})['volume']['id']
    vol = volume()
    check_all(world, 'GET', '/v1/volumes/%s' % vol, READERS)
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner', 'dev2',
                                            'other'},
               'POST', '/v1/volumes', json={'name': 'v-%s' % name,
                                            'size_gb': 1})
        expect(world['who'][name], name in {'admin', 'owner'}, 'POST',
               '/v1/servers/%s/volumes' % server, json={'volume_id': vol})
        if name in {'admin', 'owner'}:
            cloudlib.wait_status(owner, server)
            expect(world['who'][name], True, 'DELETE',
                   '/v1/servers/%s/volumes/%s' % (server, vol))
            cloudlib.wait_status(owner, server)
        else:
            expect(world['who'][name], False, 'DELETE',
                   '/v1/servers/%s/volumes/%s' % (server, vol))
    for name in CALLERS:
        expect(world['who'][name], name in {'admin', 'owner'}, 'DELETE',
               '/v1/volumes/%s' % vol)
        if name in {'admin', 'owner'}:
            vol = volume()
    listed = {v['id'] for v in world['who']['other'].ok(
        'GET', '/v1/volumes')['volumes']}
    assert vol not in listed


def netadmin_resource(world, base, key, body, extra_checks=()):
    """The matrix of a project resource netadmin (and admin) make and
    free and the project reads: POST ``body`` to ``base`` answers
    ``{key: {"id"...}}``; ``extra_checks`` (method, json, allowed) run on
    one made by netadmin."""
    netadmin = world['who']['netadmin']

    def make():
        return '%s/%s' % (base, netadmin.ok('POST', base, json=body)[
            key]['id'])
    made = make()
    check_all(world, 'GET', made, READERS)
    for method, json, allowed in extra_checks:
        check_all(world, method, made, allowed, json=json)
    check_all(world, 'GET', base + '?all_projects=true', {'admin', 'itsec'})
    for name in CALLERS:
        listed = {f['id'] for f in world['who'][name].ok(
            'GET', base)[key + 's']}
        assert (made.split('/')[-1] in listed) is (name in P1), name
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
    Association is policed before the conductor looks at the server:
    disassociating (server_id null) needs the same right."""
    api_cloud.external_network()
    netadmin_resource(world, '/v1/floating-ips', 'floating_ip', {}, [
        ('PUT', {'server_id': None}, {'admin', 'netadmin'})])


def test_fixed_ips(world, api_cloud):
    """netadmin (and admin) reserve and free the project's fixed IPs; the
    project reads them; others see nothing."""
    api_cloud.lan_network()
    netadmin_resource(world, '/v1/fixed-ips', 'fixed_ip',
                      {'network': 'apilan'})


def test_every_endpoint_is_in_the_matrix(api_cloud):
    """A new endpoint must be added to this module's matrix."""
    tested = {
        ('GET', '/v1/servers/{server_id}'), ('GET', '/v1/servers'),
        ('POST', '/v1/servers'), ('DELETE', '/v1/servers/{server_id}'),
        ('POST', '/v1/servers/{server_id}/action'),
        ('GET', '/v1/servers/{server_id}/actions'),
        ('GET', '/v1/servers/{server_id}/metadata'),
        ('PUT', '/v1/servers/{server_id}/metadata/{key}'),
        ('DELETE', '/v1/servers/{server_id}/metadata/{key}'),
        ('GET', '/v1/servers/{server_id}/console'),
        ('GET', '/v1/servers/{server_id}/migrations'),
        ('GET', '/v1/servers/{server_id}/migrations/{migration_id}'),
        ('DELETE', '/v1/servers/{server_id}/migrations/{migration_id}'),
        ('POST', '/v1/servers/{server_id}/migrations/{migration_id}/action'),
        ('GET', '/v1/os-migrations'),
        ('GET', '/v1/os-migrations/{migration_id}'),
        ('GET', '/v3/projects'), ('POST', '/v3/projects'),
        ('GET', '/v3/projects/{project}'),
        ('GET', '/v3/users'), ('POST', '/v3/users'),
        ('GET', '/v3/users/{user}'),
        ('GET', '/v3/roles'), ('GET', '/v3/roles/{role_id}'),
        ('GET', '/v3/role_assignments'),
        ('GET', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('PUT', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('DELETE', '/v3/projects/{project}/users/{user}/roles/{role}'),
        ('PATCH', '/v3/users/{user_id}'),
        ('POST', '/v3/users/{user_id}/password'),
        ('GET', '/v1/quotas/{project}'), ('PUT', '/v1/quotas/{project}'),
        ('GET', '/v1/flavors'), ('GET', '/v1/hosts'),
        ('GET', '/compute/v2.1/os-services'),
        ('PUT', '/compute/v2.1/os-services/disable'),
        ('PUT', '/compute/v2.1/os-services/disable-log-reason'),
        ('PUT', '/compute/v2.1/os-services/enable'),
        ('GET', '/v1/security-groups'), ('POST', '/v1/security-groups'),
        ('POST', '/v1/security-groups/{group_id}/rules'),
        ('DELETE', '/v1/security-groups/{group_id}'),
        ('DELETE', '/v1/security-groups/{group_id}/rules/{rule_id}'),
        ('POST', '/v1/servers/{server_id}/security-groups'),
        ('DELETE', '/v1/servers/{server_id}/security-groups/{group_id}'),
        ('GET', '/v1/keypairs'), ('POST', '/v1/keypairs'),
        ('GET', '/v1/keypairs/{name}'), ('DELETE', '/v1/keypairs/{name}'),
        ('GET', '/v1/images'), ('POST', '/v1/images'),
        ('GET', '/v1/images/{image_id}'), ('DELETE', '/v1/images/{image_id}'),
        ('PUT', '/v1/images/{image_id}/file'),
        ('GET', '/v1/images/{image_id}/file'),
        ('GET', '/v1/volumes'), ('POST', '/v1/volumes'),
        ('GET', '/v1/volumes/{volume_id}'),
        ('DELETE', '/v1/volumes/{volume_id}'),
        ('POST', '/v1/servers/{server_id}/volumes'),
        ('DELETE', '/v1/servers/{server_id}/volumes/{volume_id}'),
        ('GET', '/v1/floating-ips'), ('POST', '/v1/floating-ips'),
        ('GET', '/v1/floating-ips/{fip_id}'),
        ('PUT', '/v1/floating-ips/{fip_id}'),
        ('DELETE', '/v1/floating-ips/{fip_id}'),
        ('GET', '/v1/fixed-ips'), ('POST', '/v1/fixed-ips'),
        ('GET', '/v1/fixed-ips/{fixed_id}'),
        ('DELETE', '/v1/fixed-ips/{fixed_id}'),
    }
    # tokens: anyone may log in, see and revoke their own (test_api.py),
    # another user's are admin's (test_openstack_cli.py); the catalog is
    # every caller's, version discovery needs no token
    tokens = {(m, '/v3/auth/tokens')
              for m in ('GET', 'HEAD', 'POST', 'DELETE')} | {
        ('GET', '/v3/auth/catalog'), ('GET', '/'), ('GET', '/v3'),
        ('GET', '/compute/'), ('GET', '/compute/v2.1/'), ('GET', '/image/'),
        ('GET', '/volume/'), ('GET', '/volume/v3/'), ('GET', '/network/'),
        ('GET', '/network/v2.0/'), ('GET', '/network/v2.0/extensions')}
    # the OpenStack compute and image APIs apply the same rules as the
    # routes above (the same helpers); another project's developer is
    # refused each with the real client (test_openstack_cli.py)
    openstack = {
        ('GET', '/compute/v2.1/servers'), ('POST', '/compute/v2.1/servers'),
        ('GET', '/compute/v2.1/servers/detail'),
        ('GET', '/compute/v2.1/servers/{server_id}'),
        ('DELETE', '/compute/v2.1/servers/{server_id}'),
        ('POST', '/compute/v2.1/servers/{server_id}/action'),
        ('GET', '/compute/v2.1/flavors'),
        ('GET', '/compute/v2.1/flavors/detail'),
        ('GET', '/compute/v2.1/flavors/{flavor_id}'),
        ('GET', '/compute/v2.1/os-keypairs'),
        ('POST', '/compute/v2.1/os-keypairs'),
        ('GET', '/compute/v2.1/os-keypairs/{name}'),
        ('DELETE', '/compute/v2.1/os-keypairs/{name}'),
        ('GET', '/compute/v2.1/os-hypervisors'),
        ('GET', '/compute/v2.1/os-hypervisors/detail'),
        ('GET', '/compute/v2.1/os-hypervisors/{hypervisor_id}'),
        ('GET', '/compute/v2.1/os-availability-zone'),
        ('GET', '/compute/v2.1/os-availability-zone/detail'),
        ('GET', '/compute/v2.1/os-quota-sets/{project}'),
        ('GET', '/compute/v2.1/os-quota-sets/{project}/detail'),
        ('GET', '/compute/v2.1/os-quota-sets/{project}/defaults'),
        ('PUT', '/compute/v2.1/os-quota-sets/{project}'),
        ('GET', '/compute/v2.1/limits'),
        ('GET', '/compute/v2.1/servers/{server_id}/os-instance-actions'),
        ('GET', '/compute/v2.1/servers/{server_id}/os-instance-actions/'
                '{request_id}'),
        ('GET', '/compute/v2.1/servers/{server_id}/os-volume_attachments'),
        ('POST', '/compute/v2.1/servers/{server_id}/os-volume_attachments'),
        ('GET', '/compute/v2.1/servers/{server_id}/os-volume_attachments/'
                '{volume_id}'),
        ('DELETE', '/compute/v2.1/servers/{server_id}/os-volume_attachments/'
                   '{volume_id}'),
        ('GET', '/volume/v3/{project_id}/os-quota-sets/{target}'),
        ('PUT', '/volume/v3/{project_id}/os-quota-sets/{target}'),
        ('GET', '/volume/v3/{project_id}/limits'),
        ('GET', '/volume/v3/{project_id}/volumes'),
        ('POST', '/volume/v3/{project_id}/volumes'),
        ('GET', '/volume/v3/{project_id}/volumes/detail'),
        ('GET', '/volume/v3/{project_id}/volumes/{volume_id}'),
        ('DELETE', '/volume/v3/{project_id}/volumes/{volume_id}'),
        ('GET', '/image/v2/images'), ('POST', '/image/v2/images'),
        ('GET', '/image/v2/images/{image_id}'),
        ('DELETE', '/image/v2/images/{image_id}'),
        ('PUT', '/image/v2/images/{image_id}/file'),
        ('GET', '/image/v2/images/{image_id}/file')}
    # Network v2: another project's netadmin and developer are refused
    # each with the real client (test_openstack_network.py)
    net = '/network/v2.0'
    openstack |= {(m, net + path) for m, path in (
        ('GET', '/networks'), ('POST', '/networks'),
        ('GET', '/networks/{ref}'), ('DELETE', '/networks/{ref}'),
        ('GET', '/subnets'), ('POST', '/subnets'),
        ('GET', '/subnets/{ref}'), ('DELETE', '/subnets/{ref}'),
        ('GET', '/ports'), ('GET', '/ports/{ref}'),
        ('GET', '/security-groups'), ('POST', '/security-groups'),
        ('GET', '/security-groups/{group_id}'),
        ('DELETE', '/security-groups/{group_id}'),
        ('GET', '/security-group-rules'), ('POST', '/security-group-rules'),
        ('GET', '/security-group-rules/{rule_id}'),
        ('DELETE', '/security-group-rules/{rule_id}'),
        ('GET', '/quotas/{project}'), ('PUT', '/quotas/{project}'),
        ('GET', '/quotas/{project}/details'),
        ('GET', '/quotas/{project}/default'),
        ('GET', '/floatingips'), ('POST', '/floatingips'),
        ('GET', '/floatingips/{fip_id}'), ('PUT', '/floatingips/{fip_id}'),
        ('DELETE', '/floatingips/{fip_id}'))}
    spec = api_cloud.admin.ok('GET', '/openapi.json')
    served = {(m.upper(), path) for path, ops in spec['paths'].items()
              for m in ops}
    assert served == tested | tokens | openstack
