"""hvctl's REST back end: hvagent-api with the token ``hvctl login`` cached.

Used when an endpoint is given (``--endpoint`` or $HVAGENT_ENDPOINT); with
none, hvctl talks to the conductor over RPC. ``hvctl login`` caches the
token in $XDG_CACHE_HOME/hvagent/tokens.json (else ~/.cache/hvagent/),
mode 0600, one per endpoint; the password comes from --password-file,
$HVCTL_PASSWORD, or the terminal. An https endpoint's certificate is
verified against --os-cacert ($OS_CACERT), else the system's CAs.
"""
import base64
import json
import os
import re
import sys
import time

import requests

from agent.api.compute import views as compute_views
from agent.objects import states
from agent.security import tls

UUID = re.compile(r'^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
SETTLED = ('active', 'stopped', 'paused', 'suspended', 'rescued', 'error')
COMPUTE = '/compute/v2.1'
SERVERS = COMPUTE + '/servers/'
#: hvctl's lifecycle commands -> nova's server action bodies
ACTIONS = {'start': {'os-start': None}, 'stop': {'os-stop': None},
           'reboot': {'reboot': {'type': 'SOFT'}},
           'reboot_hard': {'reboot': {'type': 'HARD'}},
           'pause': {'pause': None}, 'unpause': {'unpause': None},
           'suspend': {'suspend': None}, 'resume': {'resume': None},
           'unrescue': {'unrescue': None},
           'isolate': {'isolate': None}, 'release': {'release': None}}


class ApiError(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def cache_path():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return os.path.join(base, 'hvagent', 'tokens.json')


def load_cache():
    try:
        with open(cache_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_cache(cache):
    path = cache_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + '.%d' % os.getpid()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(cache, f)
    os.replace(tmp, path)


def forget(endpoint):
    """Drop the endpoint's cached token."""
    cache = load_cache()
    cache.pop(endpoint, None)
    save_cache(cache)


def password_auth(user, password, project=None):
    """keystone's body for POST /v3/auth/tokens: ``user`` by name in the
    Default domain, scoped to ``project`` (name or id; None: the user's
    default project)."""
    auth = {'identity': {'methods': ['password'], 'password': {'user': {
        'name': user, 'domain': {'id': 'default'}, 'password': password}}}}
    if project:
        auth['scope'] = {'project': {'name': project,
                                     'domain': {'id': 'default'}}}
    return {'auth': auth}


class Client:
    """``cacert``: the CA bundle that signed an https endpoint's
    certificate (--os-cacert, $OS_CACERT); else the system's CAs.
    The certificate is always verified."""

    def __init__(self, endpoint, token=None, timeout=60, cacert=None):
        self.endpoint, self.token = endpoint.rstrip('/'), token
        self.timeout = timeout
        self.verify = cacert or True
        if cacert:
            try:
                tls.check_readable(cacert, '--os-cacert')
            except tls.TLSConfigError as e:
                raise ApiError(str(e)) from None

    def call(self, method, path, **kw):
        headers = {'X-Auth-Token': self.token} if self.token else {}
        try:
            r = requests.request(method, self.endpoint + path,
                                 headers=headers, timeout=self.timeout,
                                 verify=self.verify, **kw)
        except requests.RequestException as e:
            raise ApiError('cannot reach %s: %s' % (
                self.endpoint, tls.describe(e) or e)) from None
        if r.status_code >= 400:
            try:
                msg = r.json()['error']['message']
            except (ValueError, KeyError, TypeError):
                msg = r.text[:200]
            raise ApiError('%s (HTTP %d, request %s)' % (
                msg, r.status_code, r.headers.get('X-Request-Id')),
                r.status_code)
        return r


def client_for(endpoint, cacert=None):
    entry = load_cache().get(endpoint)
    if not entry:
        raise ApiError('not logged in to %s: run hvctl login' % endpoint)
    return Client(endpoint, entry['token'], cacert=cacert)


#: nova's power_state numbers -> hvagent's names
POWER_NAMES = {number: name for name, number in compute_views.POWER.items()}


def _native(srv, flavor_names):
    """A server (nova's view, GET /compute/v2.1/servers/{id}) in the
    shape hvctl's commands read: ``status`` is hvagent's vm_state,
    ``host`` is shown to admin and itsec only; ``flavor_names``: flavor
    id -> name (nova's 2.1 view names the flavor by id)."""
    fault = srv.get('fault') or {}
    return {
        'id': srv['id'], 'name': srv['name'],
        'status': srv['OS-EXT-STS:vm_state'],
        'task_state': srv['OS-EXT-STS:task_state'],
        'power_state': POWER_NAMES.get(srv['OS-EXT-STS:power_state']),
        'flavor': flavor_names.get(srv['flavor']['id'], srv['flavor']['id']),
        'host': srv.get('OS-EXT-SRV-ATTR:host'),
        'project_id': srv['tenant_id'], 'user_id': srv['user_id'],
        'image': (srv['image'] or {}).get('id'),
        'key_name': srv['key_name'], 'created_at': srv['created'],
        'launched_at': srv['OS-SRV-USG:launched_at'],
        'networks': sorted(srv['addresses']),
        'volumes': [v['id'] for v in
                    srv['os-extended-volumes:volumes_attached']],
        'metadata': srv['metadata'], 'fault': fault.get('message'),
        'isolated': srv.get('hvagent:isolated', False)}


def _server(srv):
    """A server (_native) as the instance views read it."""
    return {
        'uuid': srv['id'], 'name': srv['name'], 'vm_state': srv['status'],
        'task_state': srv['task_state'], 'power_state': srv['power_state'],
        'flavor': srv['flavor'], 'host': srv['host'],
        'project_id': srv['project_id'], 'image_ref': srv['image'],
        'key_name': srv['key_name'], 'created_at': srv['created_at'],
        'launched_at': srv['launched_at'], 'networks': srv['networks'],
        'volumes': srv['volumes'], 'metadata': srv['metadata'],
        'fault': srv['fault']}


def _flavor(fl):
    return {'name': fl['name'], 'vcpus': fl['vcpus'],
            'memory_mb': fl['ram'], 'root_gb': fl['disk']}


def _hosts(services, hypervisors):
    """Every service (os-services) with its host's resources
    (os-hypervisors/detail) for the compute ones."""
    nodes = {h['service']['host']: h for h in hypervisors}
    out = []
    for svc in services:
        row = {'host': svc['host'], 'binary': svc['binary'],
               'up': svc['state'] == 'up',
               'disabled': svc['status'] == 'disabled',
               'disabled_reason': svc['disabled_reason']}
        node = nodes.get(svc['host']) if svc['binary'] == \
            'hvagent-compute' else None
        if node:
            row.update({k: node[k] for k in (
                'vcpus', 'vcpus_used', 'memory_mb', 'memory_mb_used',
                'local_gb', 'local_gb_used', 'running_vms')})
        out.append(row)
    return out


class Backend:
    """The commands both back ends serve, through hvagent-api; the token
    of the endpoint is read from the cache at the first request."""

    name = 'api'
    ADAPTERS = {'instance': _server}
    #: what a refused request raises
    refusals = ApiError

    @staticmethod
    def reason(error):
        return str(error)

    def __init__(self, endpoint, cacert=None, client=None):
        self.endpoint, self.cacert = endpoint, cacert
        self._client = client
        self._flavor_names = None

    @property
    def client(self):
        if self._client is None:
            self._client = client_for(self.endpoint, self.cacert)
        return self._client

    def get(self, path, **kw):
        return self.client.call('GET', path, **kw).json()

    def adapt(self, kind, item):
        return self.ADAPTERS.get(kind, lambda i: i)(item)

    def boot(self, args):
        unserved = [flag for flag, given in (
            ('--kernel', args.kernel), ('--ramdisk', args.ramdisk),
            ('--public-key', args.public_key)) if given]
        if unserved:
            raise ApiError('%s: not through the API (give the image '
                           'kernel_id/ramdisk_id properties; import the key '
                           'with keypair create and use --key-name)'
                           % ', '.join(unserved))
        if not args.image:
            raise ApiError('boot through the API needs --image (an image '
                           'id, an allowed http(s) URL or, on the fake '
                           'driver, a label such as cirros)')
        networks = [{'uuid': n} for n in args.network] + \
            [{'port': p} for p in args.fixed_ip]
        body = {'name': args.name, 'flavorRef': args.flavor,
                'imageRef': args.image,
                'networks': networks or 'none',
                'security_groups': [{'name': g}
                                    for g in args.security_group],
                'config_drive': args.config_drive}
        if args.key_name:
            body['key_name'] = args.key_name
        if args.user_data:
            body['user_data'] = base64.b64encode(
                args.user_data.read().encode()).decode()
        new = self.client.call('POST', COMPUTE + '/servers',
                               json={'server': body}).json()['server']
        return self.instance(new['id'])

    def resolve(self, ref):
        """The uuid of the instance named ``ref`` (unless it is one)."""
        if UUID.match(ref):
            return ref
        found = [s['id'] for s in self.instances() if s['name'] == ref]
        if len(found) != 1:
            raise ApiError('%s instance(s) named %r; use the uuid'
                           % (len(found) or 'no', ref))
        return found[0]

    def wait(self, uuid, timeout, start=None, gone_ok=False):
        """The server once settled; with ``gone_ok`` None once gone."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                srv = self.instance(uuid)
            except ApiError as e:
                if gone_ok and e.status == 404:
                    return None
                raise
            if not gone_ok and srv['task_state'] is None and \
                    srv['status'] in SETTLED:
                return srv
            if time.monotonic() > deadline:
                raise ApiError('timed out waiting for %s' % uuid)
            time.sleep(0.1)

    def act(self, uuid, args):
        """Request the action; None: the API answers with no server."""
        if args.command == 'delete':
            self.client.call('DELETE', SERVERS + uuid)
        elif args.command == 'rescue':
            self.client.call('POST', SERVERS + uuid + '/action', json={
                'rescue': {'rescue_image_ref': args.image}
                if args.image else {}})
        elif args.command == 'rebuild':
            if args.kernel or args.ramdisk:
                raise ApiError('--kernel/--ramdisk: not through the API '
                               '(the image names them: kernel_id, '
                               'ramdisk_id)')
            self.client.call('POST', SERVERS + uuid + '/action', json={
                'rebuild': {'imageRef': args.image}})
        else:
            action = 'reboot_hard' if getattr(args, 'hard', False) \
                else args.command
            self.client.call('POST', SERVERS + uuid + '/action',
                             json=ACTIONS[action])
        return None

    def _native(self, srv):
        if self._flavor_names is None:
            self._flavor_names = {f['id']: f['name'] for f in self.get(
                COMPUTE + '/flavors')['flavors']}
        return _native(srv, self._flavor_names)

    def instances(self, host=None, all_projects=False):
        """Every page of the caller's servers (``all_projects``: every
        project's, for admins); ``host``: those on it (the host is shown
        to admin and itsec only: for the others, none)."""
        items, params = [], {'all_tenants': 'true'} if all_projects else {}
        while True:
            body = self.get(COMPUTE + '/servers/detail', params=params)
            items += [self._native(s) for s in body['servers']]
            nxt = [link['href'] for link in body.get('servers_links', [])
                   if link['rel'] == 'next']
            if not nxt or not body['servers']:
                return [i for i in items if host in (None, i['host'])]
            params = dict(params, marker=body['servers'][-1]['id'])

    def instance(self, uuid):
        return self._native(self.get(SERVERS + uuid)['server'])

    def console(self, uuid, length):
        return self.client.call(
            'POST', SERVERS + uuid + '/action', json={
                'os-getConsoleOutput': {'length': length or -1}}).json()[
            'output']

    def console_url(self, uuid, protocol):
        """A one-use URL of the instance's ``protocol`` console."""
        key, kind = ('os-getSerialConsole', 'serial') if protocol == \
            'serial' else ('os-getVNCConsole', 'novnc')
        return self.client.call('POST', SERVERS + uuid + '/action', json={
            key: {'type': kind}}).json()['console']['url']

    def flavors(self):
        return [_flavor(f) for f in
                self.get(COMPUTE + '/flavors/detail')['flavors']]

    def hosts(self):
        """The compute hosts (os-hypervisors: admin and itsec) and, for
        an admin, every other service too (os-services)."""
        hypervisors = self.get(COMPUTE + '/os-hypervisors/detail')[
            'hypervisors']
        try:
            services = self.get(COMPUTE + '/os-services')['services']
        except ApiError as e:
            if e.status != 403:
                raise
            services = [{'host': h['service']['host'],
                         'binary': 'hvagent-compute', 'state': h['state'],
                         'status': h['status'], 'disabled_reason':
                         h['service']['disabled_reason']}
                        for h in hypervisors]
        return _hosts(services, hypervisors)

    def service_update(self, host, binary, disabled, reason=None):
        """nova's os-services calls: disable, disable-log-reason, enable."""
        body = {'host': host, 'binary': binary}
        if not disabled:
            path = 'enable'
        elif reason:
            path, body['disabled_reason'] = 'disable-log-reason', reason
        else:
            path = 'disable'
        return self.client.call('PUT', COMPUTE + '/os-services/' + path,
                                json=body).json()['service']

    def interface_attach(self, uuid, network):
        """nova's os-interface; the new port (its interfaceAttachment).
        ``network``: a name or id (Network v2 resolves a name)."""
        if not UUID.match(network):
            nets = self.get('/network/v2.0/networks', params={
                'name': network})['networks']
            if len(nets) != 1:
                raise ApiError('%s network(s) named %r; use the id'
                               % (len(nets) or 'no', network))
            network = nets[0]['id']
        return self.client.call('POST', SERVERS + uuid + '/os-interface',
                                json={'interfaceAttachment': {
                                    'net_id': network}}).json()[
            'interfaceAttachment']

    def interfaces(self, uuid):
        return self.get(SERVERS + uuid + '/os-interface')[
            'interfaceAttachments']

    def interface_detach(self, uuid, port_id):
        self.client.call('DELETE', SERVERS + uuid + '/os-interface/' +
                         port_id)

    def snapshot(self, uuid, name):
        """nova's createImage; the new image (glance's view)."""
        r = self.client.call('POST', SERVERS + uuid + '/action',
                             json={'createImage': {'name': name}})
        return self.image(r.headers['Location'].rsplit('/', 1)[1])

    def image(self, image_id):
        """The image, or None once it is gone."""
        try:
            return self.get('/image/v2/images/' + image_id)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def volume_extend(self, volume_id, size_gb):
        """Block Storage's os-extend (under the token's project); the
        volume after it."""
        project = self.get('/v3/auth/tokens')['token']['project']['id']
        base = '/volume/v3/%s/volumes/%s' % (project, volume_id)
        self.client.call('POST', base + '/action',
                         json={'os-extend': {'new_size': size_gb}})
        return self.get(base)['volume']

    def actions(self, uuid):
        return self.get(SERVERS + uuid + '/os-instance-actions')[
            'instanceActions']

    def instances_on(self, host):
        """Every project's servers on ``host``."""
        return self.instances(host, all_projects=True)

    # moves (admins; nova's os-migrateLive, server migrations, os-migrations)
    def live_migrate(self, uuid, host, block_migration):
        return self._server_action(uuid, {'os-migrateLive': {
            'host': host, 'block_migration': 'auto'
            if block_migration is None else block_migration}})

    def migrations(self, uuid=None, host=None, status=None):
        params = {'instance_uuid': uuid, 'host': host, 'status': status}
        return self.get(COMPUTE + '/os-migrations', params={
            k: v for k, v in params.items() if v})['migrations']

    def migration(self, migration_id):
        return self.get(COMPUTE + '/os-migrations/%s' % migration_id)[
            'migration']

    def _in_progress(self, uuid, migration_id):
        """The path of the server's move ``migration_id`` (default: the
        one in progress)."""
        if not migration_id:
            found = [m['id'] for m in self.get(
                SERVERS + uuid + '/migrations')['migrations']
                if m['status'] in states.MIGRATION_ACTIVE]
            if not found:
                raise ApiError('no migration of %s is in progress' % uuid)
            migration_id = found[0]
        return SERVERS + '%s/migrations/%s' % (uuid, migration_id)

    def migration_abort(self, uuid, migration_id=None):
        return self.client.call('DELETE', self._in_progress(
            uuid, migration_id)).json()['migration']

    def migration_force_complete(self, uuid, migration_id=None):
        return self.client.call('POST', self._in_progress(
            uuid, migration_id) + '/action', json={
            'force_complete': None}).json()['migration']

    def _server_action(self, uuid, body):
        return self.client.call('POST', SERVERS + uuid + '/action',
                                json=body).json()['migration']

    def resize(self, uuid, flavor):
        return self._server_action(uuid, {'resize': {'flavorRef': flavor}})

    def migrate(self, uuid, host):
        return self._server_action(uuid, {'migrate': host and {'host': host}})

    def resize_confirm(self, uuid):
        return self._server_action(uuid, {'confirmResize': None})

    def resize_revert(self, uuid):
        return self._server_action(uuid, {'revertResize': None})


def serve(command, args, out=print):
    """Run ``command`` against hvagent-api; the exit code."""
    try:
        if 'api' not in command.serves:
            raise ApiError('%s is not available through the API; run it '
                           'without --endpoint (direct RPC)' % command.name)
        return command.run(Backend(args.endpoint, args.os_cacert), args, out)
    except ApiError as e:
        print('hvctl: error: %s' % e, file=sys.stderr)
        return 1
