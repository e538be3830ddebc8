"""Guest networking on the host: bridges, VLAN and VXLAN uplinks, taps,
DHCP (dnsmasq) and security groups (nftables), wired with pyroute2.

net/ knows nothing of virt/ or RPC: the compute manager hands it plain
``model.Network`` and ``model.Port`` values. Every privileged call (netlink,
nft, starting dnsmasq) is in ``privileged.py``; what changes the kernel is
asked of the privsep daemon (``privsep.py``) through the checked entrypoints
of ``boundary.py`` and ``firewall.load`` (docs/privileges.md).
"""
