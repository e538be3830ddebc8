"""Request -> active latency of the boot flow on the fake driver.

    python -m tools.bench.boot [--boots 200] [--rabbit URL] [--skip-rabbit]

Runs conductor, scheduler and compute agent in this process, first on the
in-process ``kombu+memory:////`` transport, then on RabbitMQ (a private
vhost), boots N instances one after another and prints p50/p95 from the
boot request until the instance reads back active. The baseline, run in the
same process on the same transport, is one bare RPC round trip (an echo
endpoint, signed like every message): the ratio says how many round trips'
worth a boot costs.
"""
import argparse
import resource
import statistics
import subprocess
import tempfile
import time
import uuid

import oslo_messaging as messaging
from oslo_config import cfg

import agent.conf  # noqa: F401
from agent import allinone
from agent import cli
from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import fields
from agent.objects import states
from agent.rpc import checks
from agent.rpc import serializer
from agent.rpc import servers
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth

CONF = cfg.CONF


class Echo:
    target = messaging.Target(version='1.0')

    @checks.expects(value=fields.Integer())
    def echo(self, ctxt, value):
        return value


def percentile(values, pct):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100 * len(values))))]


def idle_cpu_percent(seconds=3.0):
    """CPU the running services burn with nothing to do."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    time.sleep(seconds)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    used = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return 100.0 * used / (time.monotonic() - t0)


def baseline_ms(n=200):
    server = servers.get_server('bench-echo', CONF.host, [Echo()])
    server.start()
    client = messaging.get_rpc_client(
        rpc_transport.get_transport(), messaging.Target(topic='bench-echo'),
        serializer=serializer.Serializer())

    def echo():     # signed, as every hvagent message is
        ctxt, args = serializer.signed(bus_auth.CONTROL, 'bench-echo', None,
                                context.RequestContext(), 'echo',
                                {'value': 1})
        client.call(ctxt, 'echo', **args)
    echo()  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        echo()
        times.append((time.perf_counter() - t0) * 1e3)
    server.stop()
    server.wait()
    return statistics.median(times)


def boot_latencies(n):
    conductor = conductor_rpcapi.ConductorAPI()
    ctxt = context.RequestContext(user_id='bench', project_id='bench')
    times, uuids = [], []
    for i in range(n):
        t0, since = time.perf_counter(), time.monotonic()
        inst = conductor.boot_instance(
            ctxt, name='bench-%d' % i, flavor='m1.tiny', image_ref=None,
            availability_zone=None, hints={}, metadata={}, networks=[])
        if inst.vm_state == states.BUILDING:
            inst = cli.wait_for(conductor, ctxt, inst.uuid, 30, start=inst,
                                  since=since)
        times.append((time.perf_counter() - t0) * 1e3)
        assert inst.vm_state == states.ACTIVE, inst.fault
        uuids.append(inst.uuid)
    for u in uuids:  # leave the node empty for the next run
        conductor.instance_action(ctxt, ref=u, action='delete',
                                  volume_id=None, connection_info={})
    return times


def run(label, url, boots, state):
    CONF.set_override('state_path', state)
    # room on the fake host (16 vCPUs, 64 GiB) for every m1.tiny at once
    CONF.set_override('max_instances_per_host', boots + 10, 'scheduler')
    CONF.set_override('cpu_allocation_ratio', boots / 8.0, 'scheduler')
    CONF.set_override('ram_allocation_ratio', boots / 64.0, 'scheduler')
    services = allinone.start_services(url)
    try:
        idle = idle_cpu_percent()
        base = baseline_ms()
        cpu0 = time.process_time()
        times = boot_latencies(boots)
        cpu_ms = (time.process_time() - cpu0) * 1e3 / boots
    finally:
        for svc in reversed(services):
            svc.stop()
        rpc_transport.cleanup()
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print('boot %-9s %d boots: p50 %.1f ms  p95 %.1f ms   baseline RPC '
          'round trip %.2f ms   p50/baseline %.0fx   CPU per boot+delete '
          '%.1f ms   idle CPU of the three services %.0f%%'
          % (label, boots, p50, p95, base, p50 / base, cpu_ms, idle))


def configure():
    """No config files; the fake driver on host bench-node."""
    CONF([], project='hvagent', default_config_files=[],
         default_config_dirs=[])
    CONF.set_override('compute_driver', 'fake', 'compute')
    CONF.set_override('host', 'bench-node')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--boots', type=int, default=200)
    parser.add_argument('--skip-rabbit', action='store_true')
    args = parser.parse_args()
    configure()
    with tempfile.TemporaryDirectory() as tmp:
        run('in-process', allinone.MEMORY_URL, args.boots, tmp + '/mem')
        if args.skip_rabbit:
            return
        vhost = 'hvbench-%s' % uuid.uuid4().hex[:8]
        subprocess.run(['rabbitmqctl', '-q', 'add_vhost', vhost], check=True)
        subprocess.run(['rabbitmqctl', '-q', 'set_permissions', '-p', vhost,
                        'guest', '.*', '.*', '.*'], check=True)
        try:
            run('rabbitmq', 'rabbit://guest:guest@127.0.0.1:5672/' + vhost,
                args.boots, tmp + '/rabbit')
        finally:
            subprocess.run(['rabbitmqctl', '-q', 'delete_vhost', vhost])


if __name__ == '__main__':
    main()
