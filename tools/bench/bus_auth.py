"""What signing costs per RPC message (agent/security/bus_auth.py).

    python -m tools.bench.bus_auth [--messages 20000]

Signs and verifies the arguments and context of messages as the boot flow
sends them (a small call, and an instance object as operation_start
returns it to an agent) and prints the time per sign and per verify. The
baseline, in the same process, is oslo.messaging's own JSON encoding of the
same message (what every message costs already): the ratio says how much
the signature adds to it.
"""
import argparse
import statistics
import time
import uuid

from oslo_serialization import jsonutils

from agent import context
from agent.security import bus_auth

KEYRING = bus_auth.Keyring(master=b'k' * 32)


def _messages():
    ctxt = context.RequestContext(user_id='u' * 32, project_id='p' * 32)
    small = {'instance_uuid': str(uuid.uuid4())}
    instance = {'hvobject.name': 'Instance', 'hvobject.version': '1.3',
                'hvobject.data': {
                    'uuid': str(uuid.uuid4()), 'name': 'web-1',
                    'vm_state': 'building', 'task_state': 'spawning',
                    'power_state': 'nostate', 'host': 'compute-01',
                    'flavor': {'name': 'm1.small', 'vcpus': 1,
                               'memory_mb': 2048, 'root_gb': 20},
                    'metadata': {'k%d' % i: 'v' * 40 for i in range(20)},
                    'user_data': 'x' * 4096,
                    'addresses': [{'ip': '10.0.0.%d' % i, 'mac': 'fa:16:3e'}
                                  for i in range(4)]}}
    return [('small call', small, ctxt.to_dict()),
            ('instance object (~6 KB)', {'instance': instance},
             ctxt.to_dict())]


def _per_call_us(func, n):
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n // 5):
            func()
        rounds.append((time.perf_counter() - t0) * 1e6 / (n // 5))
    return statistics.median(rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--messages', type=int, default=20000)
    n = parser.parse_args().messages
    for label, args, ctxt in _messages():
        wire = bus_auth.sign(KEYRING, 'control', 'conductor', None,
                             'operation_start', args, ctxt)
        sign = _per_call_us(lambda: bus_auth.sign(
            KEYRING, 'control', 'conductor', None, 'operation_start', args,
            ctxt), n)
        verify = _per_call_us(lambda: bus_auth.verify(
            KEYRING, bus_auth.AGENTS, 'conductor', None, 'operation_start',
            args, wire), n)
        encode = _per_call_us(lambda: jsonutils.dumps(
            {'method': 'operation_start', 'args': args, 'ctxt': ctxt}), n)
        print('bus_auth %-24s sign %6.1f us  verify %6.1f us   baseline '
              'JSON encoding of the message %6.1f us   (sign+verify)/'
              'baseline %.1fx' % (label, sign, verify, encode,
                                  (sign + verify) / encode))


if __name__ == '__main__':
    main()
