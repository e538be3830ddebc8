"""The plain values net/ works on (the agent builds them from wire objects).

Names that reach the kernel are derived from ids here and nowhere else, and
are never longer than IFNAMSIZ - 1 = 15 characters.
"""
import dataclasses
import hashlib

IFNAMSIZ = 15
TYPES = ('flat', 'vlan', 'vxlan')


def bridge_name(network_id: str) -> str:
    """``brq`` + the first 11 hex digits of the network id (as neutron's
    linuxbridge agent names them)."""
    return ('brq' + network_id.replace('-', ''))[:IFNAMSIZ]


def tap_name(port_id: str) -> str:
    return ('tap' + port_id.replace('-', ''))[:IFNAMSIZ]


def vlan_name(physical_interface: str, vlan_id: int) -> str:
    """``<phys>.<vid>``; a long physical name is cut so the whole fits."""
    suffix = '.%d' % vlan_id
    return physical_interface[:IFNAMSIZ - len(suffix)] + suffix


def vxlan_name(vni: int) -> str:
    return 'vxlan-%d' % vni


def bridge_mac(network_id: str) -> str:
    """The MAC of the network's bridge, the same on every host: a
    locally administered unicast address from the network id. Each
    host's bridge carries the network's gateway address too, so a guest
    that moves keeps a valid gateway entry in its ARP cache; the uplink
    never carries frames from it (net/ruleset.py, uplink rules)."""
    digest = hashlib.sha256(network_id.encode()).digest()
    return ':'.join('%02x' % b for b in (0x02,) + tuple(digest[:5]))


#: link group of port devices waiting for deletion ('hv', net/reaper.py)
DISCARD_GROUP = 0x6876
FLOATING_SUFFIX = ':fip'


def floating_label(interface: str) -> str:
    """The address label marking a floating /32 on ``interface``
    (net/floating.py); a name too long to take the suffix is cut (labels
    are at most 15 characters)."""
    return interface[:IFNAMSIZ - len(FLOATING_SUFFIX)] + FLOATING_SUFFIX


@dataclasses.dataclass(frozen=True)
class Rule:
    """One security group rule."""
    direction: str                      # 'ingress' | 'egress'
    ethertype: str = 'IPv4'             # 'IPv4' | 'IPv6'
    protocol: str | None = None               # None (any) | 'tcp' | 'udp' | 'icmp'
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None            # None: any
    remote_ips: tuple[str, ...] = ()           # resolved remote group members


@dataclasses.dataclass(frozen=True)
class Network:
    id: str
    name: str
    type: str                           # one of TYPES
    cidr: str                           # '10.0.0.0/24'
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    segmentation_id: int | None = None        # VLAN id or VNI
    physical_interface: str | None = None     # flat and vlan uplink
    mtu: int | None = None
    vxlan_local_ip: str | None = None         # vxlan: this host's tunnel address
    vxlan_group: str | None = None            # vxlan: multicast group, or None
    vxlan_remotes: tuple[str, ...] = ()          # vxlan: unicast peers (head-end)
    dhcp: bool = True

    @property
    def bridge(self) -> str:
        return bridge_name(self.id)

    @property
    def bridge_mac(self) -> str:
        return bridge_mac(self.id)


@dataclasses.dataclass(frozen=True)
class Uplink:
    """A network's uplink on this host, with the address and MAC its
    bridge carries on every host: what must not cross it (the gateway's
    ARP, DHCP, the bridge's own frames)."""
    name: str                           # the uplink device
    address: str                        # the bridge's IPv4 address
    mac: str                            # the bridge's MAC (bridge_mac)


@dataclasses.dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    mac: str
    ip: str
    instance_uuid: str | None = None
    rules: tuple[Rule, ...] = ()                # Rules of its security groups
    #: False: no security groups at all: anti-spoofing only, ingress open
    security: bool = True
    #: False (an admin's choice): no anti-spoofing and no filtering at all
    port_security: bool = True
    #: True: its instance is isolated, the port drops all traffic
    quarantined: bool = False
    #: its floating IP (NATed to ``ip``), and the uplink that carries it
    floating_ip: str | None = None
    floating_interface: str | None = None

    @property
    def tap(self) -> str:
        return tap_name(self.id)

    @property
    def floating(self) -> bool:
        """Its floating IP is in force (an isolated instance loses it)."""
        return bool(self.floating_ip) and not self.quarantined
