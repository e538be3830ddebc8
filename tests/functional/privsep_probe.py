"""Run by test_unit_capabilities as the unit runs hvagent-compute (an
unprivileged uid holding only the unit's ambient capabilities, inside a
network namespace): the compute entry point's privsep start-up, then what
net/ does through the daemon, what the main process cannot do itself, and
hostile requests. Prints one JSON object; the test judges it.

    python -m tests.functional.privsep_probe STATE_DIR FOREIGN_LINK
"""
import json
import sys

from agent.compute import main as compute_main
from net import boundary
from net import dhcp
from net import firewall
from net import model
from net import privileged
from net import privsep
from net import ruleset as net_ruleset
from net import wiring

MAC, IP = '52:54:00:12:34:56', '10.77.0.9'


def _error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as exc:         # the test reads type and message
        return '%s: %s' % (type(exc).__name__, exc)
    return None


def hostile(foreign):
    """Each must be refused (a NetError from the boundary)."""
    group = model.DISCARD_GROUP
    calls = {
        'delete a foreign link': (boundary.link_del, foreign),
        'down a foreign link': (boundary.link_set, foreign, None, None,
                                False, False),
        'foreign link mtu': (boundary.link_set, foreign, None, None, False,
                             None, 1280),
        'foreign link into a non-hvagent master': (
            boundary.link_set, foreign, None, 'lo'),
        'discard a foreign link': (boundary.link_discard, foreign, group),
        'discard into another group': (boundary.link_discard, 'tapx', 7),
        'delete link group 0': (boundary.link_del_group, 0),
        'bridge without the brq prefix': (boundary.link_add, 'evil0',
                                          'bridge'),
        'name too long': (boundary.link_add, 'brq' + 'x' * 13, 'bridge'),
        'name with shell syntax': (boundary.link_add, 'tap1;reboot', 'tap'),
        'name with a slash': (boundary.link_add, 'tap/../x', 'tap'),
        'unknown kind': (boundary.link_add, 'brqmacvlan', 'macvlan'),
        'vlan misnamed': (boundary.link_add, 'brqv', 'vlan', None,
                          {'link': foreign, 'vlan_id': 5}),
        'netns path': (boundary.link_add, 'brqns', 'bridge', '../../proc/1'),
        'address on a foreign link': (boundary.addr_add, foreign,
                                      '10.9.9.9/24'),
        'foreign /32 without the floating label': (
            boundary.addr_add, foreign, '10.9.9.9/32'),
        'remove an operator address': (boundary.addr_del, foreign,
                                       '192.0.2.1/24'),
        'gratuitous ARP for an operator address': (
            boundary.send_garp, foreign, '192.0.2.1'),
        'fdb on a foreign link': (boundary.fdb_append, foreign,
                                  '00:00:00:00:00:00', '192.0.2.7'),
        'dnsmasq on a foreign link': (boundary.dnsmasq_start, foreign,
                                      '10.77.0.0/24', '/tmp'),
        'dnsmasq option injection': (boundary.dnsmasq_start, 'brqx',
                                     '10.77.0.0/24',
                                     '/tmp --conf-file=/etc/passwd'),
        'dnsmasq path with ..': (boundary.dnsmasq_start, 'brqx',
                                 '10.77.0.0/24', '/tmp/../etc'),
        'dnsmasq subnet injection': (boundary.dnsmasq_start, 'brqx',
                                     '10.77.0.0/24,set:x', '/tmp'),
        'ports that are not ports': (firewall.load, [{'id': 'x',
                                                      'argv': ['sh']}]),
    }
    out = {}
    for what, (call, *args) in calls.items():
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        out[what] = _error(call, *args, **kwargs)
    # a function of the daemon's that is not an entrypoint
    out['call a non-entrypoint'] = _error(
        privsep.net_admin.channel.remote_call, 'net.privileged.link_del',
        (foreign,), {}, None)
    # nft text smuggled in a port's fields is parsed, not passed: the port
    # is cut off and the host's own table stays
    bad = model.Port(id='p2', network_id='net1', mac='52:54:00:00:00:02',
                     ip='10.77.0.10\n}\nflush ruleset\n')
    out['nft injection: cut off'] = sorted(
        firewall.load([net_ruleset.plain(bad)]))
    return out


def run(state, foreign):
    compute_main.start_privsep()         # what hvagent-compute does first
    out = {'main': privsep.status(),
           'daemon': privsep.status(privsep.net_admin.pid),
           'client_mode': privsep.net_admin.client_mode,
           'daemon_pid': privsep.net_admin.pid}
    # the main process itself: no capability left
    out['direct netlink'] = _error(privileged.link_add, 'brqdirect',
                                   'bridge')
    out['direct nft'] = _error(privileged.nft_apply, 'add table inet t\n')
    # through the daemon: what the agent does for a port
    network = model.Network(id='net1', name='n', type='flat',
                            cidr='10.77.0.0/24', gateway='10.77.0.1',
                            physical_interface=foreign)
    port = model.Port(id='port1', network_id='net1', mac=MAC, ip=IP,
                      rules=(model.Rule(direction='ingress', protocol='tcp',
                                        port_min=22, port_max=22),))
    wires = wiring.Wiring()
    wires.plug_port(network, port, device='tap')
    boundary.addr_add(network.bridge, dhcp.bridge_address(network))
    out['rejected'] = firewall.Firewall().apply([port])
    server = dhcp.DhcpServer(state)
    server.update(network, [port])
    pid = server.pid(network.id)
    out['dnsmasq'] = pid and privsep.status(pid)
    out['links'] = privileged.links()
    out['hostile'] = hostile(foreign)
    print(json.dumps(out))


if __name__ == '__main__':
    run(*sys.argv[1:])
