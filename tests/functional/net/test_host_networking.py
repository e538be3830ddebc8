"""The compute agent's networking glue (agent/compute/vifs.py) against the
real conductor endpoints (SQLite) and the real kernel, in a namespace that
stands in for the host: booting instances on a flat network wires the
bridge, starts dnsmasq with their MAC->IP pairs and loads the nftables
ruleset; deleting them takes all of it away again."""
import os
import shutil
import tempfile

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from agent import context
from agent.compute import main as compute_main
from agent.compute import vifs
from agent.conductor import agent_calls
from agent.conductor import ipam
from agent.conductor import networks
from agent.db import migration
from agent.db import models
from agent.db import net_models as N
from agent.db import session as db_session
from net import privileged
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.netns import nsexec
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

CONF = cfg.CONF


@pytest.fixture
def host(make_netns):
    skip_unless('dnsmasq', 'nft')
    ns = make_netns('host')
    privileged.link_add('phys0', 'veth', ns, peer='phys0p')
    state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvnet-')
    os.chmod(state, 0o755)
    CONF.set_override('state_path', state)
    CONF.set_override('physical_interface_mappings', ['physnet1:phys0'],
                      'network')
    url = 'sqlite:///%s/hv.sqlite' % state
    migration.upgrade(url)
    engine = db_session.create_engine(url)
    nets = networks.NetworkManager(engine)
    conductor = Endpoints(nets, agent_calls.AgentManager(engine))
    ctxt = context.RequestContext(user_id='u', project_id='p')
    call(nets.network_create, ctxt, name='lan', network_type='flat',
         cidr='10.5.0.0/24', segmentation_id=None,
         physical_network='physnet1', gateway_ip='10.5.0.1',
         dns_nameservers=[], allocation_pools=[], mtu=None)
    web = call(nets.secgroup_create, ctxt, name='web', description=None)
    call(nets.secgroup_rule_add, ctxt, group=web.name, direction='ingress',
         protocol='tcp', port_range_min=22, port_range_max=None,
         remote_ip_prefix=None, remote_group=None)
    net_id = nets.network_list(ctxt)[0].uuid
    agent = vifs.HostNetworking(conductor, 'node1', creates_devices=False,
                                netns=ns)
    yield ns, agent, engine, net_id, ctxt
    CONF.clear_override('state_path')
    CONF.clear_override('physical_interface_mappings', 'network')
    engine.dispose()
    shutil.rmtree(state, ignore_errors=True)


def test_plug_wires_dhcp_and_firewall_and_unplug_removes_all(host):
    ns, agent, engine, net_id, ctxt = host
    with engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net_id)).scalar_one()
        group_id = conn.execute(sa.select(N.SecurityGroup.id)).scalar_one()
    uuids = ['00000000-0000-4000-8000-00000000000%d' % i for i in (1, 2)]
    for u in uuids:
        ipam.allocate(engine, row_id, u, [group_id])
    nics = [agent.plug(ctxt, u) for u in uuids]
    bridge = nics[0][0]['bridge']
    assert nics[1][0]['bridge'] == bridge
    assert privileged.link_exists(bridge, ns)
    assert set(privileged.links(ns, master=bridge)) >= {
        'phys0', nics[0][0]['tap'], nics[1][0]['tap']}
    assert agent.dhcp.running(net_id)
    hosts = open(os.path.join(CONF.state_path, 'dhcp', net_id,
                              'hosts')).read()
    assert nics[0][0]['mac'] in hosts and nics[1][0]['mac'] in hosts
    assert ('bridge', 'hvagent') in privileged.nft_tables(ns)
    # delete the first: its tap goes, the network stays for the second
    ports = agent.ports_of(ctxt, uuids[0])
    with engine.begin() as conn:
        conn.execute(sa.delete(N.PortSecurityGroup))
        conn.execute(sa.delete(N.Port).where(N.Port.instance_uuid == uuids[0]))
    agent.unplug(ctxt, ports)
    assert agent.wiring.flush()
    assert not privileged.link_exists(nics[0][0]['tap'], ns)
    assert privileged.link_exists(bridge, ns) and agent.dhcp.running(net_id)
    # and the last: nothing of ours is left
    ports = agent.ports_of(ctxt, uuids[1])
    with engine.begin() as conn:
        conn.execute(sa.delete(N.Port))
    agent.unplug(ctxt, ports)
    assert not privileged.link_exists(bridge, ns)
    assert not agent.dhcp.running(net_id)
    assert [t for t in privileged.nft_tables(ns) if t[1] == 'hvagent'] == []
    assert privileged.link_exists('phys0', ns)       # never the uplink


def test_periodic_resync_applies_a_change_no_cast_announced(host):
    """A rule that reached the database without a refresh_networking
    cast (a lost message) is in the kernel within seconds anyway: the
    agent's network-resync periodic (compute/main.py)."""
    ns, agent, engine, net_id, ctxt = host
    with engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net_id)).scalar_one()
        group_id = conn.execute(sa.select(N.SecurityGroup.id)).scalar_one()
    uuid = '00000000-0000-4000-8000-000000000009'
    ipam.allocate(engine, row_id, uuid, [group_id])
    agent.plug(ctxt, uuid)

    def table():
        return nsexec(ns, 'nft', 'list', 'table', 'bridge',
                      'hvagent').stdout
    assert 'dport 5432' not in table()
    with engine.begin() as conn:
        conn.execute(sa.insert(N.SecurityGroupRule).values(
            uuid='00000000-0000-4000-8000-0000000000aa',
            security_group_id=group_id, direction='ingress',
            ethertype='IPv4', protocol='tcp', port_range_min=5432,
            port_range_max=5432))
    CONF.set_override('network_resync_interval', 1, 'compute')
    task = compute_main.network_resync(agent, ctxt)
    task.start()
    try:
        wait_until(lambda: 'tcp dport 5432 accept' in table(), 10,
                   interval=0.2, message=table)
    finally:
        task.stop()
        CONF.clear_override('network_resync_interval', 'compute')


def test_a_hostile_rule_in_the_database_cuts_off_only_its_port(host):
    """A rule no conductor would store (min > max, an IPv6 prefix on an
    IPv4 rule), written straight into the database: the agent's next
    resync cuts off only the ports of that group (drop everything); the
    neighbour in another group keeps its rules in the kernel, and a later
    boot on the host is wired and filtered."""
    ns, agent, engine, net_id, ctxt = host
    nets = agent.conductor.endpoints[0]
    call(nets.secgroup_create, ctxt, name='db', description=None)
    call(nets.secgroup_rule_add, ctxt, group='db', direction='ingress',
         protocol='tcp', port_range_min=5432, port_range_max=None,
         remote_ip_prefix=None, remote_group=None)
    with engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net_id)).scalar_one()
        groups = dict(conn.execute(sa.select(
            N.SecurityGroup.name, N.SecurityGroup.id)).all())
    web, db = ('00000000-0000-4000-8000-00000000001%d' % i for i in (1, 2))
    ipam.allocate(engine, row_id, web, [groups['web']])
    ipam.allocate(engine, row_id, db, [groups['db']])
    web_nic, db_nic = agent.plug(ctxt, web)[0], agent.plug(ctxt, db)[0]
    with engine.begin() as conn:
        for i, (pmin, pmax, prefix) in enumerate(
                ((30, 20, None), (22, 22, '2001:db8::/64'))):
            conn.execute(sa.insert(N.SecurityGroupRule).values(
                uuid='00000000-0000-4000-8000-0000000000b%d' % i,
                security_group_id=groups['web'], direction='ingress',
                ethertype='IPv4', protocol='tcp', port_range_min=pmin,
                port_range_max=pmax, remote_ip_prefix=prefix))
    agent.resync(ctxt)

    def chain(name):
        return nsexec(ns, 'nft', 'list', 'chain', 'bridge', 'hvagent',
                      name).stdout
    assert 'drop' in chain('ingress_' + web_nic['tap'])
    assert 'accept' not in chain('ingress_' + web_nic['tap'])
    assert 'accept' not in chain('egress_' + web_nic['tap'])
    assert 'tcp dport 5432 accept' in chain('ingress_' + db_nic['tap'])
    later = '00000000-0000-4000-8000-000000000013'
    ipam.allocate(engine, row_id, later, [groups['db']])
    later_nic = agent.plug(ctxt, later)[0]
    assert 'tcp dport 5432 accept' in chain('ingress_' + later_nic['tap'])


def test_restarted_agent_stops_the_dnsmasq_an_earlier_run_started(host):
    """The set of served networks is rebuilt from the DHCP state on disk:
    the last port leaving after an agent restart still stops dnsmasq."""
    ns, agent, engine, net_id, ctxt = host
    with engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net_id)).scalar_one()
    uuid = '00000000-0000-4000-8000-000000000009'
    ipam.allocate(engine, row_id, uuid, [])
    bridge = agent.plug(ctxt, uuid)[0]['bridge']
    pid = agent.dhcp.pid(net_id)
    assert pid
    restarted = vifs.HostNetworking(agent.conductor, 'node1',
                                    creates_devices=False, netns=ns)
    assert restarted.dhcp.networks() == {net_id}
    ports = restarted.ports_of(ctxt, uuid)
    with engine.begin() as conn:
        conn.execute(sa.delete(N.Port))
    restarted.unplug(ctxt, ports)
    assert not restarted.dhcp.running(net_id)
    assert not os.path.exists('/proc/%d' % pid) or \
        'dnsmasq' not in open('/proc/%d/cmdline' % pid).read()
    assert not privileged.link_exists(bridge, ns)


def test_isolated_instance_ports_are_cut_off_by_a_resync(host):
    """The conductor's isolated flag reaches the kernel: a resync renders
    the isolated instance's port as drop-everything chains, the other port
    keeps its security group; released, its rules come back."""
    ns, agent, engine, net_id, ctxt = host
    with engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net_id)).scalar_one()
        group_id = conn.execute(sa.select(N.SecurityGroup.id)).scalar_one()
    suspect, bystander = ('00000000-0000-4000-8000-00000000001%d' % i
                          for i in (1, 2))
    with engine.begin() as conn:
        for u in (suspect, bystander):
            conn.execute(sa.insert(models.Instance.__table__).values(
                uuid=u, name=u[-4:], project_id='p', user_id='u',
                flavor_id=1, vcpus=1, memory_mb=512, root_gb=1,
                vm_state='active', deleted=0))
    for u in (suspect, bystander):
        ipam.allocate(engine, row_id, u, [group_id])
    taps = {u: agent.plug(ctxt, u)[0]['tap'] for u in (suspect, bystander)}

    def chain(direction, uuid):
        out = nsexec(ns, 'nft', 'list', 'chain', 'bridge', 'hvagent',
                     '%s_%s' % (direction, taps[uuid]), check=True).stdout
        return [line.strip() for line in out.splitlines()
                if line.strip() and not line.strip().startswith(
                    ('table', 'chain', '}'))]

    def set_isolated(value):
        with engine.begin() as conn:
            conn.execute(sa.update(models.Instance.__table__).where(
                models.Instance.uuid == suspect).values(isolated=value))
        agent.resync(ctxt)

    assert 'ip protocol tcp tcp dport 22 accept' in chain('ingress', suspect)
    set_isolated(True)
    assert chain('ingress', suspect) == ['drop']
    assert chain('egress', suspect) == ['drop']
    assert 'ip protocol tcp tcp dport 22 accept' in chain('ingress', bystander)
    set_isolated(False)
    assert 'ip protocol tcp tcp dport 22 accept' in chain('ingress', suspect)
    ports = [p for u in (suspect, bystander) for p in agent.ports_of(ctxt, u)]
    with engine.begin() as conn:
        conn.execute(sa.delete(N.PortSecurityGroup))
        conn.execute(sa.delete(N.Port))
    agent.unplug(ctxt, ports)
