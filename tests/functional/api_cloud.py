"""A whole cloud behind hvagent-api for HTTP tests: conductor, scheduler,
compute agent (fake driver) and hvagent-api as real processes on a private
RabbitMQ vhost (deployment.Deployment), the first admin bootstrapped, and
a small HTTP client that logs in as anyone."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from tests.functional import deployment
from tests.functional import rabbit

SERVICES = deployment.SERVICES + ('hvagent-api',)
PASSWORD = 'correct horse battery'
#: the agent's uplinks for the networks of the floating IP tests: veth
#: pairs made in this host's namespace by test_api_floating_ips.py
UPLINKS = {'apilan': 'hvapilan0', 'apipublic': 'hvapipub0'}
PUBLIC = {'cidr': '198.18.77.0/24', 'gateway': '198.18.77.1'}
LAN = {'cidr': '10.77.0.0/24', 'gateway': '10.77.0.1'}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Client:
    """requests against the API, as the user whose token it holds."""

    def __init__(self, url, token=None, verify=True):
        self.url, self.token = url, token
        self.http = requests.Session()
        self.verify = verify    # per request: a session's verify loses
                                # to $REQUESTS_CA_BUNDLE

    def call(self, method, path, **kw):
        headers = kw.pop('headers', {})
        if self.token:
            headers['X-Auth-Token'] = self.token
        return self.http.request(method, self.url + path, headers=headers,
                                 timeout=60, verify=self.verify, **kw)

    def ok(self, method, path, status=(200, 201, 202, 204), **kw):
        r = self.call(method, path, **kw)
        assert r.status_code in ((status,) if isinstance(status, int)
                                 else status), (method, path, r.status_code,
                                                r.text)
        return r.json() if r.content else None


class ApiCloud:
    def __init__(self, tmp_path, db_url=None, extra=None, ca_file=None):
        """``ca_file``: the CA of the certificate in ``extra``'s [api]
        tls_cert_file: the API is then https, verified against it."""
        self.vhost = rabbit.VHost()
        self.port = free_port()
        self.verify = ca_file or True
        self.url = '%s://127.0.0.1:%d' % ('https' if ca_file else 'http',
                                          self.port)
        # cheap password hashes: the tests log in dozens of users; every
        # test client is 127.0.0.1, whose deliberate failed logins must
        # not throttle the next module's (test_api_accounts.py tests it)
        sections = {'api': {'bind_port': self.port,
                            'policy_file': tmp_path / 'policy.yaml',
                            'argon2_time_cost': 1,
                            'argon2_memory_kib': 8192,
                            'login_failures_per_address': 1000},
                    'network': {'physical_interface_mappings': ','.join(
                        '%s:%s' % kv for kv in UPLINKS.items())}}
        for section, values in (extra or {}).items():
            sections.setdefault(section, {}).update(values)
        self.dep = deployment.Deployment(
            tmp_path, self.vhost.url,
            db_url or 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
            extra=sections)

    def start(self, services=SERVICES):
        """Start ``services`` (all by default; hvagent-api always) and
        bootstrap the admin."""
        services = tuple(dict.fromkeys(services + ('hvagent-api',)))
        self.dep.start(*services)
        self.dep.wait_log('hvagent-api', 'listening on')
        subprocess.run(
            [os.path.join(deployment.BIN, 'hvagent-api'), '--config-file',
             str(self.dep.config), '--bootstrap'], check=True, timeout=60,
            env=dict(os.environ, HVAGENT_BOOTSTRAP_PASSWORD=PASSWORD),
            capture_output=True)
        self.admin = self.login('admin')
        deadline = time.monotonic() + 60
        while {h['binary'] for h in self.admin.ok('GET', '/v1/hosts')['hosts']
               if h['up']} != set(services) - {'hvagent-api'}:
            assert time.monotonic() < deadline, self.dep.log(
                'hvagent-compute')
            time.sleep(0.2)
        return self

    def login(self, user, password=PASSWORD, project=None):
        r = requests.post(self.url + '/v3/auth/tokens', timeout=60, json={
            'user': user, 'password': password, 'project': project},
            verify=self.verify)
        assert r.status_code == 201, r.text
        return Client(self.url, r.headers['X-Subject-Token'], self.verify)

    def add_user(self, project_id, name, role):
        self.admin.ok('POST', '/v3/projects/%s/users' % project_id, json={
            'name': name, 'password': PASSWORD, 'role': role})
        return self.login(name, project=project_id)

    def hvctl(self, *args):
        """The operator's hvctl over RPC (what the API does not offer:
        networks); returns its stdout."""
        proc = subprocess.run(
            [os.path.join(deployment.BIN, 'hvctl'), '--transport-url',
             self.vhost.url, *args, '--config-file', deployment.bus_conf()],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def lan_network(self):
        """The flat network 'apilan' (made once; its uplink only matters
        to a boot on it: see wired_project)."""
        if 'apilan' not in self.hvctl('network-list'):
            self.hvctl('network-create', 'apilan', '--type', 'flat',
                       '--shared',
                       '--physical-network', 'apilan', '--cidr',
                       LAN['cidr'], '--gateway', LAN['gateway'])
        return 'apilan'

    def external_network(self):
        """The external network 'apipublic' (made once; no kernel needed
        until a floating IP is associated)."""
        if 'apipublic' not in self.hvctl('network-list'):
            self.hvctl('network-create', 'apipublic', '--type', 'flat',
                       '--physical-network', 'apipublic', '--external',
                       '--cidr', PUBLIC['cidr'], '--gateway',
                       PUBLIC['gateway'])
        return 'apipublic'

    def stop(self):
        try:
            return self.dep.stop()
        finally:
            self.vhost.delete()


def wait_status(client, server_id, until=('active', 'error', 'stopped',
                                          'paused'), timeout=30):
    """The server once its task is done and its status is in ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        srv = client.ok('GET', '/v1/servers/%s' % server_id)['server']
        if srv['task_state'] is None and srv['status'] in until:
            return srv
        assert time.monotonic() < deadline, srv
        time.sleep(0.05)


@pytest.fixture(scope='session')
def api_cloud(tmp_path_factory):
    """One cloud behind hvagent-api for every HTTP test of the session
    (starting and stopping one costs ~30 s); tests make their own
    projects and users in it. Its state directory is 0755 under /var/tmp:
    the dnsmasq of the floating IP tests (user nobody) re-reads its
    files."""
    state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-api-cloud-')
    os.chmod(state, 0o755)
    c = ApiCloud(tmp_path_factory.mktemp('api-cloud'),
                 extra={'DEFAULT': {'state_path': state}})
    try:
        yield c.start()
    finally:
        codes = c.stop()
        shutil.rmtree(state, ignore_errors=True)
    assert set(codes.values()) == {0}, codes


def wired_project(api_cloud, name):
    """For a module fixture: a project ``name`` with a netadmin and a
    developer, and the networks 'apilan' and 'apipublic' whose uplinks
    (veth pairs, UPLINKS) the test cloud's agent wires in this host's
    namespace; yields {'admin', 'project', 'netadmin', 'dev'} and removes
    the uplinks after."""
    for ifname in UPLINKS.values():
        subprocess.run(['ip', 'link', 'del', ifname], capture_output=True)
        subprocess.run(['ip', 'link', 'add', ifname, 'type', 'veth', 'peer',
                        'name', ifname + 'p'], check=True)
        subprocess.run(['ip', 'link', 'set', ifname, 'up'], check=True)
    api_cloud.lan_network()
    api_cloud.external_network()
    admin = api_cloud.admin
    project = admin.ok('POST', '/v3/projects',
                       json={'name': name})['project']
    try:
        yield {'admin': admin, 'project': project,
               'netadmin': api_cloud.add_user(project['id'], name + 'net',
                                              'netadmin'),
               'dev': api_cloud.add_user(project['id'], name + 'dev',
                                         'developer')}
    finally:
        for ifname in UPLINKS.values():
            subprocess.run(['ip', 'link', 'del', ifname],
                           capture_output=True)
