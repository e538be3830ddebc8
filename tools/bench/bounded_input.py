"""Peak RSS of hvagent-api (and the conductor) under hostile input.

    python -m tools.bench.bounded_input [--connections 1100]

A conductor and an hvagent-api run as real processes on a private
RabbitMQ vhost (tests.fixtures.api_cloud), with the shipped defaults
(argon2id 64 MiB x 3 passes, 1 MiB body limit, 2 password checks at
once); loopback only, bounded loops. Sampled every 20 ms with psutil:

  a) a 400 MiB request body, declared with Content-Length, then chunked
  b) 24 parallel wrong logins, 3 rounds, each from its own 127.0.1.x
     address, half of them as the (known) admin, half as unknown users
     (the admin is throttled after [api] login_failures_per_user; the
     rest is bounded by the conductor's password-check slots)
  c) 1,100 idle connections held open while a normal request is timed

Printed as JSON: idle and peak RSS (MiB) per case and process.
"""
import argparse
import collections
import concurrent.futures
import json
import pathlib
import tempfile
import time

from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
from agent.security import bus_auth
from tests.fixtures import api_cloud as cloudlib
from tests.functional import bounded

MIB = 1 << 20


def _mib(rss, pid):
    return {'idle': round(rss.idle[pid] / MIB, 1),
            'peak': round(rss.peak[pid] / MIB, 1),
            'growth': round(rss.growth(pid) / MIB, 1)}


def run(connections):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='hvagent-bench-bounded-'))
    # the services sign their messages with a bus secret of this run's
    cfg.CONF([], project='hvagent', default_config_files=[],
             default_config_dirs=[])
    bus_auth.create_secret(str(tmp / 'bus.secret'))
    cfg.CONF.set_override('secret_file', str(tmp / 'bus.secret'), 'bus')
    cloud = cloudlib.ApiCloud(tmp, extra={'api': {
        'argon2_time_cost': 3, 'argon2_memory_kib': 65536}})
    cloud.start(services=('hvagent-conductor',))
    api = cloud.dep.procs['hvagent-api'].pid
    conductor = cloud.dep.procs['hvagent-conductor'].pid
    out = {}
    try:
        for chunked in (False, True):
            with bounded.PeakRSS(api) as rss:
                status, sent = bounded.oversized(cloud.port, 400 * MIB,
                                                 chunked)
            out['body_400MiB_%s' % ('chunked' if chunked else
                                    'content_length')] = dict(
                _mib(rss, api), status=status, sent_mib=sent // MIB)
        statuses = collections.Counter()
        with bounded.PeakRSS(api, conductor) as rss, \
                concurrent.futures.ThreadPoolExecutor(24) as pool:
            start = time.monotonic()
            for _ in range(3):
                statuses.update(s for s, _, _ in pool.map(
                    lambda i: bounded.login(
                        cloud.port, 'admin' if i % 2 else 'flood-%d' % i,
                        'wrong password',
                        source='127.0.1.%d' % (i + 1)), range(24)))
            took = time.monotonic() - start
        out['logins_24x3'] = {'api': _mib(rss, api),
                              'conductor': _mib(rss, conductor),
                              'statuses': dict(statuses),
                              'seconds': round(took, 2)}
        with bounded.PeakRSS(api) as rss, \
                bounded.idle_connections(cloud.port, connections):
            start = time.monotonic()
            cloud.admin.ok('GET', '/v3/auth/tokens')
            latency = time.monotonic() - start
        out['idle_connections_%d' % connections] = dict(
            _mib(rss, api), request_ms=round(latency * 1e3, 1))
    finally:
        cloud.stop()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--connections', type=int, default=1100)
    print(json.dumps(run(p.parse_args().connections), indent=2))


if __name__ == '__main__':
    main()
