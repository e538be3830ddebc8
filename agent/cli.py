"""hvctl: the operator's command line, talking to the conductor over RPC.

    hvctl boot NAME --flavor m1.tiny [--image REF] [--kernel REF
               --ramdisk REF] [--config-drive] [--user-data FILE]
               [--public-key FILE] [--wait]
    hvctl list | show REF | delete REF | reboot REF [--hard] | stop REF
    hvctl start REF | pause REF | unpause REF | console REF [--length N]
    hvctl attach REF VOLUME_ID --path FILE [--format qcow2|raw]
    hvctl detach REF VOLUME_ID
    hvctl flavor-list | host-list | action-list REF
    hvctl bus-host-key HOST   (the key a compute node signs with)
    hvctl bus-broker-permissions USER (--compute-host HOST | --controller)
               [--vhost VHOST]   (rabbitmqctl commands for that user)
    hvctl network-create NAME --cidr CIDR [--type flat|vlan|vxlan] ...
    hvctl network-list | network-delete REF | port-list [--network REF]
    hvctl fixed-ip-create NETWORK [--address IP] | fixed-ip-list
               | fixed-ip-delete UUID  (then: boot --fixed-ip UUID)
    hvctl secgroup-create NAME | secgroup-rule-add GROUP --protocol tcp
               --port 22 [--remote-ip CIDR] | secgroup-list

    hvctl --endpoint URL login --user NAME [--project NAME]
               [--password-file FILE] | logout
    hvctl --endpoint URL password [--password-file F --new-password-file F]
    hvctl --endpoint URL user-set USER_ID [--enable|--disable]
               [--default-project REF]

Every command takes --json. Configuration (transport_url...) comes from
/etc/hvagent/hvagent.conf, --config-file or --transport-url. Over RPC
hvctl is a controller: it signs with the bus secret ([bus] secret_file).
With an endpoint (--endpoint or $HVAGENT_ENDPOINT) hvctl goes through
hvagent-api with the token ``login`` cached instead (see agent.cli_api);
an https endpoint's certificate is verified against --os-cacert FILE
($OS_CACERT), else the system's CAs (docs/tls.md).
"""
import argparse
import os
import shlex
import sys
import time

from oslo_config import cfg

import agent.conf  # noqa: F401
from agent import broker_perms
from agent import bus_auth
from agent import cli_api
from agent import cli_net
from agent import cli_table
from agent import context
from agent import exception
from agent import rpc
from agent.objects import states

CONF = cfg.CONF
INSTANCE_ACTIONS = ('delete', 'reboot', 'stop', 'start', 'pause', 'unpause',
                    'isolate', 'release')
#: seconds one long poll may last (kept well under the RPC timeout)
WAIT_STEP = 10.0
SETTLED = (states.ACTIVE, states.STOPPED, states.PAUSED, states.ERROR,
           states.DELETED)


def add_boot_options(parser):
    """Options of a boot beyond flavor and image (hvctl, all-in-one)."""
    parser.add_argument('--kernel', help='kernel for direct kernel boot '
                        '(path or URL)')
    parser.add_argument('--ramdisk', help='initramfs for direct kernel boot')
    parser.add_argument('--config-drive', action='store_true',
                        help='give the guest a config drive')
    parser.add_argument('--user-data', type=argparse.FileType('r'),
                        metavar='FILE', help='user data for the guest')
    parser.add_argument('--public-key', type=argparse.FileType('r'),
                        metavar='FILE', help='OpenSSH public key to inject')
    parser.add_argument('--key-name', default=None)


def boot_options(args):
    """The ``options`` of boot_instance from parsed boot options."""
    options = {'kernel_ref': args.kernel, 'ramdisk_ref': args.ramdisk,
               'config_drive': args.config_drive}
    if args.user_data:
        options['user_data'] = args.user_data.read()
    if args.public_key:
        options['key_data'] = args.public_key.read().strip()
        options['key_name'] = args.key_name or 'default'
    return {k: v for k, v in options.items() if v}


def build_parser():
    p = argparse.ArgumentParser(prog='hvctl', description=__doc__.split(
        '\n\n')[0])
    p.add_argument('--json', action='store_true', help='print JSON')
    p.add_argument('--transport-url', help='oslo.messaging transport URL')
    p.add_argument('--endpoint', default=os.environ.get('HVAGENT_ENDPOINT'),
                   help='hvagent-api URL (default $HVAGENT_ENDPOINT): use '
                   'the REST API with the cached token, not RPC')
    p.add_argument('--os-cacert', default=os.environ.get('OS_CACERT'),
                   metavar='FILE',
                   help='PEM CA bundle that signed an https --endpoint\'s '
                   'certificate (default $OS_CACERT, else the system CAs); '
                   'the certificate is always verified')
    p.add_argument('--project', default='admin', help='acting project')
    p.add_argument('--user', default='admin', help='acting user')
    p.add_argument('--timeout', type=float, default=60.0,
                   help='seconds --wait waits')
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    boot = sub.add_parser('boot', help='boot an instance')
    boot.add_argument('name')
    boot.add_argument('--flavor', required=True)
    boot.add_argument('--image', default=None)
    boot.add_argument('--availability-zone', default=None)
    boot.add_argument('--same-host', action='append', default=[],
                      metavar='UUID')
    boot.add_argument('--different-host', action='append', default=[],
                      metavar='UUID')
    boot.add_argument('--meta', action='append', default=[],
                      metavar='KEY=VALUE')
    add_boot_options(boot)
    boot.add_argument('--network', action='append', default=[],
                      metavar='NAME', help='a NIC on this network '
                      '(repeatable)')
    boot.add_argument('--fixed-ip', action='append', default=[],
                      metavar='UUID', help="a NIC on one of the project's "
                      'reserved fixed IPs (fixed-ip-create; repeatable)')
    boot.add_argument('--security-group', action='append', default=[],
                      metavar='NAME')
    boot.add_argument('--wait', action='store_true')
    lst = sub.add_parser('list', help='list instances')
    lst.add_argument('--host')
    for name in ('show', 'action-list'):
        sub.add_parser(name).add_argument('ref', help='instance uuid or name')
    for name in INSTANCE_ACTIONS:
        sp = sub.add_parser(name, help='%s an instance' % name)
        sp.add_argument('ref', help='instance uuid or name')
        sp.add_argument('--wait', action='store_true')
        if name == 'reboot':
            sp.add_argument('--hard', action='store_true')
    for name in ('attach', 'detach'):
        sp = sub.add_parser(name, help='%s a volume' % name)
        sp.add_argument('ref')
        sp.add_argument('volume_id')
        sp.add_argument('--wait', action='store_true')
        if name == 'attach':
            sp.add_argument('--path', help='file backing the volume '
                            '(absolute; readable by the hypervisor)')
            sp.add_argument('--format', default='qcow2',
                            choices=['qcow2', 'raw'])
    con = sub.add_parser('console', help='print console output')
    con.add_argument('ref')
    con.add_argument('--length', type=int, default=None)
    sub.add_parser('flavor-list')
    sub.add_parser('host-list')
    key = sub.add_parser(
        'bus-host-key', help='print the [bus] host_key_file content for a '
        'compute node (on a controller, from the bus secret)')
    key.add_argument('host')
    perms = sub.add_parser(
        'bus-broker-permissions', help='print the rabbitmqctl commands that '
        'give a broker user the rights of a compute node (or a controller)')
    perms.add_argument('user', help='the RabbitMQ user')
    perms.add_argument('--vhost', default='/')
    who = perms.add_mutually_exclusive_group(required=True)
    who.add_argument('--compute-host', help='the compute node (its [DEFAULT] '
                     'host) that uses this user')
    who.add_argument('--controller', action='store_true')
    cli_net.add_parsers(sub)
    login = sub.add_parser('login', help='log in to --endpoint, cache the '
                           'token')
    login.add_argument('--user', dest='login_user', required=True)
    login.add_argument('--project', dest='login_project')
    login.add_argument('--password-file', type=argparse.FileType('r'))
    sub.add_parser('logout', help='revoke and forget the cached token')
    pw = sub.add_parser('password', help="change the logged-in user's own "
                        'password (every token of it dies)')
    pw.add_argument('--password-file', type=argparse.FileType('r'),
                    help='the current password (else $HVCTL_PASSWORD)')
    pw.add_argument('--new-password-file', type=argparse.FileType('r'),
                    help='the new password (else $HVCTL_NEW_PASSWORD)')
    us = sub.add_parser('user-set', help='enable/disable a user (admin), '
                        'set their default project (the user or admin)')
    us.add_argument('user_id')
    us.add_argument('--enable', dest='enabled', action='store_true',
                    default=None)
    us.add_argument('--disable', dest='enabled', action='store_false',
                    default=None)
    us.add_argument('--default-project', help='project id or name')
    return p


def _pairs(text, flag):
    out = {}
    for item in text:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit('hvctl: %s wants KEY=VALUE, got %r'
                             % (flag, item))
        out[key] = value
    return out


def _show(out, inst, as_json):
    if as_json:
        return out(cli_table.dumps(inst))
    rows = [(k, getattr(inst, k)) for k in (
        'uuid', 'name', 'vm_state', 'task_state', 'power_state', 'host',
        'project_id', 'image_ref', 'created_at', 'launched_at')]
    rows.insert(5, ('flavor', inst.flavor.name))
    if inst.networks:
        rows.append(('networks', ', '.join(inst.networks)))
    if inst.block_devices:
        rows.append(('volumes', ', '.join(
            '%s on %s' % (b.volume_id, b.device_name)
            for b in inst.block_devices)))
    if inst.metadata:
        rows.append(('metadata', inst.metadata))
    if inst.fault:
        rows.append(('fault', inst.fault.message))
    out(cli_table.fields(rows))


def wait_for(conductor, ctxt, uuid, timeout, until=SETTLED, echo=None,
             start=None):
    """Follow the instance until its vm_state is in ``until`` with no task
    running; return it (None once deleted). ``echo`` gets a line for every
    new (vm_state, task_state, power_state). Each step is a long poll
    (instance_wait) that returns as soon as the states change; ``start``,
    the instance as the caller last read it, saves the first read."""
    deadline = time.monotonic() + timeout
    now, step, inst = None, None, start
    while True:
        try:
            if step is not None:     # with no echo, no stops on the way
                inst = conductor.instance_wait(
                    ctxt, ref=uuid, seen=now, timeout=step,
                    **({} if echo else {'until': list(until)}))
            elif inst is None:
                inst = conductor.instance_show(ctxt, ref=uuid)
            new = [inst.vm_state, inst.task_state, inst.power_state]
        except exception.InstanceNotFound:
            inst, new = None, [states.DELETED, None, states.NOSTATE]
        if echo and new != now:
            echo('  %-9s task_state=%-14s power_state=%s' % tuple(new))
        now = new
        if now[0] in until and now[1] is None:
            return inst
        if inst is None:
            raise exception.InstanceNotFound(instance=uuid)
        left = deadline - time.monotonic()
        if left <= 0:
            raise exception.HVAgentError(
                'Timed out after %ss waiting for %s (at %s)'
                % (timeout, uuid, '/'.join(map(str, now))))
        step = min(left, WAIT_STEP, CONF.rpc_call_timeout / 2)


def run(args, conductor, ctxt, out=print):
    """Carry out one parsed command; return the exit code."""
    cmd, as_json = args.command, args.json
    if cmd == 'boot':
        inst = conductor.boot_instance(
            ctxt, name=args.name, flavor=args.flavor, image_ref=args.image,
            availability_zone=args.availability_zone,
            hints={'same_host': args.same_host,
                   'different_host': args.different_host},
            metadata=_pairs(args.meta, '--meta'), networks=args.network,
            options=boot_options(args),
            security_groups=args.security_group, fixed_ips=args.fixed_ip)
        if args.wait and inst.vm_state != states.ERROR:
            inst = wait_for(conductor, ctxt, inst.uuid, args.timeout,
                            start=inst)
        _show(out, inst, as_json)
        return 1 if inst.vm_state == states.ERROR else 0
    if cmd == 'list':
        items = conductor.instance_list(ctxt, host=args.host, project_id=None)
        if as_json:
            return out(cli_table.dumps(items)) or 0
        out(cli_table.table(
            ['UUID', 'Name', 'Status', 'Task', 'Power', 'Host', 'Flavor'],
            [[i.uuid, i.name, i.vm_state, i.task_state, i.power_state,
              i.host, i.flavor.name] for i in items]))
        return 0
    if cmd == 'show':
        _show(out, conductor.instance_show(ctxt, ref=args.ref), as_json)
        return 0
    if cmd in INSTANCE_ACTIONS + ('attach', 'detach'):
        return _act(args, conductor, ctxt, out)
    if cmd == 'console':
        text = conductor.console_output(ctxt, ref=args.ref,
                                        length=args.length)
        out(cli_table.dumps({'output': text}) if as_json else text.rstrip())
        return 0
    if cmd == 'flavor-list':
        items = conductor.flavor_list(ctxt)
        out(cli_table.dumps(items) if as_json else cli_table.table(
            ['Name', 'vCPUs', 'RAM (MB)', 'Disk (GB)'],
            [[f.name, f.vcpus, f.memory_mb, f.root_gb] for f in items]))
        return 0
    if cmd == 'host-list':
        return _hosts(conductor.host_list(ctxt), as_json, out)
    if cmd == 'action-list':
        items = conductor.action_list(ctxt, ref=args.ref)
        out(cli_table.dumps(items) if as_json else cli_table.table(
            ['Action', 'Request', 'User', 'Start', 'Finish', 'Result'],
            [[a.action, a.request_id, a.user_id, a.start_time,
              a.finish_time, a.result] for a in items]))
        return 0
    if cmd in cli_net.COMMANDS:
        return cli_net.run(args, conductor, ctxt, out)
    raise SystemExit('hvctl: unknown command %s' % cmd)


def _act(args, conductor, ctxt, out):
    action = {'attach': 'attach_volume', 'detach': 'detach_volume'}.get(
        args.command, args.command)
    if action == 'reboot' and args.hard:
        action = 'reboot_hard'
    volume_id = getattr(args, 'volume_id', None)
    info = {}
    if getattr(args, 'path', None):
        info = {'driver_volume_type': 'file', 'format': args.format,
                'path': os.path.abspath(args.path)}
    inst = conductor.instance_action(ctxt, ref=args.ref, action=action,
                                     volume_id=volume_id,
                                     connection_info=info)
    if args.wait:
        inst = wait_for(conductor, ctxt, inst.uuid, args.timeout)
        if inst is None:
            out('Instance %s deleted' % args.ref)
            return 0
    _show(out, inst, args.json)
    return 1 if inst.vm_state == states.ERROR else 0


def _hosts(items, as_json, out):
    if as_json:
        return out(cli_table.dumps(items)) or 0
    rows = []
    for item in items:
        svc, node = item['service'], item['node']
        rows.append([svc.host, svc.binary, 'up' if svc.up else 'down',
                     'disabled' if svc.disabled else 'enabled',
                     node and '%d/%d' % (node.vcpus_used, node.vcpus),
                     node and '%d/%d' % (node.memory_mb_used, node.memory_mb),
                     node and '%d/%d' % (node.local_gb_used, node.local_gb),
                     node and node.running_vms, svc.last_seen_up])
    out(cli_table.table(['Host', 'Service', 'State', 'Status', 'vCPUs',
                         'RAM MB', 'Disk GB', 'VMs', 'Last seen'], rows))
    return 0


def _host_key(args):
    print(bus_auth.host_key_hex(args.host))
    return 0


def _broker_permissions(args):
    perms = broker_perms.controller() if args.controller else \
        broker_perms.compute(args.compute_host, CONF.control_exchange)
    for argv in broker_perms.rabbitmqctl_commands(
            args.user, args.vhost, CONF.control_exchange, perms):
        print(' '.join(shlex.quote(a) for a in argv))
    return 0


#: commands that need no message bus
LOCAL_COMMANDS = {'bus-host-key': _host_key,
                  'bus-broker-permissions': _broker_permissions}


def main(argv=None):
    args, rest = build_parser().parse_known_args(
        sys.argv[1:] if argv is None else argv)
    if args.endpoint:
        return cli_api.main(args)
    if args.command in ('login', 'logout', 'password', 'user-set'):
        raise SystemExit('hvctl: %s needs --endpoint or $HVAGENT_ENDPOINT'
                         % args.command)
    CONF(rest, project='hvagent')
    if args.command in LOCAL_COMMANDS:
        try:
            return LOCAL_COMMANDS[args.command](args)
        except exception.HVAgentError as e:
            print('hvctl: error: %s' % exception.text(e), file=sys.stderr)
            return 1
    try:
        rpc.init(url=args.transport_url)
    except exception.HVAgentError as e:     # a broker refusing TLS
        print('hvctl: error: %s' % exception.text(e), file=sys.stderr)
        return 1
    # the operator's tool on the bus (controller credentials): acting as
    # the admin project it is an admin (shares networks, sees every
    # project's groups), as any other project it is one of its users
    ctxt = context.RequestContext(user_id=args.user, project_id=args.project,
                                  is_admin=args.project == 'admin')
    try:
        return run(args, rpc.ConductorAPI(), ctxt)
    except exception.HVAgentError as e:
        print('hvctl: error: %s' % exception.text(e), file=sys.stderr)
        return 1
    except Exception as e:  # MessagingTimeout, a broken transport...
        print('hvctl: error: %s: %s' % (type(e).__name__, exception.text(e)),
              file=sys.stderr)
        return 2
    finally:
        rpc.cleanup()


if __name__ == '__main__':
    sys.exit(main())
