"""Security groups in the kernel: the ruleset of net/ruleset.py loaded as
a whole, in one ``nft -f -`` transaction, by a privsep entrypoint
(``load``), which renders it itself from plain port data; ``Firewall`` is
the agent's side of it. Why nftables looks the way it does: net/ruleset.py.
"""
import dataclasses
import logging

from net import boundary
from net import model
from net import privileged
from net import privsep
from net import ruleset as net_ruleset

LOG = logging.getLogger(__name__)


def _port(data):
    """model.Port from ``plain``'s data; other shapes are refused."""
    try:
        fields = dict(data)
        fields['rules'] = tuple(model.Rule(**dict(r))
                                for r in fields.get('rules', ()))
        return model.Port(**fields)
    except (TypeError, ValueError) as exc:
        raise privileged.NetError(
            reason='refused by the privilege boundary: port %r: %s'
            % (data, exc)) from None


def _uplink(data):
    """model.Uplink from plain data; other shapes are refused."""
    try:
        return model.Uplink(**dict(data))
    except (TypeError, ValueError) as exc:
        raise privileged.NetError(
            reason='refused by the privilege boundary: uplink %r: %s'
            % (data, exc)) from None


@privsep.net_admin.entrypoint
def load(ports, netns=None, uplinks=()):
    """The privsep entrypoint: the ruleset is rendered here, inside the
    boundary, from plain port and uplink data (every value parsed and
    re-printed by ``build``), so no caller can hand nft text of its own.
    Returns {port id (or 'uplink <name>'): reason} of what was cut off."""
    ruleset = net_ruleset.build([_port(p) for p in ports],
                                [_uplink(u) for u in uplinks])
    netns = boundary.namespace(netns)
    if ruleset.conntrack:
        privileged.enable_br_netfilter(netns)
    if ruleset.nat:
        privileged.enable_ip_forward(netns)
    privileged.nft_apply(ruleset.text, netns)
    return ruleset.rejected


@privsep.net_admin.entrypoint
def unload(netns=None):
    """Delete both hvagent tables (fine if they are not there)."""
    privileged.nft_apply(net_ruleset.HEADER, boundary.namespace(netns))


class Firewall:
    """The host's security groups; ``apply`` is all-or-nothing in the
    kernel (one nft transaction)."""

    def __init__(self, netns=None):
        self.netns = netns

    def apply(self, ports, uplinks=()):
        """Replace the whole ruleset by the one for ``ports`` and the
        ``uplinks`` (model.Uplink) of their networks; return {port id:
        reason} of the ports cut off for bad data (logged). Raises
        NetError if nft refused (nothing changed: the transaction is
        atomic)."""
        rejected = load([net_ruleset.plain(p) for p in ports], self.netns,
                        [dataclasses.asdict(u) for u in uplinks])
        for port_id, reason in sorted(rejected.items()):
            LOG.error('Port %s is cut off (its chains drop everything): %s',
                      port_id, reason)
        return rejected

    def remove(self):
        """Delete both hvagent tables (fine if they are not there)."""
        unload(self.netns)
