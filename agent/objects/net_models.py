"""Wire objects of networking. Bump VERSION (and say why) on any change."""
from agent.objects import base
from agent.objects import fields as f

NAME = f.String(max_length=255)
IP = f.String(max_length=64)
NETWORK_TYPES = ['flat', 'vlan', 'vxlan']


@base.register
class Network(base.HVObject):
    """A network with its (single) subnet, as users and agents see it.
    A network made without one (Network v2 makes the subnet after the
    network) has no cidr and no subnet_id until its subnet is made; only
    controllers see such a network (it has no ports)."""
    # 1.0: initial version
    # 1.1: external (holds floating IPs, never ports)
    # 1.2: project_id, shared (networks belong to a project unless shared)
    # 1.3: subnet_id, subnet_name; cidr null while the network has no
    #      subnet
    VERSION = '1.3'
    fields = {
        'uuid': f.UUID(),
        'name': NAME,
        'network_type': f.Enum(NETWORK_TYPES),
        'segmentation_id': f.Integer(min=1, max=16777215, nullable=True),
        'physical_network': f.String(max_length=64, nullable=True),
        'mtu': f.Integer(min=68, max=65535, nullable=True),
        'cidr': f.String(max_length=64, nullable=True),
        'subnet_id': f.UUID(nullable=True, default=None),
        'subnet_name': f.String(max_length=255, nullable=True, default=None),
        'gateway_ip': f.String(max_length=64, nullable=True),
        'dns_nameservers': f.List(IP, max_items=8),
        'allocation_pools': f.List(f.List(IP, max_items=2), max_items=16),
        'ports': f.Integer(min=0, default=0),
        'external': f.Boolean(default=False),
        'project_id': f.String(max_length=64, nullable=True, default=None),
        'shared': f.Boolean(default=False),
    }


@base.register
class SecurityGroupRule(base.HVObject):
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'uuid': f.UUID(),
        'direction': f.Enum(['ingress', 'egress']),
        'ethertype': f.Enum(['IPv4', 'IPv6'], default='IPv4'),
        'protocol': f.Enum(['tcp', 'udp', 'icmp'], nullable=True),
        'port_range_min': f.Integer(min=1, max=65535, nullable=True),
        'port_range_max': f.Integer(min=1, max=65535, nullable=True),
        'remote_ip_prefix': f.String(max_length=64, nullable=True),
        'remote_group': f.String(max_length=255, nullable=True),
        #: addresses of the remote group's ports (filled for agents)
        'remote_ips': f.List(IP, max_items=4096),
    }


@base.register
class SecurityGroup(base.HVObject):
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'uuid': f.UUID(),
        'name': NAME,
        'project_id': f.String(max_length=64),
        'description': f.String(nullable=True),
        'rules': f.List(f.Object('SecurityGroupRule'), max_items=1000),
    }


@base.register
class Port(base.HVObject):
    """An instance's NIC: fixed IP and MAC from the conductor's IPAM;
    ``quarantined`` while its instance is isolated (drops all traffic);
    ``floating_ip``: the floating IP NATed to it, if any; ``reserved``: a
    fixed IP ``project_id`` holds, with or without an instance."""
    # 1.0: initial version
    # 1.1: quarantined
    # 1.2: floating_ip
    # 1.3: reserved, project_id (a fixed IP reservation)
    # 1.4: port_security_enabled (anti-spoofing; off only by an admin)
    VERSION = '1.4'
    fields = {
        'uuid': f.UUID(),
        'network': f.Object('Network'),
        'instance_uuid': f.UUID(nullable=True),
        'mac_address': f.String(max_length=17),
        'ip_address': IP,
        'status': f.Enum(['DOWN', 'ACTIVE']),
        'host': f.String(nullable=True),
        'security_groups': f.List(f.Object('SecurityGroup'), max_items=32),
        'quarantined': f.Boolean(default=False),
        'floating_ip': f.Object('FloatingIP', nullable=True, default=None),
        'reserved': f.Boolean(default=False),
        'project_id': f.String(max_length=64, nullable=True, default=None),
        'port_security_enabled': f.Boolean(default=True),
    }


@base.register
class FloatingIP(base.HVObject):
    """A public address of an external network, owned by a project and
    NATed 1:1 to the fixed IP of the port it is associated with."""
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'uuid': f.UUID(),
        'address': IP,
        'network': f.Object('Network'),
        'project_id': f.String(max_length=64),
        'port_uuid': f.UUID(nullable=True, default=None),
        'instance_uuid': f.UUID(nullable=True, default=None),
        'fixed_ip': f.String(max_length=64, nullable=True, default=None),
        'host': f.String(nullable=True, default=None),
    }
