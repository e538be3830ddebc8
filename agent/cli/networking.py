"""hvctl's networking commands, over RPC only (``b``: a
bus_backend.Backend): networks, ports, security groups, floating IPs,
fixed IP reservations."""
from agent.cli import views


def _range(text):
    first, _, last = (text or '').partition('-')
    return (int(first) if first else None), (int(last) if last else None)


def network_create(b, args, out):
    result = b.conductor.network_create(
        b.ctxt, name=args.name, network_type=args.network_type,
        cidr=args.cidr, segmentation_id=args.segmentation_id,
        physical_network=args.physical_network, gateway_ip=args.gateway,
        dns_nameservers=args.dns, mtu=args.mtu, external=args.external,
        allocation_pools=[p.split('-', 1) for p in args.pool])
    if args.shared:
        result = b.conductor.network_set(b.ctxt, ref=result.uuid,
                                         shared=True)
    return views.emit(out, b, views.NETWORKS, [result], args.json)


def network_set(b, args, out):
    return views.emit(out, b, views.NETWORKS, [b.conductor.network_set(
        b.ctxt, ref=args.ref, shared=args.shared)], args.json)


def network_list(b, args, out):
    return views.emit(out, b, views.NETWORKS,
                      b.conductor.network_list(b.ctxt), args.json)


def network_delete(b, args, out):
    b.conductor.network_delete(b.ctxt, ref=args.ref)
    return 0


def port_set(b, args, out):
    return views.emit(out, b, views.PORTS, [b.conductor.port_update(
        b.ctxt, ref=args.uuid, port_security_enabled=args.port_security)],
        args.json)


def port_list(b, args, out):
    return views.emit(out, b, views.PORTS, b.conductor.port_list(
        b.ctxt, network=args.network, instance_uuid=args.instance),
        args.json)


def fixed_ip_create(b, args, out):
    return views.emit(out, b, views.PORTS, [b.conductor.fixed_ip_create(
        b.ctxt, network=args.network, address=args.address)], args.json)


def fixed_ip_list(b, args, out):
    return views.emit(out, b, views.PORTS, b.conductor.fixed_ip_list(
        b.ctxt, project_id=args.project), args.json)


def fixed_ip_delete(b, args, out):
    b.conductor.fixed_ip_delete(b.ctxt, ref=args.uuid)
    return 0


def secgroup_create(b, args, out):
    return views.emit(out, b, views.SECURITY_GROUPS, [
        b.conductor.secgroup_create(b.ctxt, name=args.name,
                                    description=args.description)],
        args.json)


def secgroup_rule_add(b, args, out):
    first, last = _range(args.port)
    return views.emit(out, b, views.SECURITY_GROUPS, [
        b.conductor.secgroup_rule_add(
            b.ctxt, group=args.group, direction=args.direction,
            protocol=args.protocol, port_range_min=first,
            port_range_max=last, remote_ip_prefix=args.remote_ip,
            remote_group=args.remote_group)], args.json)


def secgroup_list(b, args, out):
    return views.emit(out, b, views.SECURITY_GROUPS,
                      b.conductor.secgroup_list(b.ctxt), args.json)


def secgroup_delete(b, args, out):
    b.conductor.secgroup_delete(b.ctxt, group=args.group)
    return 0


def secgroup_rule_delete(b, args, out):
    return views.emit(out, b, views.SECURITY_GROUPS, [
        b.conductor.secgroup_rule_delete(b.ctxt, rule=args.rule)],
        args.json)


def server_secgroup_add(b, args, out):
    return views.emit(out, b, views.SECURITY_GROUPS, [
        b.conductor.server_secgroup_add(b.ctxt, instance_uuid=args.instance,
                                        group=args.group)], args.json)


def server_secgroup_remove(b, args, out):
    b.conductor.server_secgroup_remove(b.ctxt, instance_uuid=args.instance,
                                       group=args.group)
    return 0


def floating_ip_create(b, args, out):
    return views.emit(out, b, views.FLOATING_IPS, [
        b.conductor.floating_ip_create(b.ctxt, network=args.network)],
        args.json)


def floating_ip_list(b, args, out):
    return views.emit(out, b, views.FLOATING_IPS, b.conductor.floating_ip_list(
        b.ctxt, project_id=args.project), args.json)


def floating_ip_associate(b, args, out):
    return views.emit(out, b, views.FLOATING_IPS, [
        b.conductor.floating_ip_associate(
            b.ctxt, ref=args.floating_ip, instance_uuid=args.instance,
            port=args.port)], args.json)


def floating_ip_disassociate(b, args, out):
    return views.emit(out, b, views.FLOATING_IPS, [
        b.conductor.floating_ip_disassociate(b.ctxt, ref=args.floating_ip)],
        args.json)


def floating_ip_delete(b, args, out):
    b.conductor.floating_ip_delete(b.ctxt, ref=args.floating_ip)
    return 0
