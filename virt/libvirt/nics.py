"""LibvirtDriver's NIC hot-plug (mixed in; it uses the driver's _do,
_domain and _wait_released): the guest's ``<interface>`` devices made
those of the instance's ports, live and in its definition.

A NIC is named by its MAC (a port's, unique in the cloud). A plugged NIC
is a tap libvirt makes, named as the port's, on the port's bridge, which
the agent's wiring has made. Taking one out asks the guest (PCI hot
unplug) and waits until it let go, as a volume's detach does.
"""
from virt.libvirt import config


class NicMixin:
    def attach_interfaces(self, uuid, nics):
        have = {i.mac for i in self._domain(uuid).interfaces}
        added = []
        for nic in nics:
            if nic['mac'] in have:
                continue
            self._do(uuid, 'attach_device', config.Interface(
                mac=nic['mac'], bridge=nic['bridge'],
                target_dev=nic.get('tap'), mtu=nic.get('mtu')).to_xml())
            added.append(nic['mac'])
        return added

    def detach_interfaces(self, uuid, keep_macs):
        keep = set(keep_macs)
        removed = []
        for iface in self._domain(uuid).interfaces:
            if iface.mac in keep:
                continue
            self._do(uuid, 'detach_device', iface.to_xml())
            removed.append(iface.mac)
        self._wait_released(uuid, lambda dom: any(
            i.mac in removed for i in dom.interfaces),
            'NIC(s) %s' % ', '.join(removed))
        return removed
