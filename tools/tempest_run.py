"""Tempest, OpenStack's own API tests, against hvagent-api; prints counts.

    python -m tools.tempest_run [--tempest /opt/tempest-venv/bin/tempest]
                                [--regex '^tempest\\.api\\.(compute|...)']
                                [--concurrency 2] [--keep DIR]

Tempest is not a dependency of hvagent (it pins its own libraries): put it
in a virtualenv of its own first,

    python3 -m venv /opt/tempest-venv
    /opt/tempest-venv/bin/pip install tempest

Conductor, scheduler, compute agent (fake driver) and hvagent-api run in
this process on the in-memory transport (tools.bench.api_boot), in a
network namespace of its own (unshare --net; run as root): the servers'
bridges, VXLAN devices and DHCP servers are real and go with it. The cloud
gets two images, a shared network with a subnet and the m1 flavors.

Tempest's users are pre-provisioned (its accounts file): Tempest asks for
a project ``member`` and a project ``reader`` in the same project for
most classes, and hvagent has no read-only project role (keystone's
``reader`` is refused, docs/openstack.md). So each of PROJECTS projects
gets two developers, one listed to Tempest as ``member``, the other as
``reader``; tests that check a reader may *not* write are Tempest's RBAC
tests, off unless ``[enforce_scope]`` is set (it is not here). Admins
are users with hvagent's admin role.
Tempest's summary (ran, passed, skipped, failed) is printed per service,
with the failing tests' names in DIR/failed.txt when --keep is given.
"""
import argparse
import collections
import configparser
import csv
import io
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import requests
import yaml
from oslo_config import cfg

from agent import allinone
from tools.bench import api_boot
from tools.bench import boot as rpc_bench

CONF = cfg.CONF
TEMPEST = '/opt/tempest-venv/bin/tempest'
NETNS_MARK = 'HVAGENT_TEMPEST_NETNS'
REGEX = r'^tempest\.api\.(compute|identity|image|network)\.'
PORT = 18790

# what hvagent does not have (or Tempest cannot see on the fake driver):
# switched off so Tempest skips those tests instead of failing them
FEATURES = {
    'compute-feature-enabled': {
        'resize': 'true', 'live_migration': 'false', 'cold_migration': 'true',
        'console_output': 'true', 'pause': 'true', 'suspend': 'false',
        'shelve': 'false', 'snapshot': 'false', 'rescue': 'false',
        'interface_attach': 'false', 'change_password': 'false',
        'enable_instance_password': 'false',
        'vnc_console': 'false', 'serial_console': 'false',
        'spice_console': 'false', 'metadata_service': 'false',
        'config_drive': 'true', 'personality': 'false',
        'attach_encrypted_volume': 'false', 'block_migration_for_live_'
        'migration': 'false', 'preserve_ports': 'true',
        'stable_rescue': 'false', 'swap_volume': 'false',
        'volume_multiattach': 'false', 'disk_config': 'false',
        'hostname_fqdn_sanitization': 'false',
    },
    'network-feature-enabled': {
        'ipv6': 'false', 'ipv6_subnet_attributes': 'false',
        'port_security': 'true', 'api_extensions': 'security-group,'
        'quotas,port-security,standard-attr-description',
        'floating_ips': 'true',
    },
    'image-feature-enabled': {
        'import_image': 'false', 'os_glance_reserved': 'false',
    },
    'identity-feature-enabled': {
        'api_v2': 'false', 'application_credentials': 'false',
        'access_rules': 'false', 'trust': 'false', 'security_compliance':
        'false', 'project_tags': 'false',
    },
    'service_available': {
        'nova': 'true', 'glance': 'true', 'neutron': 'true',
        'cinder': 'true', 'swift': 'false', 'heat': 'false',
        'horizon': 'false', 'placement': 'false',
    },
    'validation': {'run_validation': 'false'},
}


def prepare(api, token):
    """Two images, a shared network with a subnet; their ids."""
    http = requests.Session()
    http.headers['X-Auth-Token'] = token
    images = []
    for name in ('tempest-image', 'tempest-image-alt'):
        image = http.post(api + '/image/v2/images', json={
            'name': name, 'disk_format': 'raw', 'container_format': 'bare',
            'visibility': 'public'}).json()
        r = http.put(api + '/image/v2/images/%s/file' % image['id'],
                     data=b'\0' * 65536, headers={
                         'Content-Type': 'application/octet-stream'})
        r.raise_for_status()
        images.append(image['id'])
    net = http.post(api + '/network/v2.0/networks', json={'network': {
        'name': 'tempest-net', 'shared': True}})
    net.raise_for_status()
    net = net.json()['network']
    http.post(api + '/network/v2.0/subnets', json={'subnet': {
        'network_id': net['id'], 'cidr': '10.250.0.0/16',
        'ip_version': 4}}).raise_for_status()
    flavors = {f['name']: f['id'] for f in http.get(
        api + '/compute/v2.1/flavors').json()['flavors']}
    return images, net, flavors


PROJECTS = 8
PASSWORD = 'tempest-password'


def accounts(api, token):
    """Tempest's accounts file entries: a member and a "reader" (both
    developers) in each of PROJECTS projects, and admins."""
    http = requests.Session()
    http.headers['X-Auth-Token'] = token
    entries = []

    def user(name, project, role, roles):
        made = http.post(api + '/v3/users', json={'user': {
            'name': name, 'password': PASSWORD,
            'default_project_id': project['id']}})
        made.raise_for_status()
        http.put(api + '/v3/projects/%s/users/%s/roles/%s' % (
            project['id'], made.json()['user']['id'], role)
        ).raise_for_status()
        entries.append({'username': name, 'password': PASSWORD,
                        'project_name': project['name'],
                        'user_domain_name': 'Default',
                        'project_domain_name': 'Default', 'roles': roles})

    for i in range(PROJECTS):
        project = http.post(api + '/v3/projects', json={'project': {
            'name': 'tempest-%d' % i}})
        project.raise_for_status()
        project = project.json()['project']
        # Tempest boots more than a project's default ten servers
        http.put(api + '/compute/v2.1/os-quota-sets/' + project['id'],
                 json={'quota_set': {'instances': -1, 'cores': -1,
                                     'ram': -1}}).raise_for_status()
        user('tempest-member-%d' % i, project, 'developer', ['member'])
        user('tempest-reader-%d' % i, project, 'developer', ['reader'])
        user('tempest-admin-%d' % i, project, 'admin', ['admin'])
    return entries


def config(api, images, net, flavors, accounts_file):
    conf = configparser.ConfigParser()
    conf['DEFAULT'] = {'log_dir': '', 'use_stderr': 'false'}
    conf['auth'] = {
        'admin_username': 'admin', 'admin_password': api_boot.PASSWORD,
        'admin_project_name': 'admin', 'admin_domain_name': 'Default',
        'use_dynamic_credentials': 'false',
        'test_accounts_file': accounts_file,
        'create_isolated_networks': 'false'}
    conf['identity'] = {
        'uri_v3': api + '/v3', 'auth_version': 'v3', 'region': 'RegionOne',
        'disable_ssl_certificate_validation': 'true'}
    conf['compute'] = {
        'image_ref': images[0], 'image_ref_alt': images[1],
        'flavor_ref': flavors['m1.tiny'],
        'flavor_ref_alt': flavors['m1.small'],
        'fixed_network_name': net['name'], 'build_timeout': '60',
        'min_compute_nodes': '1'}
    conf['network'] = {'public_network_id': net['id'],
                       'floating_network_name': net['name'],
                       'shared_physical_network': 'false',
                       'build_timeout': '60'}
    conf['image'] = {'build_timeout': '60'}
    conf['volume'] = {'catalog_type': 'volumev3', 'build_timeout': '60'}
    for section, values in FEATURES.items():
        conf[section] = values
    return conf


SUMMARY = re.compile(r'^ - (Passed|Skipped|Failed|Expected Fail|'
                     r'Unexpected Success): (\d+)', re.M)


CLASS_ERROR = re.compile(r'^setUpClass \((.*)\)$')


def by_service(workspace, bindir):
    """({service: Counter(status)}, [failed test]) from the last run's
    subunit stream (stestr and subunit2csv from Tempest's ``bindir``)."""
    out = subprocess.run(
        [os.path.join(bindir, 'stestr'), 'last', '--subunit'],
        cwd=workspace, capture_output=True, check=True).stdout
    table = subprocess.run(
        [os.path.join(bindir, 'subunit2csv')], input=out,
        capture_output=True).stdout.decode()
    counts = collections.defaultdict(collections.Counter)
    failed = []
    for row in list(csv.reader(io.StringIO(table)))[1:]:
        test, status = row[:2]
        # a class that could not set up counts once, as Tempest counts it
        test = CLASS_ERROR.sub(r'\1', test)
        if not test.startswith('tempest.api.'):
            continue
        service = test.split('.')[2]
        counts[service][status] += 1
        if status in ('fail', 'failure'):
            failed.append(test)
    return counts, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tempest', default=TEMPEST)
    parser.add_argument('--regex', default=REGEX)
    parser.add_argument('--concurrency', type=int, default=2)
    parser.add_argument('--keep', help='workspace directory to keep')
    args = parser.parse_args()
    if not os.access(args.tempest, os.X_OK):
        parser.error('no Tempest at %s (see --help to install it)'
                     % args.tempest)
    if os.environ.get(NETNS_MARK) != str(os.getpid()):
        # again, alone in a new network namespace, with its loopback up
        os.execvp('unshare', ['unshare', '--net', 'sh', '-c',
                              'ip link set lo up && %s=$$ exec "$@"'
                              % NETNS_MARK, 'sh', sys.executable, '-m',
                              'tools.tempest_run', *sys.argv[1:]])
    rpc_bench.configure()
    CONF.set_override('vxlan_local_ip', '127.0.0.1', 'network')
    # the state directory is 0755: dnsmasq (user nobody) re-reads its files
    with tempfile.TemporaryDirectory(dir='/var/tmp') as tmp:
        os.chmod(tmp, 0o755)
        workspace = pathlib.Path(args.keep or tmp + '/workspace')
        # Tempest's workspace registry (~/.tempest) kept private
        env = dict(os.environ, HOME=tmp)
        subprocess.run([args.tempest, 'init', str(workspace)], check=True,
                       capture_output=True, env=env)
        with api_boot.cloud(allinone.MEMORY_URL, 400, tmp, PORT) as (
                api, token):
            accounts_file = workspace / 'etc' / 'accounts.yaml'
            accounts_file.write_text(yaml.safe_dump(accounts(api, token)))
            conf = config(api, *prepare(api, token), str(accounts_file))
            with open(workspace / 'etc' / 'tempest.conf', 'w') as f:
                conf.write(f)
            proc = subprocess.run(
                [args.tempest, 'run', '--regex', args.regex,
                 '--concurrency', str(args.concurrency)], cwd=workspace,
                capture_output=True, text=True, env=env)
        counts, failed = by_service(workspace,
                                    os.path.dirname(args.tempest))
        if args.keep:
            (workspace / 'failed.txt').write_text('\n'.join(failed) + '\n')
            (workspace / 'run.out').write_text(proc.stdout + proc.stderr)
    print('tempest %s' % ' '.join(
        '%s=%s' % m for m in SUMMARY.findall(proc.stdout)))
    for service, c in sorted(counts.items()):
        print('%-9s ran %4d  passed %4d  skipped %4d  failed %4d'
              % (service, sum(c.values()), c['success'], c['skip'],
                 c['fail'] + c['failure']))


if __name__ == '__main__':
    main()
