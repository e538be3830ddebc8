"""hvctl's networking commands: networks, ports, security groups,
floating IPs, fixed IP reservations."""
import argparse

from agent import cli_table

COMMANDS = ('network-create', 'network-list', 'network-delete', 'port-list',
            'network-set', 'port-set',
            'secgroup-create', 'secgroup-rule-add', 'secgroup-list',
            'secgroup-delete', 'secgroup-rule-delete',
            'server-secgroup-add', 'server-secgroup-remove',
            'floating-ip-create', 'floating-ip-list', 'floating-ip-associate',
            'floating-ip-disassociate', 'floating-ip-delete',
            'fixed-ip-create', 'fixed-ip-list', 'fixed-ip-delete')


def add_parsers(sub):
    p = sub.add_parser('network-create', help='create a network and its '
                       'subnet')
    p.add_argument('name')
    p.add_argument('--type', dest='network_type', default='vxlan',
                   choices=['flat', 'vlan', 'vxlan'])
    p.add_argument('--cidr', required=True)
    p.add_argument('--gateway')
    p.add_argument('--dns', action='append', default=[], metavar='IP')
    p.add_argument('--pool', action='append', default=[],
                   metavar='FIRST-LAST', help='allocation pool (repeatable)')
    p.add_argument('--segmentation-id', type=int,
                   help='VLAN id, or VNI (vxlan: the next free if unset)')
    p.add_argument('--physical-network', help='flat/vlan: the uplink name '
                   'the agents map to an interface')
    p.add_argument('--mtu', type=int)
    p.add_argument('--external', action='store_true',
                   help='a pool of floating IPs (no ports); the agents put '
                   'floating addresses on its physical network\'s uplink')
    p.add_argument('--shared', action='store_true',
                   help='every project may use it (else only the '
                   'creating project)')
    p = sub.add_parser('network-set', help='share a network with every '
                       'project, or stop (admin)')
    p.add_argument('ref')
    p.add_argument('--shared', action=argparse.BooleanOptionalAction,
                   required=True)
    p = sub.add_parser('port-set', help='port security (anti-spoofing and '
                       'security groups) on or off (admin)')
    p.add_argument('uuid')
    p.add_argument('--port-security', action=argparse.BooleanOptionalAction,
                   required=True)
    sub.add_parser('network-list')
    sub.add_parser('network-delete').add_argument('ref')
    p = sub.add_parser('port-list')
    p.add_argument('--network')
    p.add_argument('--instance', help='instance uuid')
    p = sub.add_parser('secgroup-create')
    p.add_argument('name')
    p.add_argument('--description')
    p = sub.add_parser('secgroup-rule-add')
    p.add_argument('group')
    p.add_argument('--direction', default='ingress',
                   choices=['ingress', 'egress'])
    p.add_argument('--protocol', choices=['tcp', 'udp', 'icmp'])
    p.add_argument('--port', metavar='N[-M]', help='port or range')
    p.add_argument('--remote-ip', help='remote CIDR')
    p.add_argument('--remote-group', help='remote security group')
    sub.add_parser('secgroup-list')
    sub.add_parser('secgroup-delete').add_argument('group')
    sub.add_parser('secgroup-rule-delete').add_argument('rule',
                                                        help='rule uuid')
    for cmd in ('server-secgroup-add', 'server-secgroup-remove'):
        p = sub.add_parser(cmd)
        p.add_argument('instance', help='instance uuid')
        p.add_argument('group')
    sub.add_parser('floating-ip-create', help='allocate a floating IP').\
        add_argument('--network', help='external network (default: first)')
    sub.add_parser('floating-ip-list').add_argument(
        '--project', help='only this project\'s')
    p = sub.add_parser('floating-ip-associate',
                       help='NAT a floating IP to an instance\'s port')
    p.add_argument('floating_ip', help='address or uuid')
    p.add_argument('instance', help='instance uuid')
    p.add_argument('--port', help='port uuid (default: its first)')
    for cmd in ('floating-ip-disassociate', 'floating-ip-delete'):
        sub.add_parser(cmd).add_argument('floating_ip',
                                         help='address or uuid')
    p = sub.add_parser('fixed-ip-create', help="reserve a fixed IP for the "
                       "project (boot --fixed-ip takes it)")
    p.add_argument('network')
    p.add_argument('--address', help='default: the first free')
    sub.add_parser('fixed-ip-list').add_argument(
        '--project', help='only this project\'s')
    sub.add_parser('fixed-ip-delete').add_argument('uuid')


def _range(text):
    first, _, last = (text or '').partition('-')
    return (int(first) if first else None), (int(last) if last else None)


def run(args, conductor, ctxt, out):
    """Carry out a networking command; return its exit code."""
    cmd, as_json = args.command, args.json
    if cmd.startswith('floating-ip-'):
        return _floating(args, conductor, ctxt, out)
    if cmd == 'network-create':
        result = conductor.network_create(
            ctxt, name=args.name, network_type=args.network_type,
            cidr=args.cidr, segmentation_id=args.segmentation_id,
            physical_network=args.physical_network, gateway_ip=args.gateway,
            dns_nameservers=args.dns, mtu=args.mtu, external=args.external,
            allocation_pools=[p.split('-', 1) for p in args.pool])
        if args.shared:
            result = conductor.network_set(ctxt, ref=result.uuid,
                                           shared=True)
        return _networks(out, [result], as_json)
    if cmd == 'network-set':
        return _networks(out, [conductor.network_set(
            ctxt, ref=args.ref, shared=args.shared)], as_json)
    if cmd == 'port-set':
        return _ports(out, [conductor.port_update(
            ctxt, ref=args.uuid, port_security_enabled=args.port_security)],
            as_json)
    if cmd == 'network-list':
        return _networks(out, conductor.network_list(ctxt), as_json)
    if cmd == 'network-delete':
        conductor.network_delete(ctxt, ref=args.ref)
        return 0
    if cmd == 'port-list':
        return _ports(out, conductor.port_list(
            ctxt, network=args.network, instance_uuid=args.instance),
            as_json)
    if cmd == 'fixed-ip-create':
        return _ports(out, [conductor.fixed_ip_create(
            ctxt, network=args.network, address=args.address)], as_json)
    if cmd == 'fixed-ip-list':
        return _ports(out, conductor.fixed_ip_list(
            ctxt, project_id=args.project), as_json)
    if cmd == 'fixed-ip-delete':
        conductor.fixed_ip_delete(ctxt, ref=args.uuid)
        return 0
    if cmd == 'secgroup-create':
        return _groups(out, [conductor.secgroup_create(
            ctxt, name=args.name, description=args.description)], as_json)
    if cmd == 'secgroup-rule-add':
        first, last = _range(args.port)
        return _groups(out, [conductor.secgroup_rule_add(
            ctxt, group=args.group, direction=args.direction,
            protocol=args.protocol, port_range_min=first,
            port_range_max=last, remote_ip_prefix=args.remote_ip,
            remote_group=args.remote_group)], as_json)
    if cmd == 'secgroup-list':
        return _groups(out, conductor.secgroup_list(ctxt), as_json)
    return _secgroup_changes(args, conductor, ctxt, out)


def _secgroup_changes(args, conductor, ctxt, out):
    cmd = args.command
    if cmd == 'secgroup-delete':
        conductor.secgroup_delete(ctxt, group=args.group)
        return 0
    if cmd == 'secgroup-rule-delete':
        return _groups(out, [conductor.secgroup_rule_delete(
            ctxt, rule=args.rule)], args.json)
    if cmd == 'server-secgroup-add':
        return _groups(out, [conductor.server_secgroup_add(
            ctxt, instance_uuid=args.instance, group=args.group)], args.json)
    if cmd == 'server-secgroup-remove':
        conductor.server_secgroup_remove(ctxt, instance_uuid=args.instance,
                                         group=args.group)
        return 0
    raise SystemExit('hvctl: unknown command %s' % cmd)


def _floating(args, conductor, ctxt, out):
    cmd = args.command
    if cmd == 'floating-ip-create':
        items = [conductor.floating_ip_create(ctxt, network=args.network)]
    elif cmd == 'floating-ip-list':
        items = conductor.floating_ip_list(ctxt, project_id=args.project)
    elif cmd == 'floating-ip-associate':
        items = [conductor.floating_ip_associate(
            ctxt, ref=args.floating_ip, instance_uuid=args.instance,
            port=args.port)]
    elif cmd == 'floating-ip-disassociate':
        items = [conductor.floating_ip_disassociate(ctxt,
                                                    ref=args.floating_ip)]
    else:
        conductor.floating_ip_delete(ctxt, ref=args.floating_ip)
        return 0
    out(cli_table.dumps(items) if args.json else cli_table.table(
        ['UUID', 'Address', 'Network', 'Project', 'Instance', 'Fixed IP',
         'Host'],
        [[f.uuid, f.address, f.network.name, f.project_id, f.instance_uuid,
          f.fixed_ip, f.host] for f in items]))
    return 0


def _ports(out, items, as_json):
    out(cli_table.dumps(items) if as_json else cli_table.table(
        ['UUID', 'Network', 'Instance', 'MAC', 'IP', 'Status', 'Host',
         'Reserved by', 'Port security'],
        [[p.uuid, p.network.name, p.instance_uuid, p.mac_address,
          p.ip_address, p.status, p.host, p.project_id if p.reserved else '',
          'on' if p.port_security_enabled else 'OFF']
         for p in items]))
    return 0


def _networks(out, items, as_json):
    out(cli_table.dumps(items) if as_json else cli_table.table(
        ['UUID', 'Name', 'Type', 'Segment', 'Physical', 'CIDR', 'Gateway',
         'Ports', 'External', 'Project', 'Shared'],
        [[n.uuid, n.name, n.network_type, n.segmentation_id,
          n.physical_network, n.cidr, n.gateway_ip, n.ports,
          'yes' if n.external else '', n.project_id,
          'yes' if n.shared else '']
         for n in items]))
    return 0


def _groups(out, items, as_json):
    out(cli_table.dumps(items) if as_json else cli_table.table(
        ['Group', 'Project', 'Rule', 'Direction', 'Protocol', 'Ports',
         'Remote'],
        [[g.name, g.project_id, r.uuid, r.direction, r.protocol or 'any',
          '%s-%s' % (r.port_range_min, r.port_range_max)
          if r.port_range_min else 'any',
          r.remote_ip_prefix or r.remote_group or 'any']
         for g in items for r in g.rules] or
        [[g.name, g.project_id, '-', '-', '-', '-', '-'] for g in items]))
    return 0
