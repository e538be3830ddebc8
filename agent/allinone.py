"""hvagent-allinone: conductor, scheduler and compute agent in one process.

On embedded defaults (a SQLite file under state_path, the in-process
``kombu+memory:////`` transport, the fake driver) it boots one instance,
prints every state transition and the console, deletes it and exits 0.
With ``--serve`` it stays up for hvctl instead; hvctl needs a transport both
processes reach, so --serve uses the configured transport_url (oslo's
default: RabbitMQ on localhost).
"""
import argparse
import sys
import time

from oslo_config import cfg

from agent import cli
from agent import context
from agent.compute import main as compute_main
from agent.conductor import main as conductor_main
from agent.conductor import rpcapi as conductor_rpcapi
from agent.daemon import service
from agent.objects import states
from agent.rpc import transport as rpc_transport
from agent.scheduler import main as scheduler_main

CONF = cfg.CONF
MEMORY_URL = 'kombu+memory:////'


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog='hvagent-allinone', description=__doc__.split('\n\n')[0],
        epilog='Other arguments (--config-file, --config-dir) go to '
               'oslo.config.')
    parser.add_argument('--serve', action='store_true',
                        help='stay up for hvctl instead of the demo boot')
    parser.add_argument('--name', default='demo', help='instance name')
    parser.add_argument('--flavor', default='m1.tiny')
    parser.add_argument('--image', default='cirros-0.6.2')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='seconds to wait for each state change')
    cli.add_boot_options(parser)
    return parser.parse_known_args(argv)


def start_services(url=None):
    """Start conductor, scheduler and compute on one transport; return them
    in start order (the agent's start-up calls the conductor)."""
    rpc_transport.init(url=url)
    started = []
    for build in (conductor_main.build_service, scheduler_main.build_service,
                  compute_main.build_service):
        svc = build()
        svc.start()
        started.append(svc)
    return started


def demo(args):
    ctxt = context.RequestContext(user_id='demo', project_id='demo')
    conductor = conductor_rpcapi.ConductorAPI()
    t0 = time.monotonic()
    inst = conductor.boot_instance(
        ctxt, name=args.name, flavor=args.flavor, image_ref=args.image,
        availability_zone=None, hints={}, metadata={}, networks=[],
        options=cli.boot_options(args))
    print('Booting %s (%s) flavor %s' % (inst.name, inst.uuid, args.flavor))
    inst = cli.wait_for(conductor, ctxt, inst.uuid, args.timeout,
                        until=(states.ACTIVE, states.ERROR), echo=print,
                        start=inst, since=t0)
    if inst.vm_state == states.ERROR:
        print('Build failed: %s' % (inst.fault and inst.fault.message))
        return 1
    print('Active on host %s after %.1f ms' % (inst.host,
                                               (time.monotonic() - t0) * 1e3))
    print('--- console ---')
    print(_console(conductor, ctxt, inst.uuid, args.timeout).rstrip())
    print('--- end console ---')
    ctxt = context.RequestContext(user_id='demo', project_id='demo')
    conductor.instance_action(ctxt, ref=inst.uuid, action='delete',
                              volume_id=None, connection_info={})
    print('Deleting %s' % inst.uuid)
    cli.wait_for(conductor, ctxt, inst.uuid, args.timeout,
                 until=(states.DELETED,), echo=print)
    return 0


def _console(conductor, ctxt, uuid, timeout):
    """The console once the guest has announced itself: a real guest
    needs seconds to boot, so wait until a line names the instance uuid
    (the fake driver's banner and the test image's both do) or the output
    stops changing for two seconds."""
    deadline, text, since = time.monotonic() + timeout, None, 0
    while time.monotonic() < deadline:
        now = conductor.console_output(ctxt, ref=uuid, length=50)
        if uuid in now:
            return now
        if now != text:
            text, since = now, time.monotonic()
        elif now and time.monotonic() - since >= 2:
            break
        time.sleep(0.2)
    return text or ''


def main(argv=None):
    args, rest = _parse(sys.argv[1:] if argv is None else argv)
    defaults = {'compute.compute_driver': 'fake'}
    if not args.serve:
        defaults['transport_url'] = MEMORY_URL
    service.parse_config(rest, defaults=defaults)
    service.setup_logging()
    services = start_services()
    try:
        if args.serve:
            print('All-in-one node %s serving on %s; try: hvctl list'
                  % (CONF.host, CONF.transport_url))
            service.Service('hvagent-allinone').run_until_signalled()
            return 0
        return demo(args)
    finally:
        for svc in reversed(services):
            svc.stop()
        rpc_transport.cleanup()
