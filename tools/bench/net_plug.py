"""Plug + unplug of one guest port through net/ against the same steps as
``ip`` subprocess calls, then wiring 100 ports on one bridge.

    python -m tools.bench.net_plug [--ports 50] [--many 100]

Runs as root in a scratch network namespace (deleted at the end): a flat
network whose uplink is a veth ``phys0``, with one resident port so that
plugging and unplugging the measured ones never creates or tears down the
bridge (the common case on a busy host). Then, alternating the two ways in
the same run, N times each, one port (a persistent tap) is:

* net/: ``Wiring.plug_port`` (check bridge and uplink, create the tap,
  enslave it and bring it up) then ``Wiring.unplug_port`` (take the tap
  off the bridge, down, into the reaper's link group; list the ports left
  on the bridge);
* baseline: the same steps as subprocesses, as an agent shelling out would
  do them: ``ip link show dev <bridge>``, ``ip link show dev phys0``,
  ``ip tuntap add``, ``ip link set ... master ... up``; then
  ``ip link del`` and ``ip link show master <bridge>``.

Printed: median ms per port for plug, unplug and both, the baseline's, and
the ratios. Deleting a link makes the kernel wait for an RCU grace period
(rcu_barrier() in netdev_run_todo), ~15-20 ms here whoever asks: ``ip link
del`` pays it in the caller's time; net/'s reaper thread pays it once per
batch, off the caller's path. So the reaper's figures are printed too: how
many deletion requests it made for the ports, their kernel time in all and
per port, and what deleting one tap synchronously costs (``link_del``).
Last, plugging ``--many`` ports on one bridge, then unplugging them (each
unplug lists the ports left on the bridge, so it grows with the bridge),
then the time until the reaper has deleted them all.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

from net import model
from net import privileged
from net import wiring


def ip(netns, *args):
    subprocess.run(['ip', '-n', netns] + list(args), check=True,
                   stdout=subprocess.DEVNULL)


def subprocess_plug(netns, bridge, tap):
    ip(netns, 'link', 'show', 'dev', bridge)
    ip(netns, 'link', 'show', 'dev', 'phys0')
    ip(netns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap')
    ip(netns, 'link', 'set', 'dev', tap, 'master', bridge, 'up')


def subprocess_unplug(netns, bridge, tap):
    ip(netns, 'link', 'del', 'dev', tap)
    ip(netns, 'link', 'show', 'master', bridge)


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def port(net):
    return model.Port(id=str(uuid.uuid4()), network_id=net.id,
                      mac='02:00:00:00:00:01', ip='10.0.0.2')


def per_port(netns, wires, net, n):
    """{'net': ([plug ms], [unplug ms]), 'ip': (...), 'del': [ms]}"""
    out = {'net': ([], []), 'ip': ([], []), 'del': []}
    for _ in range(n):
        p = port(net)
        out['net'][0].append(timed(wires.plug_port, net, p))
        out['net'][1].append(timed(wires.unplug_port, net, p))
        tap = port(net).tap
        out['ip'][0].append(timed(subprocess_plug, netns, net.bridge, tap))
        out['ip'][1].append(timed(subprocess_unplug, netns, net.bridge, tap))
        tap = port(net).tap
        privileged.link_add(tap, 'tap', netns)
        out['del'].append(timed(privileged.link_del, tap, netns))
    return out


def many(wires, net, n):
    ports = [port(net) for _ in range(n)]
    plug = timed(lambda: [wires.plug_port(net, p) for p in ports])
    unplug = timed(lambda: [wires.unplug_port(net, p) for p in ports])
    return plug, unplug, unplug + timed(wires.flush)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ports', type=int, default=50)
    parser.add_argument('--many', type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('net_plug: needs root (network namespaces, taps)')
    netns = 'hvbench-%s' % uuid.uuid4().hex[:8]
    privileged.netns_add(netns)
    try:
        ip(netns, 'link', 'add', 'phys0', 'type', 'veth', 'peer', 'name',
           'phys0p')
        net = model.Network(id=str(uuid.uuid4()), name='bench', type='flat',
                            cidr='10.0.0.0/24', physical_interface='phys0')
        wires = wiring.Wiring(netns=netns)
        resident = port(net)
        wires.plug_port(net, resident)
        per_port(netns, wires, net, 3)                  # warm up
        wires.flush()
        reaped = wires.reaper.passes, wires.reaper.seconds
        res = per_port(netns, wires, net, args.ports)
        wires.flush()
        passes, seconds = (now - then for now, then in zip(
            (wires.reaper.passes, wires.reaper.seconds), reaped))
        med = {way: [statistics.median(t) for t in res[way]]
               for way in ('net', 'ip')}
        for way, label in (('net', 'net/'),
                           ('ip', 'ip subprocesses')):
            plug, unplug = med[way]
            print('%-16s plug %6.2f ms  unplug %6.2f ms  plug+unplug %6.2f '
                  'ms per port (median of %d)'
                  % (label, plug, unplug, plug + unplug, args.ports))
        (p1, u1), (p2, u2) = med['net'], med['ip']
        print('ratio ip/net     plug %5.1fx    unplug %5.1fx    plug+unplug '
              '%5.1fx' % (p2 / p1, u2 / u1, (p2 + u2) / (p1 + u1)))
        print('net/ reaper      %d taps deleted in %d requests, %.0f ms of '
              'kernel time (%.2f ms per tap) off the callers\' path; one '
              'tap deleted alone: %.2f ms (median)'
              % (args.ports, passes, seconds * 1e3,
                 seconds * 1e3 / args.ports, statistics.median(res['del'])))
        plug, unplug, gone = many(wires, net, args.many)
        print('%d ports on one bridge: plug %.0f ms (%.2f ms/port), unplug '
              '%.0f ms (%.2f ms/port), all deleted after %.0f ms'
              % (args.many, plug, plug / args.many, unplug,
                 unplug / args.many, gone))
        wires.unplug_port(net, resident)
        wires.flush()
        left = privileged.links(netns)
        assert left == ['lo', 'phys0p', 'phys0'] or \
            sorted(left) == ['lo', 'phys0', 'phys0p'], left
    finally:
        privileged.netns_del(netns)


if __name__ == '__main__':
    main()
