"""The OpenStack clients' boot -> active, beside hvctl's direct path.

    python -m tools.bench.openstack_clients [--cli-boots 5]
                                            [--sdk-boots 20] [--rpc-boots 50]
                                            [--transport rabbit|memory]

Conductor, scheduler, compute agent (fake driver) and hvagent-api run in
this process (tools.bench.api_boot), on a private RabbitMQ vhost by
default. In the same run, boots made and waited for:

* hvctl's direct path: the conductor's RPC API with its long poll (the
  baseline, tools.bench.boot);
* openstacksdk: ``compute.create_server`` then ``wait_for_server`` as a
  user calls them (it polls every 2 s), and again polling every 0.05 s
  (what the server side takes through the SDK);
* the ``openstack`` command: ``server create --wait`` (a process per boot;
  it polls every 5 s).

The clients' own costs are printed apart: the ``openstack`` process
started and gone (``--version``), and started, logged in and one request
answered (``flavor list``); the SDK's log-in. Printed: p50/p95 of each
and its p50 against the direct path's.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import requests
import yaml

from agent import allinone
from tests.fixtures import brokers
from tools.bench import api_boot
from tools.bench import boot as rpc_bench

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def _image(api, token):
    http = requests.Session()
    http.headers['X-Auth-Token'] = token
    image = http.post(api + '/image/v2/images', json={
        'name': 'bench-img', 'disk_format': 'raw',
        'container_format': 'bare'}).json()
    r = http.put(api + '/image/v2/images/%s/file' % image['id'],
                 data=b'\0' * 65536, headers={
                     'Content-Type': 'application/octet-stream'})
    assert r.status_code == 204, r.text
    return image['id']


def _timed(func, n):
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        func(i)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def sdk_boots(api, image, n, interval):
    import openstack
    t0 = time.perf_counter()
    conn = openstack.connect(
        auth_url=api + '/v3', username='admin',
        password=api_boot.PASSWORD, project_name='admin',
        user_domain_name='Default', project_domain_name='Default',
        region_name='RegionOne')
    flavor = conn.compute.find_flavor('m1.tiny', ignore_missing=False)
    login = (time.perf_counter() - t0) * 1e3

    def one(i):
        server = conn.compute.create_server(
            name='sdk-%s-%d' % (interval, i), image_id=image,
            flavor_id=flavor.id)
        conn.compute.wait_for_server(server, interval=interval, wait=120)
    try:
        return login, _timed(one, n)
    finally:
        conn.close()


def cli(env, *args):
    proc = subprocess.run([OPENSTACK, *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def cli_boots(api, image, n, home):
    path = pathlib.Path(home) / 'clouds.yaml'
    path.write_text(yaml.safe_dump({'clouds': {'bench': {
        'auth': {'auth_url': api + '/v3', 'username': 'admin',
                 'password': api_boot.PASSWORD, 'project_name': 'admin',
                 'user_domain_name': 'Default',
                 'project_domain_name': 'Default'},
        'region_name': 'RegionOne'}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_CLIENT_CONFIG_FILE=str(path), HOME=home)
    start = _timed(lambda i: cli(env, '--version'), 3)
    login = _timed(lambda i: cli(env, '--os-cloud', 'bench', 'flavor',
                                 'list'), 3)
    boots = _timed(lambda i: cli(
        env, '--os-cloud', 'bench', 'server', 'create', '--image', image,
        '--flavor', 'm1.tiny', '--wait', 'cli-%d' % i), n)
    return start, login, boots


def _delete_all(api, token):
    http = requests.Session()
    http.headers['X-Auth-Token'] = token
    for srv in http.get(api + '/compute/v2.1/servers').json()['servers']:
        http.delete(api + '/compute/v2.1/servers/' + srv['id'])


def run(url, args, state):
    pct = rpc_bench.percentile
    total = args.cli_boots + 2 * args.sdk_boots + args.rpc_boots
    with api_boot.cloud(url, total + 10, state, 18776) as (api, token):
        image = _image(api, token)
        via_rpc = rpc_bench.boot_latencies(args.rpc_boots)
        sdk_login, via_sdk = sdk_boots(api, image, args.sdk_boots, 2)
        _, via_sdk_fast = sdk_boots(api, image, args.sdk_boots, 0.05)
        start, login, via_cli = cli_boots(api, image, args.cli_boots, state)
        _delete_all(api, token)
    base = pct(via_rpc, 50)
    rows = (('hvctl direct path (RPC, long poll)', via_rpc),
            ('openstacksdk create + wait_for_server (2 s polls)', via_sdk),
            ('openstacksdk create + wait_for_server (0.05 s polls)',
             via_sdk_fast),
            ("openstack server create --wait (5 s polls)", via_cli))
    for label, times in rows:
        print('%-54s n=%-3d p50 %8.1f ms  p95 %8.1f ms  %6.1fx'
              % (label, len(times), pct(times, 50), pct(times, 95),
                 pct(times, 50) / base))
    print('client overheads: openstack --version p50 %.0f ms; openstack '
          'flavor list (start, log in, one request) p50 %.0f ms; '
          'openstacksdk connect + log in %.0f ms'
          % (pct(start, 50), pct(login, 50), sdk_login))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cli-boots', type=int, default=5)
    parser.add_argument('--sdk-boots', type=int, default=20)
    parser.add_argument('--rpc-boots', type=int, default=50)
    parser.add_argument('--transport', choices=('rabbit', 'memory'),
                        default='rabbit')
    args = parser.parse_args()
    rpc_bench.configure()
    with tempfile.TemporaryDirectory() as tmp:
        if args.transport == 'memory':
            return run(allinone.MEMORY_URL, args, tmp)
        vhost = brokers.VHost()
        try:
            run(vhost.url, args, tmp)
        finally:
            vhost.delete()


if __name__ == '__main__':
    main()
