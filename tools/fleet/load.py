"""The fleet's clients: concurrent users booting (and deleting) instances.

    python -m tools.fleet.load --config-file F --clients C --seconds S
                              [--mix boot|boot-delete] [--timeout T]

Each client is a thread that does what ``hvctl boot --wait`` does: a boot
request to the conductor, then long polls (instance_wait) until the
instance is active or in error; with ``boot-delete`` it then deletes it
(not waited for) and boots the next. Writes one JSON object to the
``--out`` file: every boot's request->settled milliseconds, its end
(seconds after the clients began, at ``started_at``, time.time()), its
host, and its fault if it failed.
"""
import argparse
import json
import sys
import threading
import time

from oslo_config import cfg

from agent import context
from agent import exception
from agent.cli import bus_backend
from agent.conductor import rpcapi as conductor_rpcapi
from agent.daemon import service
from agent.objects import states
from agent.rpc import transport as rpc_transport

CONF = cfg.CONF
PROJECT = 'fleet-bench'    # no such project: no quota applies


def client(conductor, index, deadline, mix, timeout, results):
    ctxt = context.RequestContext(user_id='fleet-%d' % index,
                                  project_id=PROJECT)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        t0, since = time.perf_counter(), time.monotonic()
        record = {'ok': False, 'host': None, 'fault': None, 'uuid': None}
        try:
            inst = conductor.boot_instance(
                ctxt, name='fleet-%d-%d' % (index, n), flavor='m1.tiny',
                image_ref=None, availability_zone=None, hints={},
                metadata={}, networks=[])
            if inst.vm_state == states.BUILDING:
                inst = bus_backend.wait_for(conductor, ctxt, inst.uuid,
                                            timeout, start=inst, since=since)
            record.update(ok=inst.vm_state == states.ACTIVE, host=inst.host,
                          fault=inst.fault and inst.fault.message,
                          uuid=inst.uuid)
        except Exception as e:   # a lost request is a result, not a crash
            record['fault'] = '%s: %s' % (type(e).__name__,
                                          exception.text(e))
            inst = None
        record['ms'] = (time.perf_counter() - t0) * 1e3
        record['end'] = time.monotonic()
        results.append(record)
        if mix == 'boot-delete' and inst is not None:
            try:
                conductor.instance_action(ctxt, ref=inst.uuid,
                                          action='delete', volume_id=None,
                                          connection_info={})
            except Exception as e:
                results.append({'ok': False, 'ms': 0, 'host': None,
                                'end': time.monotonic(),
                                'fault': 'delete: %s' % exception.text(e)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--clients', type=int, default=32)
    parser.add_argument('--seconds', type=float, default=30)
    parser.add_argument('--mix', choices=('boot', 'boot-delete'),
                        default='boot-delete')
    parser.add_argument('--timeout', type=float, default=60)
    parser.add_argument('--out', required=True,
                        help='where the JSON results go')
    parser.add_argument('--start-at', type=float, default=None,
                        help='time.time() at which to begin (several load '
                             'processes start together)')
    args = parser.parse_args(argv)
    service.parse_config(['--config-file', args.config_file])
    service.setup_logging()
    rpc_transport.init()
    conductor = conductor_rpcapi.ConductorAPI()
    # one connection per client before the clock starts
    conductor.flavor_list(context.RequestContext(project_id=PROJECT))
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    t0, started_at = time.monotonic(), time.time()
    results = []
    threads = [threading.Thread(
        target=client, args=(conductor, i, t0 + args.seconds, args.mix,
                             args.timeout, results), daemon=True)
        for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + args.timeout + 30)
    for r in results:
        r['end'] -= t0
    with open(args.out, 'w') as out:
        json.dump({'seconds': args.seconds, 'started_at': started_at,
                   'results': results}, out)
    rpc_transport.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
