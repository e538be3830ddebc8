"""Live migration end to end between two real hypervisor hosts.

h1 is the machine's libvirtd, h2 the second_host fixture's libvirtd in its
own mount/UTS/network namespaces. Each runs its own hvagent-compute (h2's
inside h2's namespaces) with the real LibvirtDriver (TCG), a compute
node's broker user and only its host key; conductor and scheduler are
controllers in the root namespace; RabbitMQ reaches h2 through the
fixture's forwarder. Every step goes agent -> conductor -> agent over the
broker, and the guests move for real (block migration of the overlay over
the image cache both sides hold, the config drive rebuilt on the
destination).

The guest is the test guest: one boot banner per boot, a disks line every
second. A guest that moved keeps printing disks lines on the destination
and never boots again. A resize or cold migration stops it and boots it
on the destination, where it reports the size it was given (RAM, CPUs,
root disk); confirm and revert are tested there too.
"""
import json
import os
import re
import signal
import subprocess
import uuid

import pytest

from agent.objects import states as S
from net import dhcp
from net import model
from net import privileged
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures import two_host_cloud as two
from tests.fixtures.two_host_cloud import H1
from tests.fixtures.two_host_cloud import H2
from tests.fixtures.two_host_cloud import MOVE_TIMEOUT
from tests.fixtures.two_host_cloud import console
from tests.fixtures.two_host_cloud import move
from tests.fixtures.two_host_cloud import start_agent
from tests.fixtures.two_host_cloud import wait_up
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@pytest.fixture(scope='module')
def cloud(tmp_path_factory, second_host, libvirt_image):
    codes = {}
    with two.started(tmp_path_factory.mktemp('migration'), second_host,
                     libvirt_image, codes) as dep:
        yield dep
    assert set(codes.values()) <= {0, -signal.SIGKILL}, codes


@pytest.fixture
def guest(cloud):
    """A running test guest on h1; deleted afterwards."""
    inst = two.boot(cloud)
    if inst.host != H1:
        move(cloud, inst, H1)
    two.wait_booted(cloud, inst)
    yield inst
    two.delete(cloud, inst)


def keeps_running_here(dep, inst):
    """New disks lines on its console, and no second boot."""
    before = console(dep, inst).count(guest_image.DISKS)
    wait_until(lambda: console(dep, inst).count(guest_image.DISKS) >
               before + 1, 60, interval=0.5,
               message='the guest printing on its new host')
    return guest_image.booted_uuids(console(dep, inst))


def test_there_and_back(cloud, guest):
    after, mig = move(cloud, guest)
    assert (after.host, after.vm_state, after.power_state) == (
        H2, S.ACTIVE, S.RUNNING)
    assert (mig.status, mig.source_compute, mig.dest_compute) == (
        S.MIGRATION_COMPLETED, H1, H2)
    assert mig.memory_total > 0 and mig.downtime_ms is not None
    assert keeps_running_here(cloud, after) == []   # no boot on h2
    assert not os.path.exists(os.path.join(cloud.h2.instances_path,
                                           guest.uuid)), 'left on h1'
    after, mig = move(cloud, after, H1)
    assert (after.host, mig.status) == (H1, S.MIGRATION_COMPLETED)
    assert keeps_running_here(cloud, after) == []   # nor on h1
    for host in (H1, H2):
        log = cloud.log(host)
        assert 'Traceback' not in log, log


def begin_slow_move(cloud, guest, mibps):
    """Restart h1's agent with its moves throttled to ``mibps`` MiB/s and
    start moving ``guest``; return the Migration once the copy runs
    (libvirt 9.0 reports no figures while it copies the disk)."""
    start_agent(cloud, H1, migration={'bandwidth': mibps})
    cloud.wait_log(H1, 'hvagent-compute started')
    mig = cloud.conductor.live_migrate(cloud.admin, ref=guest.uuid)
    wait_until(lambda: cloud.conductor.migration_show(
        cloud.admin, migration_uuid=mig.uuid).status == S.MIGRATION_RUNNING,
        120, interval=0.5)
    return mig


def settled(cloud, guest, mig):
    """(the instance once its move settled, the Migration as it ended)."""
    after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
    return after, cloud.conductor.migration_show(cloud.admin,
                                                 migration_uuid=mig.uuid)


def test_abort_leaves_the_guest_on_the_source(cloud, guest):
    try:
        mig = begin_slow_move(cloud, guest, mibps=1)
        cloud.conductor.migration_abort(cloud.admin, ref=guest.uuid)
        after, mig = settled(cloud, guest, mig)
        assert (after.host, after.vm_state, mig.status) == (
            H1, S.ACTIVE, S.MIGRATION_CANCELLED)
        wait_until(lambda: cloud.h2.virsh('domstate', guest.uuid)
                   .returncode != 0, 30, interval=0.5,
                   message='nothing left on h2')
        wait_until(lambda: not os.listdir(os.path.join(
            cloud.h2.dir, 'instances')), 30, interval=0.5,
            message="h2's files of the guest removed")
        assert keeps_running_here(cloud, after) == [guest.uuid]
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1)


def assert_one_host_runs(cloud, guest, after):
    """The guest runs where ``after`` (the settled instance) says, not
    on the other host too, and without a new boot if it moved."""
    other = cloud.h2.virsh('domstate', guest.uuid) if after.host == H1 \
        else _h1_domstate(guest.uuid)
    assert other.returncode != 0, 'the guest on both hosts'
    assert keeps_running_here(cloud, after) == (
        [] if after.host == H2 else [guest.uuid])


def test_source_agent_killed_mid_move(cloud, guest):
    """kill -9 of the source's agent while its libvirtd copies: the
    restarted agent waits for a copy libvirtd still runs and switches
    over if the guest left, or copies again if it is still here (or, if
    that fails, reports it with the guest on h1). One host runs it,
    either way."""
    try:
        mig = begin_slow_move(cloud, guest, mibps=8)
        cloud.stop(H1, sig=signal.SIGKILL)
        start_agent(cloud, H1, migration={'bandwidth': 8})
        after, mig = settled(cloud, guest, mig)
        assert after.vm_state == S.ACTIVE, after
        if after.host == H2:
            assert mig.status == S.MIGRATION_COMPLETED, mig
        else:
            assert (after.host, mig.status) == (H1, S.MIGRATION_ERROR), mig
        assert_one_host_runs(cloud, guest, after)
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1)


def test_force_complete_pauses_and_finishes(cloud, guest):
    """A throttled move forced to complete: the guest is paused so the
    copy converges, and runs on h2 afterwards (no second boot)."""
    try:
        mig = begin_slow_move(cloud, guest, mibps=8)
        cloud.conductor.migration_force_complete(cloud.admin, ref=guest.uuid)
        after, mig = settled(cloud, guest, mig)
        assert (after.host, mig.status) == (H2, S.MIGRATION_COMPLETED), mig
        assert (after.vm_state, after.power_state) == (S.ACTIVE, S.RUNNING)
        assert keeps_running_here(cloud, after) == [], 'booted again'
        assert _h1_domstate(guest.uuid).returncode != 0, 'left on h1'
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1)


def test_destination_agent_killed_mid_move(cloud, guest):
    """kill -9 of the destination's agent while the copy runs: libvirtd
    carries on; the source reports the switch-over to the conductor,
    and the restarted destination agent finishes its side (or, if the
    copy failed, removes what it prepared). One host runs the guest."""
    try:
        mig = begin_slow_move(cloud, guest, mibps=8)
        cloud.stop(H2, sig=signal.SIGKILL)
        start_agent(cloud, H2)
        after, mig = settled(cloud, guest, mig)
        assert after.vm_state == S.ACTIVE, after
        expected = S.MIGRATION_COMPLETED if after.host == H2 \
            else S.MIGRATION_ERROR
        wait_until(lambda: cloud.conductor.migration_show(
            cloud.admin, migration_uuid=mig.uuid).status == expected, 60,
            interval=0.5, message=lambda: (after, cloud.log(H2)[-3000:]))
        assert_one_host_runs(cloud, guest, after)
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1, H2)


def test_evacuate_from_a_dead_host(cloud, guest):
    """h2 dies with the guest on it (its agent, libvirtd and QEMU killed:
    fenced); once its heartbeat is old the admin evacuates: the guest is
    built again on h1 from its image. When h2 comes back, its agent
    finds the instance gone elsewhere and removes the old guest instead
    of starting it."""
    after, _ = move(cloud, guest, H2)
    assert after.host == H2
    try:
        cloud.stop(H2, sig=signal.SIGKILL)
        cloud.h2.power_off()
        wait_until(lambda: [h for h in cloud.conductor.host_list(cloud.ctxt)
                            if h['service'].host == H2 and
                            not h['service'].up], 30, interval=0.5,
                   message='h2 seen down')
        mig = cloud.conductor.evacuate(cloud.admin, ref=guest.uuid)
        after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
        assert (after.host, after.vm_state, after.power_state) == (
            H1, S.ACTIVE, S.RUNNING), after
        assert _h1_domstate(guest.uuid).stdout.strip() == 'running'
        wait_until(lambda: len(guest_image.booted_uuids(
            console(cloud, after))) >= 1, 120, interval=1,
            message='the guest booting again on h1')
    finally:
        cloud.h2.power_on()
        start_agent(cloud, H2)
        wait_up(cloud, H1, H2)
    wait_until(lambda: cloud.h2.virsh('domstate', guest.uuid)
               .returncode != 0, 60, interval=0.5,
               message=lambda: 'the old guest undefined on h2\n' +
               cloud.log(H2)[-3000:])
    wait_until(lambda: not os.listdir(os.path.join(cloud.h2.dir,
                                                   'instances')),
               30, interval=0.5, message="h2's files of the guest removed")
    wait_until(lambda: cloud.conductor.migration_show(
        cloud.admin, migration_uuid=mig.uuid).status ==
        S.MIGRATION_COMPLETED, 60, interval=0.5)
    log = cloud.log(H2)
    assert 'was evacuated from this host' in log, log[-3000:]
    assert 'Traceback' not in log, log


PING_RE = re.compile(r'hvagent-test-guest ping (\S+) (ok|fail)\r?\n')


def pings(dep, inst):
    """The results (``ok``/``fail``) of the guest's pings so far."""
    return [r for _, r in PING_RE.findall(console(dep, inst))]


def pings_answered(dep, inst, timeout=60):
    """Wait for two new answered pings in a row; the failures before."""
    seen = len(pings(dep, inst))
    wait_until(lambda: pings(dep, inst)[seen:][-2:] == ['ok', 'ok'],
               timeout, interval=0.5,
               message=lambda: 'pings of %s: %s' % (inst.name,
                                                    pings(dep, inst)[seen:]))
    return pings(dep, inst)[seen:].count('fail')


@pytest.fixture
def vxlan_net(cloud):
    """A shared vxlan network between the two hosts (tunnel over the
    veth); what the h1 agent wired in the machine's network namespace is
    removed afterwards."""
    used = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True,
                          text=True, check=True).stdout
    if ' 10.78.0.' in used:
        pytest.skip('10.78.0.0/24 is in use on this host')
    if ('inet', 'hvagent') in privileged.nft_tables():
        pytest.skip('the host already has an hvagent nftables table')
    if not os.path.exists('/proc/sys/net/bridge/bridge-nf-call-iptables'):
        pytest.skip('br_netfilter is not loaded (modprobe br_netfilter)')
    net = cloud.conductor.network_create(
        cloud.admin, name='mig-%s' % uuid.uuid4().hex[:6],
        network_type='vxlan', cidr='10.78.0.0/24', gateway_ip='10.78.0.1')
    cloud.conductor.network_set(cloud.admin, ref=net.uuid, shared=True)
    try:
        yield net
    finally:
        wait_until(lambda: cloud.conductor.port_list(
            cloud.admin, network=net.uuid) == [], 60, interval=0.5)
        cloud.conductor.network_delete(cloud.admin, ref=net.uuid)
        dhcp.DhcpServer(os.path.join(cloud.h2.shared, 'state-' + H1,
                                     'dhcp')).stop(net.uuid)
        for link in (model.bridge_name(net.uuid),
                     model.vxlan_name(net.segmentation_id)):
            privileged.link_del(link)
        for family in ('bridge', 'inet'):
            privileged.nft_delete_table(family, 'hvagent')


def test_guest_network_follows_the_move(cloud, vxlan_net):
    """A neighbour on h1 pings the mover all along: the mover's NIC
    answers on h1, then on h2 (through the VXLAN tunnel: h2 plugged its
    port, with its firewall, before the switch-over) and on h1 again."""
    booted = []
    try:
        booted += two.boot_on(cloud, H1, networks=[vxlan_net.uuid])
        mover = booted[0]
        address = mover.networks[0].split('=')[1]
        booted += two.boot_on(cloud, H1, networks=[vxlan_net.uuid],
                              metadata={'ping': address})
        neighbour = booted[1]
        pings_answered(cloud, neighbour, timeout=120)
        for host in (H2, H1):
            after, mig = move(cloud, mover, host)
            assert (after.host, mig.status) == (host,
                                                S.MIGRATION_COMPLETED)
            lost = pings_answered(cloud, neighbour)
            assert lost <= 3, 'the move lost %d pings' % lost
        assert keeps_running_here(cloud, after) == []
    finally:
        for inst in booted:
            two.delete(cloud, inst)


def test_drain_moves_every_guest(cloud):
    """hvctl host-drain h1 with three guests there, two moves at a time:
    all run on h2 afterwards, h1 is disabled with reason "drain"."""
    guests = two.boot_on(cloud, H1, 3)
    try:
        proc = two.hvctl(cloud, '--json', 'host-drain', H1,
                         '--max-concurrent', '2', '--timeout', '300')
        assert proc.returncode == 0, proc.stdout + proc.stderr
        done = {r['uuid']: r for r in json.loads(proc.stdout)}
        for inst in guests:
            assert (done[inst.uuid]['result'], done[inst.uuid]['host']) == (
                'moved', H2), done
            after = cloud.conductor.instance_show(cloud.ctxt, ref=inst.uuid)
            assert (after.host, after.vm_state) == (H2, S.ACTIVE)
        assert keeps_running_here(cloud, guests[0]) == []
        (svc,) = [h['service'] for h in cloud.conductor.host_list(cloud.ctxt)
                  if h['service'].host == H1]
        assert (svc.disabled, svc.disabled_reason) == (True, 'drain')
    finally:
        two.hvctl(cloud, 'host-enable', H1)
        for inst in guests:
            two.delete(cloud, inst)


def _h1_domstate(uuid_):
    return subprocess.run(['virsh', '-c', 'qemu:///system', 'domstate',
                           uuid_], capture_output=True, text=True)


# ------------------------------------------- resize and cold migration
def sizes(dep, inst):
    """What the guest reported it was given at each boot here."""
    return guest_image.sizes(console(dep, inst))


def booted_with_size(cloud, guest):
    """The guest's size line of this boot (not only its banner: the
    power button pressed between the two would leave the boot without
    one)."""
    return wait_until(lambda: sizes(cloud, guest), two.BOOT_TIMEOUT,
                      interval=0.5, message='the guest reporting its size')


def test_resize_up_and_confirm(cloud, guest):
    """m1.tiny -> m1.small: the guest boots on h2 with the new flavor's
    RAM and root disk and its disk's contents; confirm removes h1's."""
    (tiny,) = booted_with_size(cloud, guest)
    cloud.conductor.resize(cloud.ctxt, ref=guest.uuid, flavor='m1.small')
    after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
    assert (after.host, after.vm_state, after.power_state) == (
        H2, S.RESIZED, S.RUNNING), after
    small = booted_with_size(cloud, guest)[0]
    assert small['vda_bytes'] == 20 << 30 and tiny['vda_bytes'] == 1 << 30
    assert small['mem_kb'] > tiny['mem_kb'] + 1024 * 1024
    assert _h1_domstate(guest.uuid).stdout.strip() == 'shut off'

    cloud.conductor.resize_confirm(cloud.ctxt, ref=guest.uuid)
    wait_until(lambda: _h1_domstate(guest.uuid).returncode != 0, 60,
               interval=0.5, message="h1's guest removed")
    after = deployment.settle(cloud, guest.uuid)
    assert (after.host, after.vm_state, after.flavor.name) == (
        H2, S.ACTIVE, 'm1.small')
    assert keeps_running_here(cloud, guest) == [guest.uuid]


def test_cold_migrate_and_revert(cloud, guest):
    """An admin's cold migration to h2, reverted: h2's guest goes and
    h1's boots again with what it had."""
    booted_with_size(cloud, guest)
    cloud.conductor.migrate(cloud.admin, ref=guest.uuid, host=H2)
    after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
    assert (after.host, after.vm_state) == (H2, S.RESIZED), after
    booted_with_size(cloud, guest)

    cloud.conductor.resize_revert(cloud.ctxt, ref=guest.uuid)
    after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
    assert (after.host, after.vm_state, after.power_state) == (
        H1, S.ACTIVE, S.RUNNING), after
    # h1's whole console log (the API's output is its end only)
    log = os.path.join(cloud.h2.instances_path, guest.uuid, 'console.log')

    def both_boots():
        with open(log, errors='replace') as f:
            seen = guest_image.sizes(f.read())
        return seen if len(seen) == 2 else None
    booted = wait_until(both_boots, two.BOOT_TIMEOUT, interval=1,
                        message="h1's guest booting again")
    assert booted[0] == booted[1]
    assert cloud.h2.virsh('domstate', guest.uuid).returncode != 0


@pytest.mark.parametrize('host, failpoint', [
    (H1, 'libvirt.resize.offered'), (H2, 'libvirt.resize.received')],
    ids=['source', 'destination'])
def test_agent_killed_mid_resize(cloud, guest, host, failpoint):
    """kill -9 of the source's agent once the guest is stopped and its
    disk offered, or of the destination's once the disk is in place:
    the restarted agent does its step again and the resize finishes; a
    revert then brings the guest back to h1."""
    booted_with_size(cloud, guest)
    try:
        start_agent(cloud, host, env={'HVAGENT_FAILPOINTS': failpoint})
        wait_up(cloud, host)
        cloud.conductor.resize(cloud.ctxt, ref=guest.uuid, flavor='m1.small')
        cloud.wait_log(host, 'failpoint %s reached' % failpoint,
                       timeout=MOVE_TIMEOUT)
        cloud.stop(host, sig=signal.SIGKILL)
        start_agent(cloud, host)
        after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
        assert (after.host, after.vm_state, after.power_state) == (
            H2, S.RESIZED, S.RUNNING), after
        small = booted_with_size(cloud, guest)
        assert small[0]['vda_bytes'] == 20 << 30
        cloud.conductor.resize_revert(cloud.ctxt, ref=guest.uuid)
        after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
        assert (after.host, after.vm_state, after.power_state) == (
            H1, S.ACTIVE, S.RUNNING), after
        assert cloud.h2.virsh('domstate', guest.uuid).returncode != 0
    finally:
        start_agent(cloud, host)
        wait_up(cloud, host)
