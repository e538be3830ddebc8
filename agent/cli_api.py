"""hvctl through hvagent-api: login, the token cache, instance commands.

Used when an endpoint is given (``--endpoint`` or $HVAGENT_ENDPOINT); with
none, hvctl talks to the conductor over RPC as before. ``hvctl login``
caches the token in $XDG_CACHE_HOME/hvagent/tokens.json (else
~/.cache/hvagent/), mode 0600, one per endpoint; the password comes from
--password-file, $HVCTL_PASSWORD, or the terminal.
"""
import getpass
import json
import os
import re
import sys
import time

import requests

from agent import cli_table
from agent import tls

UUID = re.compile(r'^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
SETTLED = ('active', 'stopped', 'paused', 'error')
COMMANDS = ('boot', 'list', 'show', 'delete', 'reboot', 'stop', 'start',
            'pause', 'unpause', 'isolate', 'release', 'console',
            'flavor-list', 'host-list', 'action-list', 'login', 'logout',
            'password', 'user-set')


class ApiError(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def cache_path():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return os.path.join(base, 'hvagent', 'tokens.json')


def _load_cache():
    try:
        with open(cache_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _save_cache(cache):
    path = cache_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + '.%d' % os.getpid()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(cache, f)
    os.replace(tmp, path)


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


def login(args, out):
    if args.password_file:
        password = args.password_file.read().rstrip('\n')
    else:
        password = os.environ.get('HVCTL_PASSWORD') or getpass.getpass()
    client = Client(args.endpoint, cacert=args.os_cacert)
    r = client.call('POST', '/v3/auth/tokens', json={
        'user': args.login_user, 'password': password,
        'project': args.login_project})
    token = r.json()['token']
    cache = _load_cache()
    cache[args.endpoint] = {'token': r.headers['X-Subject-Token'],
                            'expires_at': token['expires_at']}
    _save_cache(cache)
    out('Logged in to %s as %s in project %s (%s) until %s' % (
        args.endpoint, token['user']['name'], token['project']['name'],
        ', '.join(token['roles']), token['expires_at']))
    return 0


def _secret(args_file, env, prompt):
    if args_file:
        return args_file.read().rstrip('\n')
    return os.environ.get(env) or getpass.getpass(prompt)


def password(args, out):
    """Change the logged-in user's own password; their tokens die, the
    cached one too: log in again."""
    client = client_for(args.endpoint, args.os_cacert)
    me = client.call('GET', '/v3/auth/tokens').json()['token']['user']
    original = _secret(args.password_file, 'HVCTL_PASSWORD',
                       'Current password: ')
    new = _secret(args.new_password_file, 'HVCTL_NEW_PASSWORD',
                  'New password: ')
    if not (args.new_password_file or os.environ.get('HVCTL_NEW_PASSWORD')) \
            and getpass.getpass('New password again: ') != new:
        raise ApiError('the new passwords differ')
    client.call('POST', '/v3/users/%s/password' % me['id'], json={
        'user': {'password': new, 'original_password': original}})
    cache = _load_cache()
    cache.pop(args.endpoint, None)
    _save_cache(cache)
    out('Password of %s changed; every token of it is revoked: run hvctl '
        'login' % me['name'])
    return 0


def user_set(args, client, out):
    """Admin: enable or disable a user; the user or admin: their default
    project."""
    changes = {}
    if args.enabled is not None:
        changes['enabled'] = args.enabled
    if args.default_project:
        changes['default_project_id'] = args.default_project
    if not changes:
        raise ApiError('nothing to set: give --enable, --disable or '
                       '--default-project')
    user = client.call('PATCH', '/v3/users/%s' % args.user_id, json={
        'user': changes}).json()['user']
    return _table(out, args.json, [user], [
        'ID', 'Name', 'Enabled', 'Default project'], [
        'id', 'name', 'enabled', 'default_project_id'])


def client_for(endpoint, cacert=None):
    entry = _load_cache().get(endpoint)
    if not entry:
        raise ApiError('not logged in to %s: run hvctl login' % endpoint)
    return Client(endpoint, entry['token'], cacert=cacert)


def logout(args, out):
    client = client_for(args.endpoint, args.os_cacert)
    client.call('DELETE', '/v3/auth/tokens')
    cache = _load_cache()
    cache.pop(args.endpoint, None)
    _save_cache(cache)
    out('Logged out of %s' % args.endpoint)
    return 0


def _server_id(client, ref):
    if UUID.match(ref):
        return ref
    found = [s['id'] for s in _servers(client) if s['name'] == ref]
    if len(found) != 1:
        raise ApiError('%s instance(s) named %r; use the uuid'
                       % (len(found) or 'no', ref))
    return found[0]


def _servers(client):
    items, marker = [], None
    while True:
        body = client.call('GET', '/v1/servers', params={
            'marker': marker} if marker else {}).json()
        items += body['servers']
        marker = body['next_marker']
        if not marker:
            return items


def _wait(client, uuid, timeout, gone_ok=False):
    """The server once settled; with ``gone_ok`` None once it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            srv = client.call('GET', '/v1/servers/' + uuid).json()['server']
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


def _show(out, srv, as_json):
    if as_json:
        return out(cli_table.dumps(srv))
    out(cli_table.fields([(k, srv[k]) for k in (
        'id', 'name', 'status', 'task_state', 'power_state', 'host',
        'flavor', 'image', 'project_id', 'key_name', 'metadata',
        'networks', 'fault', 'created_at', 'launched_at')]))


def _table(out, as_json, items, headers, keys):
    out(cli_table.dumps(items) if as_json else cli_table.table(
        headers, [[i.get(k) for k in keys] for i in items]))
    return 0


def run(args, client, out=print):
    cmd, as_json = args.command, args.json
    if cmd == 'boot':
        body = {'name': args.name, 'flavor': args.flavor,
                'image': args.image, 'networks': args.network,
                'security_groups': args.security_group,
                'fixed_ips': args.fixed_ip,
                'config_drive': args.config_drive}
        if args.key_name:
            body['key_name'] = args.key_name
        if args.user_data:
            body['user_data'] = args.user_data.read()
        srv = client.call('POST', '/v1/servers',
                          json={'server': body}).json()['server']
        if args.wait:
            srv = _wait(client, srv['id'], args.timeout)
        _show(out, srv, as_json)
        return 1 if srv['status'] == 'error' else 0
    if cmd == 'user-set':
        return user_set(args, client, out)
    if cmd == 'list':
        return _table(out, as_json, _servers(client), [
            'UUID', 'Name', 'Status', 'Task', 'Power', 'Host', 'Flavor'], [
            'id', 'name', 'status', 'task_state', 'power_state', 'host',
            'flavor'])
    if cmd == 'flavor-list':
        return _table(out, as_json, client.call('GET', '/v1/flavors').json()[
            'flavors'], ['Name', 'vCPUs', 'RAM (MB)', 'Disk (GB)'],
            ['name', 'vcpus', 'memory_mb', 'root_gb'])
    if cmd == 'host-list':
        return _table(out, as_json, client.call('GET', '/v1/hosts').json()[
            'hosts'], ['Host', 'Service', 'Up', 'vCPUs used', 'VMs'],
            ['host', 'binary', 'up', 'vcpus_used', 'running_vms'])
    uuid = _server_id(client, args.ref)
    if cmd == 'show':
        _show(out, client.call('GET', '/v1/servers/' + uuid).json()[
            'server'], as_json)
        return 0
    if cmd == 'console':
        text = client.call('GET', '/v1/servers/%s/console' % uuid, params={
            'length': args.length} if args.length else {}).json()['output']
        out(cli_table.dumps({'output': text}) if as_json else text.rstrip())
        return 0
    if cmd == 'action-list':
        return _table(out, as_json, client.call(
            'GET', '/v1/servers/%s/actions' % uuid).json()['actions'],
            ['Action', 'Request', 'User', 'Start', 'Finish', 'Result'],
            ['action', 'request_id', 'user_id', 'start_time', 'finish_time',
             'result'])
    return _act(args, client, uuid, out)


def _act(args, client, uuid, out):
    if args.command == 'delete':
        client.call('DELETE', '/v1/servers/' + uuid)
    else:
        action = 'reboot_hard' if getattr(args, 'hard', False) \
            else args.command
        client.call('POST', '/v1/servers/%s/action' % uuid,
                    json={'action': action})
    if not args.wait:
        out('Request to %s %s accepted' % (args.command, uuid))
        return 0
    srv = _wait(client, uuid, args.timeout, gone_ok=args.command == 'delete')
    if srv is None:
        out('Instance %s deleted' % uuid)
        return 0
    _show(out, srv, args.json)
    return 1 if srv['status'] == 'error' else 0


def main(args, out=print):
    """hvctl's answer for an API endpoint; exit code."""
    try:
        if args.command == 'login':
            return login(args, out)
        if args.command == 'logout':
            return logout(args, out)
        if args.command == 'password':
            return password(args, out)
        if args.command not in COMMANDS:
            raise ApiError('%s is not available through the API; run it '
                           'without --endpoint (direct RPC)' % args.command)
        return run(args, client_for(args.endpoint, args.os_cacert), out)
    except ApiError as e:
        print('hvctl: error: %s' % e, file=sys.stderr)
        return 1
