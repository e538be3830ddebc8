"""Many simulated compute hosts in one process.

    python -m tools.fleet.hosts --config-file F --prefix P --first K --count N

Each host is the real hvagent-compute service (agent.compute.main) on the
fake driver: its own ``compute.<host>`` queue and RPC server, its resource
tracker reporting every ``report_interval`` seconds, its node identity in
``<state_path>/<host>``. They sign as ``compute:<host>`` with keys derived
from the bus secret the config names (a harness, not a node: a real node
holds only its own key). Prints ``ready <count>`` once every host serves,
and stops them all on SIGTERM/SIGINT.
"""
import argparse
import concurrent.futures
import logging
import os
import signal
import sys
import threading

from oslo_config import cfg

from agent.compute import main as compute_main
from agent.daemon import service
from agent.rpc import transport as rpc_transport
from virt import fake

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def host_name(prefix: str, index: int) -> str:
    return '%s-%04d' % (prefix, index)


def build(host: str, vcpus: int, memory_mb: int):
    return compute_main._build(
        fake.FakeDriver(vcpus=vcpus, memory_mb=memory_mb), None, None,
        host=host, state_path=os.path.join(CONF.state_path, host))


def start_hosts(names, vcpus, memory_mb, parallel=8):
    """Build and start a service per name, ``parallel`` at a time (each
    start waits for its recovery call and its queue's probe)."""
    def one(name):
        svc = build(name, vcpus, memory_mb)
        svc.start()
        return svc
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, names))


def stop_hosts(services):
    stoppers = [threading.Thread(target=svc.stop, kwargs={'timeout': 10})
                for svc in services]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--prefix', default='fleet')
    parser.add_argument('--first', type=int, default=0)
    parser.add_argument('--count', type=int, default=50)
    parser.add_argument('--vcpus', type=int, default=64)
    parser.add_argument('--memory-mb', type=int, default=262144)
    args = parser.parse_args(argv)
    service.parse_config(['--config-file', args.config_file])
    service.setup_logging()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    rpc_transport.init()
    names = [host_name(args.prefix, i)
             for i in range(args.first, args.first + args.count)]
    services = start_hosts(names, args.vcpus, args.memory_mb)
    print('ready %d' % len(services), flush=True)
    stop.wait()
    stop_hosts(services)
    rpc_transport.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
