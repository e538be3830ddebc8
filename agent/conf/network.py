"""[network] options of the compute agent's guest networking (net/)."""
from oslo_config import cfg

group = cfg.OptGroup('network', title='Guest networking on the host')

opts = [
    cfg.ListOpt(
        'physical_interface_mappings', default=[],
        help='physical_network:interface pairs: the uplink of flat and vlan '
             'networks on this host, e.g. physnet1:eth1.'),
    cfg.StrOpt(
        'vxlan_local_ip', default=None,
        help="This host's tunnel address for vxlan networks (must be on "
             'one of its interfaces).'),
    cfg.StrOpt(
        'vxlan_group', default=None,
        help='Multicast group vxlan networks flood to; unset means unicast '
             'to vxlan_peers.'),
    cfg.ListOpt(
        'vxlan_peers', default=[],
        help='Tunnel addresses of the other hosts (unicast vxlan, head-end '
             'replication).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def physical_interfaces(conf):
    """{physical_network: interface} from physical_interface_mappings."""
    mapping = {}
    for item in conf.network.physical_interface_mappings:
        name, sep, iface = item.partition(':')
        if not sep or not name or not iface:
            raise ValueError('[network] physical_interface_mappings wants '
                             'physnet:interface, got %r' % item)
        mapping[name.strip()] = iface.strip()
    return mapping
