"""Host-wide wiring of guest networks: one Linux bridge per network (named
``network.bridge``), its uplink, and the ports' devices on it, the way
neutron's linuxbridge agent and os-vif's linux_net do it.

The uplink, by network type:

* ``flat``: the physical interface itself is a port of the bridge. It must
  exist; it is only enslaved and brought up (and released when the
  bridge goes), never created, reconfigured or deleted. One flat network
  per interface: an interface already in another bridge is refused, not
  stolen.
* ``vlan``: ``model.vlan_name(phys, vid)``, an 802.1Q device on the
  physical interface. A kernel without 8021q makes this a NetError that
  says so.
* ``vxlan``: ``model.vxlan_name(vni)`` on ``vxlan_local_ip``, sending
  broadcast/unknown/multicast frames to ``vxlan_group`` if set, else
  (unicast) one copy to each of ``vxlan_remotes``: an all-zero fdb entry
  per remote, i.e. head-end replication; MACs are then learnt.

Every host's bridge of a network has the same MAC (``model.bridge_mac``)
and, with DHCP, the gateway address: a guest that moves to another host
finds its gateway at the MAC it has cached. The uplink must then never
carry the bridge's own frames, nor ARP for its address or DHCP: the
firewall's uplink rules (net/ruleset.py) drop them.

Why one lock per Wiring (a host-wide one: there is one Wiring per host or
test namespace): unplug decides "no port left, delete the bridge" and
plug decides "the bridge is there, add a port" from what it reads; done
concurrently, a port could be added to a bridge being deleted.

Every step reads before it writes (a read or a change costs ~0.1 ms, a new
tap ~0.3 ms, a delete ~20 ms: the kernel waits for an RCU grace period; so
a port's device is handed to ``net.reaper``, which deletes them in batches
off the caller's path), so each call is idempotent and converges what it
finds: plugging twice is plugging once, unplugging what is not there is a
no-op, and a lost step (a crash between two of them) is redone by the next
call. A call that fails deletes what it created itself, so a refused
network (VLAN without 8021q, missing physical interface) leaves no bridge
or device behind.
"""
import threading

from net import boundary
from net import model
from net import privileged
from net import reaper

NetError = privileged.NetError
ZERO_MAC = '00:00:00:00:00:00'
NEW_TAP_MTU = 1500                             # a new tap: down, no master
BRIDGE_PREFIX = model.bridge_name('')          # 'brq'
PORT_PREFIX = model.tap_name('')               # 'tap'


def _bad(network, reason, *args):
    raise NetError(reason='network %s: %s' % (network.id, reason % args))


def uplink(network):
    """(name, link_add keywords) of the network's uplink; keywords None for
    a flat network's physical interface, which is not ours to create."""
    phys, vid = network.physical_interface, network.segmentation_id
    if network.type not in model.TYPES:
        _bad(network, 'unknown type %r', network.type)
    if network.type in ('flat', 'vlan') and not phys:
        _bad(network, 'a %s network needs a physical_interface', network.type)
    if network.type == 'flat':
        return phys, None
    if network.type == 'vlan':
        if not isinstance(vid, int) or not 1 <= vid <= 4094:
            _bad(network, 'VLAN id %r is not 1..4094', vid)
        return model.vlan_name(phys, vid), dict(kind='vlan', link=phys,
                                                vlan_id=vid)
    if not isinstance(vid, int) or not 1 <= vid < 1 << 24:
        _bad(network, 'VNI %r is not 1..16777215', vid)
    if not network.vxlan_local_ip:
        _bad(network, 'a vxlan network needs vxlan_local_ip')
    return model.vxlan_name(vid), dict(kind='vxlan', vni=vid,
                                       local=network.vxlan_local_ip,
                                       group=network.vxlan_group)


class Wiring:
    """Bridges, uplinks and port devices of one host (``netns``: a network
    namespace standing in for one, None: this one)."""

    def __init__(self, netns=None):
        self.netns = netns
        self._lock = threading.Lock()
        self._remotes = {}         # vxlan device -> remotes we appended
        self.reaper = reaper.Reaper(netns)

    # ------------------------------------------------------------ public
    def ensure_network(self, network):
        """Make the network's bridge (up, MTU) and uplink; its name."""
        with self._lock:
            return self._undo_on_error(self._ensure, network)['name']

    def plug_port(self, network, port, device='tap', peer=None,
                  peer_netns=None):
        """Ensure the network and put the port on its bridge, up.

        device 'tap': a persistent tap ``port.tap`` (libvirt opens it);
        'veth': a veth pair, ``port.tap`` on the bridge and the peer (with
        the port's MAC) named ``peer`` (default 'eth0') in ``peer_netns``
        (default: here) -- a test "guest"; None: libvirt creates the tap
        itself, only the network is ensured. Returns the bridge name.
        """
        if port.network_id != network.id:
            _bad(network, 'port %s belongs to network %s', port.id,
                 port.network_id)
        with self._lock:
            return self._undo_on_error(self._plug, network, port, device,
                                       peer, peer_netns)['name']

    def unplug_port(self, network, port):
        """Take the port's device (if there) off the bridge and down, to be
        deleted by the reaper; then delete the bridge and its uplink if no
        other port is left. True if the network went."""
        with self._lock:
            self.reaper.discard(port.tap)
            return self._release(network)

    def flush(self, timeout=30.0):
        """Wait until the devices of the ports unplugged so far are
        deleted (tests, shutdown); False on timeout."""
        return self.reaper.flush(timeout)

    def networks_in_use(self):
        """{bridge: [ports]} of the ``brq`` bridges that have ports
        (``tap*`` links; the uplink is not one)."""
        with self._lock:
            found = {br: self._ports(br) for br in self._bridges()}
        return {br: ports for br, ports in found.items() if ports}

    def cleanup_unused(self, known_networks=()):
        """Remove every ``brq`` bridge without ports (``tap*``), with
        its VLAN and VXLAN uplinks, except those of ``known_networks``
        (libvirt may be about to add its tap to one); and the leftover
        uplink of a known network whose bridge is gone. Returns the
        bridges removed."""
        known = {network.bridge: network for network in known_networks}
        removed = []
        self.reaper.kick()                  # devices a crash left discarded
        with self._lock:
            for bridge in self._bridges():
                if bridge in known or self._ports(bridge):
                    continue
                for name in privileged.links(self.netns, master=bridge):
                    info = privileged.link_info(name, self.netns)
                    if info and info['kind'] in ('vlan', 'vxlan'):
                        self._delete(name)
                self._delete(bridge)
                removed.append(bridge)
            for network in known.values():
                if not privileged.link_exists(network.bridge, self.netns):
                    self._release(network)
        return removed

    # ----------------------------------------------------------- helpers
    def _undo_on_error(self, step, *args):
        created = []
        try:
            return step(created, *args)
        except Exception:
            for name in reversed(created):
                try:
                    self._delete(name)
                except NetError:
                    pass
            raise

    def _ensure(self, created, network):
        name, spec = uplink(network)
        phys = network.physical_interface
        up = phys and privileged.link_info(phys, self.netns)
        if network.type != 'vxlan' and not up:
            _bad(network, 'physical interface %s does not exist', phys)
        if spec:                               # else: the flat one is phys
            up = self._get_or_add(created, name, spec)
        bridge = self._get_or_add(created, network.bridge,
                                  dict(kind='bridge', mtu=network.mtu,
                                       address=network.bridge_mac))
        self._converge(bridge, mtu=network.mtu, address=network.bridge_mac)
        self._converge(up, bridge, network.mtu if spec else None,
                       exclusive=True)
        remotes = tuple(network.vxlan_remotes or ())
        if (spec and spec['kind'] == 'vxlan' and not network.vxlan_group
                and (name in created or self._remotes.get(name) != remotes)):
            for remote in remotes:
                boundary.fdb_append(name, ZERO_MAC, remote, self.netns)
            self._remotes[name] = remotes
        return bridge

    def _plug(self, created, network, port, device, peer, peer_netns):
        bridge = self._ensure(created, network)
        if device == 'tap':
            spec = dict(kind='tap')
        elif device == 'veth':
            spec = dict(kind='veth', peer=peer or 'eth0',
                        peer_netns=peer_netns, peer_address=port.mac,
                        mtu=network.mtu)
        elif device is None:              # libvirt makes it: the name free
            self._get_or_add(created, port.tap, None, missing_ok=True)
            return bridge
        else:
            _bad(network, 'port %s: unknown device %r', port.id, device)
        self._converge(self._get_or_add(created, port.tap, spec), bridge,
                       network.mtu)
        return bridge

    def _get_or_add(self, created, name, spec, missing_ok=False):
        """link_info of ``name``, created from ``spec`` (link_add keywords)
        if it is not there and a spec is given. A device of that name still
        waiting for the reaper is deleted first: plugged again, a port gets
        a new one."""
        info = privileged.link_info(name, self.netns)
        if info is not None and info['group'] == reaper.GROUP:
            self.reaper.flush()
            info = privileged.link_info(name, self.netns)
        if info is None and missing_ok:
            return None
        if info is None and spec:
            boundary.link_add(name, netns=self.netns, **spec)
            created.append(name)
            if spec['kind'] == 'tap':       # known without asking
                return {'name': name, 'up': False, 'master': None,
                        'mtu': NEW_TAP_MTU, 'group': 0}
            info = privileged.link_info(name, self.netns)
        if info is None:
            raise NetError(reason='%s vanished while being wired' % name)
        return info

    def _converge(self, info, bridge=None, mtu=None, exclusive=False,
                  address=None):
        """Bring link ``info`` up, with ``mtu`` (and MAC ``address``), as
        a port of ``bridge`` (link_infos), in one write at most."""
        change = {} if info['up'] else {'up': True}
        if mtu and info['mtu'] != mtu:
            change['mtu'] = mtu
        if address and info.get('address') != address:
            change['address'] = address
        if bridge and info['master'] != bridge['index']:
            if exclusive and info['master']:
                raise NetError(reason='%s is already a port of another '
                               'bridge (ifindex %d), cannot add it to %s'
                               % (info['name'], info['master'],
                                  bridge['name']))
            change['master'] = bridge['index']
        if change:
            boundary.link_set(info['name'], self.netns, **change)

    def _release(self, network):
        name, spec = uplink(network)
        bridge = privileged.link_info(network.bridge, self.netns)
        if bridge is None:
            info = spec and privileged.link_info(name, self.netns)
            if info and not info['master']:     # left over by a crash
                self._delete(name)
            return False
        if [port for port in privileged.links(self.netns,
                                              master=bridge['index'])
                if port != name]:
            return False
        if spec:
            self._delete(name)
        self._delete(network.bridge)
        return True

    def _delete(self, name):
        self._remotes.pop(name, None)
        boundary.link_del(name, self.netns)

    def _bridges(self):
        return [name for name in privileged.links(self.netns, kind='bridge')
                if name.startswith(BRIDGE_PREFIX)]

    def _ports(self, bridge):
        return [name for name in privileged.links(self.netns, master=bridge)
                if name.startswith(PORT_PREFIX)]
