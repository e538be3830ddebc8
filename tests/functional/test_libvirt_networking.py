"""Guest networking end to end, with real libvirt + QEMU: two guests on one
flat network get their addresses from the agent's dnsmasq and ping each
other through the agent's nftables ruleset, as their serial consoles say.

What runs for real: the conductor's networking endpoints on SQLite (ports
allocated by ``ipam``, bound by the agent), the ComputeManager with the
real LibvirtDriver (TCG) and ``vifs.HostNetworking`` (bridge + flat uplink,
dnsmasq with the gateway on the bridge, nftables), and the test guest of
tools/build-test-image, which runs busybox udhcpc on its NIC, prints
``hvagent-test-guest ip=<address>`` and then pings the ``ping`` address of
its config drive's metadata every second (``hvagent-test-guest ping <ip>
ok|fail``). The instances themselves live in the in-memory FakeConductor,
whose ``instance_destroy`` is made to free the ports like the real one.

This test works in the host's ROOT network namespace, because libvirt
creates the guests' taps there: the bridge (``brq<network id>``), the flat
uplink (a veth pair ``hvl<tag>``/``hvp<tag>`` made here), the dnsmasq and
the nftables tables ``bridge hvagent`` / ``inet hvagent`` are the host's.
All names are unique per run and removed in finalizers; the test skips
rather than clobber ``hvagent`` tables someone else loaded. Side effect:
the firewall turns on ``net.bridge.bridge-nf-call-iptables`` (restored to
its old value afterwards), so bridged IPv4 of the host traverses the
iptables/inet hooks while the test runs.

Security groups: both ports start in ``pingable`` (ICMP in); then B's port
moves to ``ssh`` (only tcp/22 in) and B is plugged again (the idempotent
re-plug re-renders the host's ruleset): A's pings of B fail from then on,
while B's pings of A still get their replies (conntrack via br_netfilter).
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import types
import uuid as uuidlib

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent.compute import manager as manager_mod
from agent.compute import vifs
from agent.conductor import agent_calls
from agent.conductor import interfaces
from agent.conductor import ipam
from agent.conductor import networks
from agent.db import migration
from agent.db import models
from agent.db import net_models as N
from agent.db import session as db_session
from agent.objects import states as S
from net import model
from net import privileged
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.fakes import FakeConductor
from tests.fixtures.fakes import ctxt
from tests.fixtures.libvirt_guests import console
from tests.fixtures.libvirt_guests import flavor
from tests.fixtures.libvirt_guests import remove_domains
from tests.fixtures.libvirt_guests import wait_console
from virt.libvirt import designer
from virt.libvirt import driver as libvirt_driver

pytestmark = pytest.mark.functional

CONF = cfg.CONF
HOST = 'node1'
CIDR, GATEWAY = '10.77.0.0/24', '10.77.0.1'
BR_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables'
BOOT_TIMEOUT = 300       # banner + lease; ~10 s on an idle box (TCG)
PING_TIMEOUT = 120
IP_RE = re.compile(r'hvagent-test-guest ip=(\S+)\r?\n')
PING_RE = re.compile(r'hvagent-test-guest ping (\S+) (ok|fail)\r?\n')


def _skip_unless_possible():
    libvirtd.require_libvirtd()
    if os.geteuid() != 0:
        pytest.skip('needs root (bridges, dnsmasq, nftables in the host)')
    for tool, package in (('dnsmasq', 'dnsmasq-base'), ('nft', 'nftables'),
                          ('ip', 'iproute2')):
        if not (shutil.which(tool) or os.access('/usr/sbin/' + tool,
                                                os.X_OK)):
            pytest.skip('%s missing (CI: apt-get install -y %s)'
                        % (tool, package))
    if not os.path.exists(BR_NF):
        pytest.skip('br_netfilter is not loaded (%s missing): the firewall '
                    'needs it (modprobe br_netfilter)' % BR_NF)
    ours = [t for t in privileged.nft_tables() if t[1] == 'hvagent']
    if ours:
        pytest.skip('the host already has nftables tables %s (another '
                    'agent or test?): not clobbering them' % ours)
    used = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True,
                          text=True, check=True).stdout
    if ' %s/' % GATEWAY in used or ' 10.77.0.' in used:
        pytest.skip('%s is in use on this host' % CIDR)


@pytest.fixture
def cloud():
    """Conductor DB + endpoints, a flat network on a fresh uplink, and a
    ComputeManager with real libvirt and real host networking."""
    _skip_unless_possible()
    image = guest_image.ensure_image()
    with contextlib.ExitStack() as undo:
        tag = uuidlib.uuid4().hex[:8]
        uplink, peer = 'hvl' + tag, 'hvp' + tag
        state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-lvnet-')
        undo.callback(shutil.rmtree, state, ignore_errors=True)
        os.chmod(state, 0o755)
        overrides = [
            ('state_path', state, None),
            ('instances_path', os.path.join(state, 'instances'), 'compute'),
            ('graceful_shutdown_timeout', 60, 'compute'),
            ('console_output_max_bytes', 16 << 20, 'compute'),
            ('image_cache_path', os.path.join(state, 'images', '_base'),
             'libvirt'),
            ('virt_type', 'qemu', 'libvirt'),
            ('connection_uri', libvirtd.URI, 'libvirt'),
            ('physical_interface_mappings', ['physnet1:%s' % uplink],
             'network'),
        ]
        for name, value, group in overrides:
            CONF.set_override(name, value, group=group)
            undo.callback(CONF.clear_override, name, group=group)

        with open(BR_NF) as f:
            br_nf = f.read().strip()

        def restore_br_nf():
            with open(BR_NF) as f:
                if f.read().strip() != br_nf:
                    with open(BR_NF, 'w') as w:
                        w.write(br_nf)
        undo.callback(restore_br_nf)

        # the "physical" interface of physnet1: ours, created and deleted
        privileged.link_add(uplink, 'veth', peer=peer)
        undo.callback(privileged.link_del, uplink)

        url = 'sqlite:///%s/hv.sqlite' % state
        migration.upgrade(url)
        engine = db_session.create_engine(url)
        undo.callback(engine.dispose)
        nets = networks.NetworkManager(engine)
        endpoints = Endpoints(nets, agent_calls.AgentManager(engine))
        net = call(nets.network_create, ctxt(), name='lan',
                   network_type='flat', cidr=CIDR, segmentation_id=None,
                   physical_network='physnet1', gateway_ip=GATEWAY,
                   dns_nameservers=[], allocation_pools=[], mtu=None)
        for name, protocol, port in (('pingable', 'icmp', None),
                                     ('ssh', 'tcp', 22)):
            call(nets.secgroup_create, ctxt(), name=name, description=None)
            call(nets.secgroup_rule_add, ctxt(), group=name,
                 direction='ingress', protocol=protocol, port_range_min=port,
                 port_range_max=None, remote_ip_prefix=None,
                 remote_group=None)
        with engine.connect() as conn:
            net_row = conn.execute(sa.select(N.Network.id).where(
                N.Network.uuid == net.uuid)).scalar_one()
            groups = dict(conn.execute(sa.select(
                N.SecurityGroup.name, N.SecurityGroup.id)).all())

        drv = libvirt_driver.LibvirtDriver()
        drv.init_host(HOST)
        undo.callback(drv.cleanup_host)
        agent = vifs.HostNetworking(endpoints, HOST, creates_devices=True)
        bridge = model.bridge_name(net.uuid)

        def remove_leftovers():     # only what a failed test left behind
            agent.dhcp.stop(net.uuid)
            privileged.link_del(bridge)
            agent.firewall.remove()
        undo.callback(remove_leftovers)

        conductor = FakeConductor(HOST)
        fake_destroy = conductor.instance_destroy

        def instance_destroy(ctxt, instance_uuid):
            """The real conductor frees the instance's ports here."""
            with db_session.session_scope(engine) as s:
                ipam.release(s, instance_uuid)
            fake_destroy(ctxt, instance_uuid=instance_uuid)
        conductor.instance_destroy = instance_destroy
        undo.callback(lambda: remove_domains(list(conductor.instances)))

        yield types.SimpleNamespace(
            undo=undo, image=image, engine=engine, net=net, net_row=net_row,
            groups=groups, bridge=bridge, uplink=uplink, agent=agent,
            conductor=conductor, mgr=manager_mod.ComputeManager(
                drv, conductor, HOST, networking=agent))


# ------------------------------------------------------------------- helpers
def port_of(cloud, instance_uuid):
    """(port uuid, id, ip) of the instance's only port, from the DB."""
    with cloud.engine.connect() as conn:
        return tuple(conn.execute(sa.select(
            N.Port.uuid, N.Port.id, N.Port.ip_address).where(
            N.Port.instance_uuid == instance_uuid)).one())


def spawn(cloud, uuid, name, ping):
    img = cloud.image
    ip = port_of(cloud, uuid)[2]
    cloud.conductor.add_instance(
        uuid=uuid, name=name, image_ref=img['disk'],
        kernel_ref=img['kernel'], ramdisk_ref=img['ramdisk'],
        config_drive=True, flavor=flavor(), networks=['lan=%s' % ip],
        metadata={'ping': ping})
    cloud.mgr.build_and_run_instance(ctxt(), instance_uuid=uuid)
    inst = cloud.conductor.get(uuid)
    faults = cloud.conductor.faults_of(uuid)
    assert not faults, ' | '.join(f['message'] for f in faults)
    assert (inst.vm_state, inst.task_state, inst.power_state) == (
        S.ACTIVE, None, S.RUNNING)


def pings(text, target):
    """The results ('ok'/'fail') of the guest's pings of ``target``."""
    return [r for ip, r in PING_RE.findall(text) if ip == target]


def last_pings(cloud, uuid, target, start, n, result, what):
    """Wait until the last ``n`` pings of ``target`` logged after console
    offset ``start`` all say ``result``."""
    def check(text):
        got = pings(text[start:], target)
        return len(got) >= n and got[-n:] == [result] * n and got
    return wait_console(cloud, uuid, check, what, PING_TIMEOUT)


def summary(text):
    """The guest's own lines, runs of equal ones counted (``x N``)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith('hvagent-test-guest') or 'disks:' in line:
            continue
        if out and out[-1][0] == line:
            out[-1][1] += 1
        else:
            out.append([line, 1])
    return ''.join('\n  %s%s' % (line, ' (x%d)' % n if n > 1 else '')
                   for line, n in out)


def states_of(cloud, uuid):
    i = cloud.conductor.get(uuid)
    return i.vm_state, i.task_state, i.power_state


def bridge_chain(name):
    """The statements of chain ``name`` of hvagent's bridge table."""
    out = subprocess.run(['nft', 'list', 'chain', 'bridge', 'hvagent', name],
                         capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()
            and not line.strip().startswith(('table', 'chain', '}'))]


def dnsmasq_pids(bridge):
    """Every dnsmasq serving ``bridge``, from /proc (not the pid file)."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if os.path.basename(argv[0]) == 'dnsmasq' and \
                '--interface=%s' % bridge in argv:
            found.append(int(pid))
    return found


# ---------------------------------------------------------------------- test
def test_two_guests_get_dhcp_addresses_and_ping_each_other(cloud):
    a, b = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    for u in (a, b):
        ipam.allocate(cloud.engine, cloud.net_row, u,
                      [cloud.groups['pingable']])
    (port_a, _, ip_a), (port_b, port_b_id, ip_b) = (port_of(cloud, a),
                                                     port_of(cloud, b))
    assert (ip_a, ip_b) == ('10.77.0.2', '10.77.0.3')
    spawn(cloud, a, 'net-a', ping=ip_b)
    spawn(cloud, b, 'net-b', ping=ip_a)

    # the host side: one bridge with the uplink and both taps, a dnsmasq
    taps = [model.tap_name(p) for p in (port_a, port_b)]
    assert set(privileged.links(master=cloud.bridge)) == {cloud.uplink,
                                                          *taps}
    assert dnsmasq_pids(cloud.bridge) == [cloud.agent.dhcp.pid(
        cloud.net.uuid)]
    assert {('bridge', 'hvagent'), ('inet', 'hvagent')} <= set(
        privileged.nft_tables())

    # the guests' side: the lease each got, and A reaching B (and back)
    for u, ip in ((a, ip_a), (b, ip_b)):
        got = wait_console(cloud, u, IP_RE.findall, 'lease of %s' % ip,
                           BOOT_TIMEOUT)
        assert got == [ip], got
        assert guest_image.booted_uuids(console(cloud, u)) == [u]
    with open(os.path.join(CONF.state_path, 'dhcp', cloud.net.uuid,
                           'leases')) as f:
        leases = f.read()
    assert ' %s ' % ip_a in leases and ' %s ' % ip_b in leases, leases
    last_pings(cloud, a, ip_b, 0, 1, 'ok', 'A pings B ok')
    last_pings(cloud, b, ip_a, 0, 1, 'ok', 'B pings A ok')

    # B's port now only lets tcp/22 in: after the re-plug (which re-renders
    # the ruleset) A's pings fail, B's still get A's replies
    with cloud.engine.begin() as conn:
        conn.execute(sa.update(N.PortSecurityGroup).where(
            N.PortSecurityGroup.port_id == port_b_id).values(
            security_group_id=cloud.groups['ssh']))
    start_a, start_b = len(console(cloud, a)), len(console(cloud, b))
    cloud.agent.plug(ctxt(), b)
    last_pings(cloud, a, ip_b, start_a, 3, 'fail', 'A pings B fail x3')
    last_pings(cloud, b, ip_a, start_b, 3, 'ok', 'B pings A ok x3')

    # itsec isolates A: the conductor's flag (a row here) makes the agent
    # render A's port as drop-only chains, then pause A; B's pings of A
    # fail. Released: A runs, its rules are back, B's pings get replies.
    with cloud.engine.begin() as conn:
        conn.execute(sa.insert(models.Instance.__table__).values(
            uuid=a, name='net-a', project_id='p', user_id='u', flavor_id=1,
            vcpus=1, memory_mb=512, root_gb=1, vm_state='active', deleted=0,
            isolated=True))
    cloud.conductor.get(a).update(task_state=S.ISOLATING)
    start_b = len(console(cloud, b))
    cloud.mgr.isolate_instance(ctxt(), instance_uuid=a)
    assert states_of(cloud, a) == (S.PAUSED, None, S.PAUSED_POWER)
    assert bridge_chain('ingress_' + taps[0]) == ['drop']
    assert bridge_chain('egress_' + taps[0]) == ['drop']
    last_pings(cloud, b, ip_a, start_b, 3, 'fail', 'B pings isolated A fail')
    with cloud.engine.begin() as conn:
        conn.execute(sa.update(models.Instance.__table__).where(
            models.Instance.uuid == a).values(isolated=False))
    cloud.conductor.get(a).update(task_state=S.RELEASING)
    cloud.mgr.release_instance(ctxt(), instance_uuid=a)
    assert states_of(cloud, a) == (S.ACTIVE, None, S.RUNNING)
    assert bridge_chain('ingress_' + taps[0])[-1] == 'drop' and len(
        bridge_chain('ingress_' + taps[0])) > 1
    start_b = len(console(cloud, b))
    last_pings(cloud, b, ip_a, start_b, 2, 'ok', 'B pings released A ok')

    for u, name in ((a, 'A'), (b, 'B')):    # shown with -s or on failure
        print(name, summary(console(cloud, u)))

    # delete both: nothing of the network is left on the host
    for u in (a, b):
        cloud.conductor.get(u).update(task_state=S.DELETING)
        cloud.mgr.terminate_instance(ctxt(), instance_uuid=u)
        assert cloud.conductor.get(u).vm_state == S.DELETED
        assert not cloud.conductor.faults_of(u)
    with cloud.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            N.Port)).scalar_one() == 0
    assert not privileged.link_exists(cloud.bridge)
    assert [t for t in taps if privileged.link_exists(t)] == []
    assert not cloud.agent.dhcp.running(cloud.net.uuid)
    assert dnsmasq_pids(cloud.bridge) == []
    assert [t for t in privileged.nft_tables() if t[1] == 'hvagent'] == []
    info = privileged.link_info(cloud.uplink)      # never the uplink
    assert info is not None and info['master'] is None


def test_host_boot_resumes_guests_after_wiring_their_networks(cloud):
    """resume_guests_state_on_host_boot: after a "host reboot" (guest off,
    bridge, dnsmasq and nftables gone) a new agent wires the network again
    and powers the guest on; it gets its lease back and reaches the
    gateway."""
    a = str(uuidlib.uuid4())
    ipam.allocate(cloud.engine, cloud.net_row, a, [cloud.groups['pingable']])
    port, _, ip = port_of(cloud, a)
    spawn(cloud, a, 'resume-a', ping=GATEWAY)
    wait_console(cloud, a, IP_RE.findall, 'first lease', BOOT_TIMEOUT)

    # the host goes down: the guest with it, and all of the host's wiring
    subprocess.run(['virsh', '-c', libvirtd.URI, 'destroy',
                    designer.domain_name(a)], check=True, capture_output=True)
    cloud.agent.dhcp.stop(cloud.net.uuid)
    privileged.link_del(cloud.bridge)
    cloud.agent.firewall.remove()
    assert not privileged.link_exists(cloud.bridge)

    CONF.set_override('resume_guests_state_on_host_boot', True, 'compute')
    try:
        agent = vifs.HostNetworking(cloud.agent.conductor, HOST,
                                    creates_devices=True)
        mgr = manager_mod.ComputeManager(cloud.mgr.driver, cloud.conductor,
                                         HOST, networking=agent)
        mgr.init_host(ctxt())
    finally:
        CONF.clear_override('resume_guests_state_on_host_boot', 'compute')
    inst = cloud.conductor.get(a)
    assert (inst.vm_state, inst.task_state, inst.power_state) == (
        S.ACTIVE, None, S.RUNNING)
    assert model.tap_name(port) in privileged.links(master=cloud.bridge)
    assert agent.dhcp.running(cloud.net.uuid)
    ips = wait_console(cloud, a, lambda t: len(IP_RE.findall(t)) >= 2 and
                       IP_RE.findall(t), 'the lease after resume',
                       BOOT_TIMEOUT)
    assert ips == [ip, ip]
    assert guest_image.booted_uuids(console(cloud, a)) == [a, a]
    start = console(cloud, a).rindex('hvagent-test-guest ip=')
    last_pings(cloud, a, GATEWAY, start, 1, 'ok', 'resumed guest pings the '
               'gateway')

    cloud.conductor.get(a).update(task_state=S.DELETING)
    mgr.terminate_instance(ctxt(), instance_uuid=a)
    assert not privileged.link_exists(cloud.bridge)
    assert not agent.dhcp.running(cloud.net.uuid)


def second_network(cloud):
    """A second flat network, 10.78.0.0/24 on physnet2 (an uplink of its
    own); its row id. What the test leaves of it is removed after."""
    used = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True,
                          text=True, check=True).stdout
    if ' 10.78.0.' in used:
        pytest.skip('10.78.0.0/24 is in use on this host')
    uplink = 'hvm' + uuidlib.uuid4().hex[:8]
    privileged.link_add(uplink, 'veth', peer=uplink + 'p')
    cloud.undo.callback(privileged.link_del, uplink)
    CONF.set_override('physical_interface_mappings', [
        'physnet1:%s' % cloud.uplink, 'physnet2:%s' % uplink], 'network')
    net = call(networks.NetworkManager(cloud.engine).network_create, ctxt(),
               name='lan2', network_type='flat', cidr='10.78.0.0/24',
               segmentation_id=None, physical_network='physnet2',
               gateway_ip='10.78.0.1', dns_nameservers=[],
               allocation_pools=[], mtu=None)
    cloud.undo.callback(cloud.agent.dhcp.stop, net.uuid)
    cloud.undo.callback(privileged.link_del, model.bridge_name(net.uuid))
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net.uuid)).scalar_one()


def test_a_nic_plugged_into_a_running_guest_gets_a_lease_and_answers(cloud):
    """Interface attach: B runs with one NIC on lan; a port of B on lan2
    is allocated (as the conductor's interface_attach does) and the agent
    plugs it: B's new NIC asks for a lease and gets the port's address,
    and A (on lan2) gets replies to its pings of it. Detach: the port
    leaves B (as interface_detach does), the agent takes the NIC out and
    the port is deleted; A's pings fail again."""
    lan2 = second_network(cloud)
    a, b = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    ipam.allocate(cloud.engine, cloud.net_row, b, [cloud.groups['pingable']])
    spawn(cloud, b, 'nic-b', ping=GATEWAY)
    wait_console(cloud, b, IP_RE.findall, 'the first lease', BOOT_TIMEOUT)
    second = ipam.allocate(cloud.engine, lan2, b, [cloud.groups['pingable']])
    with cloud.engine.connect() as conn:
        ip_b2, mac_b2 = conn.execute(sa.select(
            N.Port.ip_address, N.Port.mac_address).where(
            N.Port.uuid == second)).one()
    ipam.allocate(cloud.engine, lan2, a, [cloud.groups['pingable']])
    spawn(cloud, a, 'nic-a', ping=ip_b2)
    last_pings(cloud, a, ip_b2, 0, 2, 'fail', 'A pings the address no NIC '
               'has yet: fail')
    cloud.conductor.get(b).update(task_state=S.ATTACHING_INTERFACE)
    cloud.mgr.attach_interface(ctxt(), instance_uuid=b)
    assert states_of(cloud, b) == (S.ACTIVE, None, S.RUNNING), \
        cloud.conductor.faults_of(b)
    nics = wait_console(cloud, b, lambda t: (lambda n: n if n and n.get(
        'eth1') else None)(guest_image.last_nics(t)), 'the lease of eth1',
        PING_TIMEOUT)
    assert nics['eth1'] == ip_b2 + '/24', nics
    start = len(console(cloud, a))
    last_pings(cloud, a, ip_b2, start, 2, 'ok', 'A pings the new NIC ok')

    with cloud.engine.begin() as conn:      # the conductor's detach
        conn.execute(sa.update(N.Port).where(N.Port.uuid == second).values(
            instance_uuid=None))
    cloud.conductor.interfaces_detached = lambda ctxt, host: call(
        interfaces.InterfaceAgentManager(cloud.engine).interfaces_detached,
        ctxt, host=host)
    cloud.conductor.get(b).update(task_state=S.DETACHING_INTERFACE)
    cloud.mgr.detach_interface(ctxt(), instance_uuid=b)
    assert states_of(cloud, b) == (S.ACTIVE, None, S.RUNNING), \
        cloud.conductor.faults_of(b)
    with cloud.engine.connect() as conn:
        assert conn.execute(sa.select(N.Port.id).where(
            N.Port.uuid == second)).first() is None
    assert model.tap_name(second) not in privileged.links(
        master=cloud.bridge)
    wait_console(cloud, b, lambda t: (lambda n: n is not None and
                                      'eth1' not in n)(
        guest_image.last_nics(t)), 'eth1 gone', PING_TIMEOUT)
    start = len(console(cloud, a))
    last_pings(cloud, a, ip_b2, start, 2, 'fail', 'A pings the detached '
               'address: fail')
    assert mac_b2 not in {i.mac for i in cloud.mgr.driver._domain(
        b).interfaces}
    for u in (a, b):
        cloud.conductor.get(u).update(task_state=S.DELETING)
        cloud.mgr.terminate_instance(ctxt(), instance_uuid=u)
