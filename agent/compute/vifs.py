"""The compute agent's side of guest networking: ports from the conductor
turned into bridges, taps, DHCP and nftables rules on this host (net/).

Before a guest starts its ports are bound to this host, their networks are
wired (a bridge per network with its uplink), every network with ports here
gets a dnsmasq serving exactly this host's MAC->IP pairs and the bridge
carries the network's gateway address (nova-network's flat-DHCP model: each
host routes for its own guests), and the nftables ruleset for all ports of
the host is replaced in one transaction, NAT of floating IPs included (a
floating address also goes, as a /32, on the uplink of its external
network, so the host answers ARP for it). After a delete the same refresh
runs over the ports left; a network with no port left here loses its
bridge, uplink and dnsmasq. All of it runs under one lock: the host's
wiring is one piece of state.
"""
import logging
import os
import threading

from oslo_config import cfg

from agent.conf import network as network_conf
from net import boundary
from net import dhcp as net_dhcp
from net import firewall as net_firewall
from net import floating as net_floating
from net import model
from net import wiring as net_wiring

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


def to_network(wire):
    """net.model.Network of a wire Network, with this host's uplinks."""
    phys = network_conf.physical_interfaces(CONF).get(wire.physical_network)
    return model.Network(
        id=wire.uuid, name=wire.name, type=wire.network_type, cidr=wire.cidr,
        gateway=wire.gateway_ip, dns=tuple(wire.dns_nameservers),
        segmentation_id=wire.segmentation_id, physical_interface=phys,
        mtu=wire.mtu, vxlan_local_ip=CONF.network.vxlan_local_ip,
        vxlan_group=CONF.network.vxlan_group,
        vxlan_remotes=tuple(CONF.network.vxlan_peers))


def to_port(wire):
    """net.model.Port of a wire Port; a rule naming a remote group with no
    member matches nothing, so it is left out (not read as 'anywhere')."""
    rules = tuple(
        model.Rule(direction=r.direction, ethertype=r.ethertype,
                   protocol=r.protocol, port_min=r.port_range_min,
                   port_max=r.port_range_max, remote_cidr=r.remote_ip_prefix,
                   remote_ips=tuple(r.remote_ips))
        for g in wire.security_groups for r in g.rules
        if not (r.remote_group and not r.remote_ips))
    fip = wire.floating_ip
    return model.Port(id=wire.uuid, network_id=wire.network.uuid,
                      mac=wire.mac_address, ip=wire.ip_address,
                      instance_uuid=wire.instance_uuid, rules=rules,
                      security=bool(wire.security_groups),
                      port_security=wire.port_security_enabled,
                      quarantined=wire.quarantined,
                      floating_ip=fip and fip.address,
                      floating_interface=fip and network_conf.
                      physical_interfaces(CONF).get(
                          fip.network.physical_network))


class HostNetworking:
    def __init__(self, conductor, host, creates_devices, netns=None):
        self.conductor = conductor
        self.host = host
        self.device = None if creates_devices else 'tap'
        self.netns = netns
        self.wiring = net_wiring.Wiring(netns)
        self.wiring.reaper.kick()   # port devices an earlier run discarded
        self.dhcp = net_dhcp.DhcpServer(
            os.path.join(CONF.state_path, 'dhcp'), netns)
        self.firewall = net_firewall.Firewall(netns)
        self._lock = threading.Lock()
        # network ids with a dnsmasq here, also those an earlier run of
        # the agent started: a network whose last port left while the agent
        # was down still has its dnsmasq stopped by the next refresh
        self._served = self.dhcp.networks()

    def plug(self, ctxt, instance_uuid, bind=True):
        """Wire the instance's ports; return its NICs for the GuestSpec.
        ``bind``: bind them to this host first (not for a guest migrating
        here: its ports stay the source's until the switch-over, and the
        conductor lists them among this host's meanwhile)."""
        if bind:
            ports = self.conductor.ports_bind(
                ctxt, instance_uuid=instance_uuid, host=self.host)
        else:
            ports = self.conductor.ports_get_by_host(ctxt, host=self.host)
        mine = [p for p in ports if p.instance_uuid == instance_uuid]
        if not mine:
            return ()
        nics = []
        with self._lock:
            for p in mine:
                network, port = to_network(p.network), to_port(p)
                bridge = self.wiring.plug_port(network, port, self.device)
                nics.append({'mac': port.mac, 'bridge': bridge,
                             'tap': port.tap, 'mtu': network.mtu})
            self._refresh(ports)
        LOG.info('Plugged %d port(s) of %s', len(nics), instance_uuid)
        return tuple(nics)

    def activate(self, ctxt, instance_uuid, nics):
        if nics:
            self.conductor.ports_set_status(ctxt, instance_uuid=instance_uuid,
                                            status='ACTIVE')

    def resync(self, ctxt):
        """DHCP and the firewall anew from the conductor's view of this
        host's ports (an isolation begun or ended, say)."""
        ports = self.conductor.ports_get_by_host(ctxt, host=self.host)
        with self._lock:
            self._refresh(ports)

    def ports_of(self, ctxt, instance_uuid):
        """The instance's ports on this host (read before a delete)."""
        return [p for p in self.conductor.ports_get_by_host(
            ctxt, host=self.host) if p.instance_uuid == instance_uuid]

    def unplug(self, ctxt, ports):
        """After the guest is gone: remove what only its ports needed."""
        if not ports:
            return
        self._unwire(ports, [p for p in self.conductor.ports_get_by_host(
            ctxt, host=self.host) if p.instance_uuid !=
            ports[0].instance_uuid])

    def unplug_detached(self, ctxt):
        """Unwire the ports detached from this host's instances (bound
        here, of no instance any more: agent.conductor.interfaces), once
        their NICs are out of the guests; DHCP and filters anew without
        them. The detached ports (wire objects)."""
        ports = self.conductor.ports_get_by_host(ctxt, host=self.host)
        detached = [p for p in ports if p.instance_uuid is None]
        if detached:
            self._unwire(detached, [p for p in ports
                                    if p.instance_uuid is not None])
        return detached

    def _unwire(self, ports, left):
        """Unplug ``ports`` (a network's bridge goes only with its last
        port: ``left`` are the host's other ports), then DHCP and the
        firewall for ``left``."""
        busy = {p.network.uuid for p in left}
        with self._lock:
            for p in ports:
                if p.network.uuid not in busy or self.device:
                    self.wiring.unplug_port(to_network(p.network), to_port(p))
            self._refresh(left)

    def _refresh(self, ports):
        """DHCP for every network with ports here, and the firewall."""
        by_network = {}
        for p in ports:
            by_network.setdefault(p.network.uuid, (p.network, []))[1].append(
                to_port(p))
        uplinks = []
        for net_id, (wire, net_ports) in by_network.items():
            network = to_network(wire)
            if network.gateway is None:
                continue                # nothing to serve DHCP from
            address = net_dhcp.bridge_address(network)
            boundary.addr_add(network.bridge, address, self.netns)
            uplinks.append(model.Uplink(
                name=net_wiring.uplink(network)[0],
                address=address.split('/')[0], mac=network.bridge_mac))
            self.dhcp.update(network, net_ports)
            self._served.add(net_id)
        for net_id in self._served - set(by_network):
            self.dhcp.stop(net_id)
        self._served &= set(by_network)
        net_ports = [p for _, ps in by_network.values() for p in ps]
        self.firewall.apply(net_ports, uplinks)
        net_floating.sync(net_floating.by_interface(net_ports),
                          network_conf.physical_interfaces(CONF).values(),
                          self.netns)
