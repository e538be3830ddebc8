"""neutron's shapes of hvagent's networks (one subnet each), ports and
security groups, and neutron's list filters (``?name=x&shared=true``,
``fields=``). Pure: wire objects in, dicts out."""
import ipaddress
from typing import Any

from agent import exception

#: query parameters that page or shape a list rather than filter it
NOT_FILTERS = frozenset({'limit', 'marker', 'fields', 'sort_key',
                         'sort_dir', 'page_reverse'})
COMMON = {'description': '', 'tags': [], 'revision_number': 0}


def _owner(project_id: str | None) -> dict[str, str]:
    return {'project_id': project_id or '', 'tenant_id': project_id or ''}


def network(net: Any, provider: bool) -> dict[str, Any]:
    """``provider``: show the segment and uplink (neutron shows them to
    admins only)."""
    out = {'id': net.uuid, 'name': net.name, 'status': 'ACTIVE',
           'admin_state_up': True, 'shared': net.shared,
           'router:external': net.external,
           'subnets': [net.subnet_id] if net.subnet_id else [],
           'mtu': net.mtu, 'port_security_enabled': True,
           'availability_zones': [], 'availability_zone_hints': [],
           'is_default': False, 'ipv4_address_scope': None,
           'ipv6_address_scope': None, **_owner(net.project_id), **COMMON}
    if provider:
        out.update({'provider:network_type': net.network_type,
                    'provider:segmentation_id': net.segmentation_id,
                    'provider:physical_network': net.physical_network})
    return out


def default_pool(cidr: str, gateway: str | None) -> list[dict[str, str]]:
    """neutron's pool of a subnet made without one: its hosts but the
    gateway, when the gateway is at either end."""
    net = ipaddress.ip_network(cidr)
    if net.num_addresses < 4:
        return []
    first, last = net.network_address + 1, net.broadcast_address - 1
    if gateway == str(first):
        first += 1
    elif gateway == str(last):
        last -= 1
    return [{'start': str(first), 'end': str(last)}]


def subnet(net: Any) -> dict[str, Any]:
    """The subnet of ``net`` (which has one)."""
    pools = [{'start': a, 'end': b} for a, b in net.allocation_pools] or \
        default_pool(net.cidr, net.gateway_ip)
    return {'id': net.subnet_id, 'name': net.subnet_name or '',
            'network_id': net.uuid,
            'ip_version': ipaddress.ip_network(net.cidr).version,
            'cidr': net.cidr, 'gateway_ip': net.gateway_ip,
            'allocation_pools': pools,
            'dns_nameservers': list(net.dns_nameservers),
            'host_routes': [], 'enable_dhcp': True, 'ipv6_ra_mode': None,
            'ipv6_address_mode': None, 'service_types': [],
            'subnetpool_id': None, **_owner(net.project_id), **COMMON}


def port(p: Any, binding: bool) -> dict[str, Any]:
    """``binding``: show the host it is bound to (admins, itsec)."""
    out = {'id': p.uuid, 'name': '', 'network_id': p.network.uuid,
           'mac_address': p.mac_address,
           'fixed_ips': [{'subnet_id': p.network.subnet_id,
                          'ip_address': p.ip_address}],
           'device_id': p.instance_uuid or '',
           'device_owner': 'compute:nova' if p.instance_uuid else '',
           'status': p.status, 'admin_state_up': True,
           'security_groups': [g.uuid for g in p.security_groups],
           'port_security_enabled': p.port_security_enabled,
           'allowed_address_pairs': [], 'extra_dhcp_opts': [],
           **_owner(p.project_id), **COMMON}
    if binding:
        out['binding:host_id'] = p.host or ''
    return out


def rule(r: Any, group: Any,
         ids: dict[tuple[str, str], str]) -> dict[str, Any]:
    """``ids``: group_ids of the groups (a rule names its remote group, of
    its own group's project, by name)."""
    return {'id': r.uuid, 'security_group_id': group.uuid,
            'direction': r.direction, 'ethertype': r.ethertype,
            'protocol': r.protocol, 'port_range_min': r.port_range_min,
            'port_range_max': r.port_range_max,
            'remote_ip_prefix': r.remote_ip_prefix,
            'remote_group_id': ids.get((group.project_id, r.remote_group))
            if r.remote_group else None,
            'remote_address_group_id': None,
            **_owner(group.project_id), **COMMON}


def security_group(group: Any,
                   ids: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {'id': group.uuid, 'name': group.name,
            'description': group.description or '', 'stateful': True,
            'security_group_rules': [rule(r, group, ids)
                                     for r in group.rules],
            **_owner(group.project_id), 'tags': [], 'revision_number': 0}


def group_ids(groups: list[Any]) -> dict[tuple[str, str], str]:
    """(project, name) -> id of each group."""
    return {(g.project_id, g.name): g.uuid for g in groups}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def select(query: list[tuple[str, str]],
           items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """neutron's list filters: each other parameter names a field, and an
    item is kept when its field equals one of the values given for it
    (``?id=a&id=b``); ``fields`` keeps only those fields. A filter on a
    field these items do not have is a 400, as neutron answers."""
    wanted: dict[str, set[str]] = {}
    for key, value in query:
        if key not in NOT_FILTERS:
            wanted.setdefault(key, set()).add(value.lower()
                                              if value in ('True', 'False')
                                              else value)
    known = set(items[0]) if items else set()
    unknown = [k for k in wanted if items and k not in known]
    if unknown:
        raise exception.InvalidRPCPayload(
            '%s is not a field these items can be filtered on'
            % ', '.join(sorted(unknown)))
    out = [i for i in items if all(_text(i[k]) in v
                                   for k, v in wanted.items())]
    fields = [v for k, v in query if k == 'fields']
    if fields:
        keep = set(fields) | {'id'}
        out = [{k: v for k, v in i.items() if k in keep} for i in out]
    return out
