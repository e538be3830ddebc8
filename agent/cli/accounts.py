"""hvctl's account commands, through hvagent-api only: login, logout,
password, user-set."""
import getpass
import os

from agent.cli import api_backend
from agent.cli import views
from agent.cli.api_backend import ApiError


def _secret(args_file, env, prompt):
    if args_file:
        return args_file.read().rstrip('\n')
    return os.environ.get(env) or getpass.getpass(prompt)


def login(b, args, out):
    password = _secret(args.password_file, 'HVCTL_PASSWORD', 'Password: ')
    client = api_backend.Client(b.endpoint, cacert=b.cacert)
    r = client.call('POST', '/v3/auth/tokens', json=api_backend.password_auth(
        args.login_user, password, args.login_project))
    token = r.json()['token']
    cache = api_backend.load_cache()
    cache[b.endpoint] = {'token': r.headers['X-Subject-Token'],
                         'expires_at': token['expires_at']}
    api_backend.save_cache(cache)
    out('Logged in to %s as %s in project %s (%s) until %s' % (
        b.endpoint, token['user']['name'], token['project']['name'],
        ', '.join(role['name'] for role in token['roles']),
        token['expires_at']))
    return 0


def logout(b, args, out):
    b.client.call('DELETE', '/v3/auth/tokens')
    api_backend.forget(b.endpoint)
    out('Logged out of %s' % b.endpoint)
    return 0


def password(b, args, out):
    """Change the logged-in user's own password; their tokens die, the
    cached one too: log in again."""
    me = b.get('/v3/auth/tokens')['token']['user']
    original = _secret(args.password_file, 'HVCTL_PASSWORD',
                       'Current password: ')
    new = _secret(args.new_password_file, 'HVCTL_NEW_PASSWORD',
                  'New password: ')
    if not (args.new_password_file or os.environ.get('HVCTL_NEW_PASSWORD')) \
            and getpass.getpass('New password again: ') != new:
        raise ApiError('the new passwords differ')
    b.client.call('POST', '/v3/users/%s/password' % me['id'], json={
        'user': {'password': new, 'original_password': original}})
    api_backend.forget(b.endpoint)
    out('Password of %s changed; every token of it is revoked: run hvctl '
        'login' % me['name'])
    return 0


def user_set(b, args, out):
    """Admin: enable or disable a user; the user or admin: their default
    project."""
    client = b.client           # not logged in: that first
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
    return views.emit(out, b, views.USERS, [user], args.json)
