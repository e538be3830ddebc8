"""API boot request -> active latency, beside the direct RPC path.

    python -m tools.bench.api_boot [--boots 100] [--skip-rabbit]

Conductor, scheduler, compute agent (fake driver) and hvagent-api (uvicorn
in a thread) run in this process, first on the in-process
``kombu+memory:////`` transport, then on RabbitMQ (a private vhost). The
admin is bootstrapped and logs in over HTTP; then N boots go through the
API one after another (POST /compute/v2.1/servers, then GET until
active, as a client without a long poll must), and N through the
conductor's RPC API as tools.bench.boot does (hvctl's path, with its long
poll), in the same run. Printed: p50/p95 of each and the ratio of the p50s.
"""
import argparse
import contextlib
import tempfile
import threading
import time

import requests
import uvicorn
from oslo_config import cfg

from agent import allinone
from agent import context
from agent.api import app as app_mod
from agent.api import deps
from agent.cli import api_backend
from agent.rpc import transport as rpc_transport
from tests.fixtures import brokers
from tools.bench import boot as rpc_bench

CONF = cfg.CONF
PASSWORD = 'bench-password'
SERVERS = '/compute/v2.1/servers'


def start_api(port):
    server = uvicorn.Server(uvicorn.Config(
        app_mod.create_app(), host='127.0.0.1', port=port, log_config=None,
        access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread


def api_latencies(url, token, n):
    http = requests.Session()
    http.headers['X-Auth-Token'] = token
    times, ids = [], []
    for i in range(n):
        t0 = time.perf_counter()
        r = http.post(url + SERVERS, json={'server': {
            'name': 'api-bench-%d' % i, 'flavorRef': 'm1.tiny',
            'imageRef': 'cirros', 'networks': 'none'}})
        assert r.status_code == 202, r.text
        srv = r.json()['server']
        while srv.get('status') != 'ACTIVE' or \
                srv['OS-EXT-STS:task_state'] is not None:
            assert srv.get('status') != 'ERROR', srv
            srv = http.get(url + SERVERS + '/' + srv['id']).json()['server']
        times.append((time.perf_counter() - t0) * 1e3)
        ids.append(srv['id'])
    for id_ in ids:
        http.delete(url + SERVERS + '/' + id_)
    return times


@contextlib.contextmanager
def cloud(url, boots, state, port):
    """Every service in this process on transport ``url``, hvagent-api
    on ``port``, room for ``boots`` instances; yields (API URL, the
    admin's token)."""
    CONF.set_override('state_path', state)
    CONF.set_override('token_key_file', state + '/api_token.key', 'api')
    CONF.set_override('max_instances_per_host', boots + 10, 'scheduler')
    CONF.set_override('cpu_allocation_ratio', boots / 8.0, 'scheduler')
    CONF.set_override('ram_allocation_ratio', boots / 64.0, 'scheduler')
    services = allinone.start_services(url)
    deps.conductor.cache_clear()
    server, thread = start_api(port)
    api = 'http://127.0.0.1:%d' % port
    try:
        out = deps.conductor().bootstrap(
            context.RequestContext(), user='admin', project='admin',
            password=PASSWORD)
        deps.conductor().quota_set(context.RequestContext(),
                                   project_id=out['project_id'],
                                   limits={'instances': -1, 'cores': -1,
                                           'ram': -1})
        r = requests.post(api + '/v3/auth/tokens',
                          json=api_backend.password_auth('admin', PASSWORD))
        yield api, r.headers['X-Subject-Token']
    finally:
        server.should_exit = True
        thread.join(10)
        for svc in reversed(services):
            svc.stop()
        rpc_transport.cleanup()


def run(label, url, boots, state, port):
    with cloud(url, boots, state, port) as (api, token):
        api_latencies(api, token, 5)                # warm up
        via_api = api_latencies(api, token, boots)
        via_rpc = rpc_bench.boot_latencies(boots)
    pct = rpc_bench.percentile
    print('api boot %-9s %d boots: API p50 %.1f ms p95 %.1f ms   direct '
          'RPC p50 %.1f ms p95 %.1f ms   API/RPC p50 %.2fx'
          % (label, boots, pct(via_api, 50), pct(via_api, 95),
             pct(via_rpc, 50), pct(via_rpc, 95),
             pct(via_api, 50) / pct(via_rpc, 50)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--boots', type=int, default=100)
    parser.add_argument('--skip-rabbit', action='store_true')
    args = parser.parse_args()
    rpc_bench.configure()
    with tempfile.TemporaryDirectory() as tmp:
        run('in-process', allinone.MEMORY_URL, args.boots, tmp + '/mem',
            18774)
        if args.skip_rabbit:
            return
        vhost = brokers.VHost()     # a private vhost, as the tests use
        try:
            run('rabbitmq', vhost.url, args.boots, tmp + '/rabbit', 18775)
        finally:
            vhost.delete()


if __name__ == '__main__':
    main()
