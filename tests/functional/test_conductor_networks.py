"""Networks, IPAM and security groups in the conductor, against real
databases (SQLite, MariaDB, PostgreSQL)."""
import ipaddress
import threading

import pytest
import sqlalchemy as sa

from agent import context
from agent import exception
from agent.conductor import ipam
from agent.db import net_models as N
from agent.objects import states
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.conductor import create


def test_boot_on_a_network_allocates_a_port(nets):
    net = create(nets)
    assert net.segmentation_id == 1 and net.cidr == '10.0.0.0/24'
    inst = nets.boot(networks=['net1'])
    (port,) = call(nets.networks.port_list, nets.ctxt, network='net1',
                   instance_uuid=None)
    assert port.instance_uuid == inst.uuid and port.status == 'DOWN'
    assert port.ip_address == '10.0.0.2'        # first host, not the gateway
    assert port.mac_address.startswith('fa:16:3e:')
    assert inst.networks == ['net1=10.0.0.2']
    shown = call(nets.tasks.instance_show, nets.ctxt, ref=inst.uuid)
    assert shown.networks == ['net1=10.0.0.2']


def test_concurrent_allocations_never_share_an_address(nets):
    net = create(nets, cidr='10.1.0.0/24', gateway_ip=None,
                 dns_nameservers=[])
    with nets.engine.connect() as conn:
        row_id = conn.execute(sa.select(N.Network.id).where(
            N.Network.uuid == net.uuid)).scalar_one()
    got, errors = [], []

    def worker():
        try:
            for _ in range(10):
                got.append(ipam.allocate(nets.engine, row_id, None))
        except Exception as e:      # recorded, asserted below
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ports = call(nets.networks.port_list, context.admin_context(),
                 network=net.uuid, instance_uuid=None)   # ports of no project
    ips = [p.ip_address for p in ports]
    assert len(ips) == 40 == len(set(ips))
    assert len({p.mac_address for p in ports}) == 40


def test_full_network_fails_the_build_and_frees_nothing_twice(nets):
    create(nets, cidr='10.2.0.0/30', gateway_ip='10.2.0.1',
           dns_nameservers=[])                # one usable address: .2
    first = nets.boot(name='a', networks=['net1'])
    second = nets.boot(name='b', networks=['net1'])
    assert first.networks == ['net1=10.2.0.2']
    assert second.vm_state == states.ERROR
    assert 'No free IP address left in network net1' in second.fault.message
    call(nets.conductor.instance_destroy, nets.ctxt,
         instance_uuid=first.uuid)
    assert call(nets.networks.port_list, nets.ctxt, network='net1',
                instance_uuid=None) == []
    third = nets.boot(name='c', networks=['net1'])
    assert third.networks == ['net1=10.2.0.2']    # freed and reused


def test_bad_networks_are_refused_clearly(nets):
    with pytest.raises(exception.InvalidNetwork, match='not in'):
        create(nets, gateway_ip='192.168.0.1')
    with pytest.raises(exception.InvalidNetwork, match='VLAN id'):
        create(nets, network_type='vlan', physical_network='physnet1')
    with pytest.raises(exception.InvalidNetwork, match='physical_network'):
        create(nets, network_type='flat')
    with pytest.raises(exception.NetworkNotFound):
        nets.boot(networks=['nope'])
    create(nets)
    with pytest.raises(exception.InvalidNetwork, match='exists'):
        create(nets)
    nets.boot(networks=['net1'])
    with pytest.raises(exception.NetworkInUse):
        call(nets.networks.network_delete, nets.ctxt, ref='net1')


def test_agent_gets_its_ports_with_security_groups_resolved(nets):
    create(nets)
    web = call(nets.networks.secgroup_create, nets.ctxt, name='web',
               description=None)
    call(nets.networks.secgroup_rule_add, nets.ctxt, group='web',
         direction='ingress', protocol='tcp', port_range_min=22,
         port_range_max=None, remote_ip_prefix='10.9.0.0/16',
         remote_group=None)
    call(nets.networks.secgroup_rule_add, nets.ctxt, group='web',
         direction='ingress', protocol='icmp', port_range_min=None,
         port_range_max=None, remote_ip_prefix=None, remote_group='web')
    a = nets.boot(name='a', networks=['net1'], security_groups=['web'])
    nets.boot(name='b', networks=['net1'], security_groups=['web'])
    ports = call(nets.conductor.ports_bind, nets.ctxt, instance_uuid=a.uuid,
                 host='node1')
    (port,) = ports                     # only a's port is bound to node1
    assert port.instance_uuid == a.uuid and port.host == 'node1'
    (group,) = port.security_groups
    assert group.uuid == web.uuid
    ssh, icmp = group.rules
    assert (ssh.protocol, ssh.port_range_min, ssh.port_range_max,
            ssh.remote_ip_prefix) == ('tcp', 22, 22, '10.9.0.0/16')
    assert icmp.remote_group == 'web'
    assert sorted(icmp.remote_ips) == ['10.0.0.2', '10.0.0.3']
    call(nets.conductor.ports_set_status, nets.ctxt, instance_uuid=a.uuid,
         status='ACTIVE')
    (port,) = call(nets.conductor.ports_get_by_host, nets.ctxt, host='node1')
    assert port.status == 'ACTIVE'
    assert ipaddress.ip_address(port.ip_address) in ipaddress.ip_network(
        port.network.cidr)


def test_hvctl_network_commands(nets):
    from agent import cli
    conductor = Endpoints(nets.networks, nets.tasks)
    lines = []

    def hvctl(*argv):
        return cli.run(cli.build_parser().parse_args(argv), conductor,
                       nets.ctxt, out=lines.append)
    assert hvctl('network-create', 'lan', '--type', 'flat', '--cidr',
                 '192.168.50.0/24', '--gateway', '192.168.50.1',
                 '--physical-network', 'physnet1',
                 '--pool', '192.168.50.100-192.168.50.199') == 0
    assert hvctl('secgroup-create', 'ssh') == 0
    assert hvctl('secgroup-rule-add', 'ssh', '--protocol', 'tcp',
                 '--port', '22') == 0
    assert hvctl('boot', 'vm1', '--flavor', 'm1.tiny', '--network', 'lan',
                 '--security-group', 'ssh') == 0
    assert 'lan=192.168.50.100' in lines[-1]
    lines.clear()
    assert hvctl('port-list', '--network', 'lan') == 0
    assert '192.168.50.100' in lines[-1] and 'DOWN' in lines[-1]
    assert hvctl('network-list') == 0 and 'physnet1' in lines[-1]
    assert hvctl('secgroup-list') == 0 and 'tcp' in lines[-1] and \
        '22-22' in lines[-1]


def _settle(c, uuid, task_state, vm_state):
    """What the agent reports when its operation is done."""
    call(c.conductor.instance_update, c.ctxt, instance_uuid=uuid,
         updates={'vm_state': vm_state, 'task_state': None},
         expected_task_state=[task_state])


def _act(c, uuid, action):
    return call(c.tasks.instance_action, c.ctxt, ref=uuid, action=action,
                volume_id=None, connection_info={})


def test_isolation_quarantines_the_ports_until_released(nets):
    """itsec's isolate: recorded on the instance before the cast, every
    port of it reads quarantined for the agents, and the owner cannot undo
    it (unpause, start, reboot); release lifts it."""
    create(nets)
    inst = nets.boot(name='suspect', networks=['net1'])
    other = nets.boot(name='bystander', networks=['net1'])
    for i in (inst, other):
        call(nets.conductor.ports_bind, nets.ctxt, instance_uuid=i.uuid,
             host='node1')
        _settle(nets, i.uuid, states.SCHEDULING, states.ACTIVE)

    shown = _act(nets, inst.uuid, 'isolate')
    assert shown.isolated and shown.task_state == states.ISOLATING
    assert nets.compute.casts[-1] == ('isolate_instance', 'node1', inst.uuid,
                                      {})
    ports = call(nets.conductor.ports_get_by_host, nets.ctxt, host='node1')
    assert {p.instance_uuid: p.quarantined for p in ports} == {
        inst.uuid: True, other.uuid: False}
    _settle(nets, inst.uuid, states.ISOLATING, states.PAUSED)
    for action in ('unpause', 'reboot_hard'):
        with pytest.raises(exception.InstanceIsolated, match='isolated'):
            _act(nets, inst.uuid, action)
    assert call(nets.tasks.instance_show, nets.ctxt,
                ref=inst.uuid).task_state is None     # nothing half-applied

    shown = _act(nets, inst.uuid, 'release')
    assert not shown.isolated and shown.task_state == states.RELEASING
    assert nets.compute.casts[-1][:3] == ('release_instance', 'node1',
                                          inst.uuid)
    ports = call(nets.conductor.ports_get_by_host, nets.ctxt, host='node1')
    assert not any(p.quarantined for p in ports)


def test_a_network_made_before_its_subnet(nets):
    """Network v2's two steps (1.18): no subnet, no port; then the one
    subnet; a second is refused; the subnet goes only without ports."""
    net = create(nets, name='later', cidr=None, gateway_ip=None,
                 dns_nameservers=[])
    assert (net.cidr, net.subnet_id, net.project_id) == (None, None, 'p1')
    with pytest.raises(exception.NetworkHasNoSubnet):
        nets.boot(networks=['later'])
    net = call(nets.networks.subnet_create, nets.ctxt, network='later',
               name='later-sub', cidr='10.9.0.0/24', gateway_ip='10.9.0.1',
               dns_nameservers=[], allocation_pools=[])
    assert (net.cidr, net.subnet_name) == ('10.9.0.0/24', 'later-sub')
    assert net.subnet_id
    with pytest.raises(exception.SubnetExists):
        call(nets.networks.subnet_create, nets.ctxt, network='later',
             name=None, cidr='10.10.0.0/24', gateway_ip=None,
             dns_nameservers=[], allocation_pools=[])
    with pytest.raises(exception.InvalidNetwork):     # outside the range
        call(nets.networks.network_create, nets.ctxt, name='bad',
             network_type='vxlan', cidr='10.11.0.0/24', segmentation_id=None,
             physical_network=None, gateway_ip='10.12.0.1',
             dns_nameservers=[], allocation_pools=[], mtu=None)
    inst = nets.boot(networks=['later'])
    assert inst.networks == ['later=10.9.0.2']
    with pytest.raises(exception.NetworkInUse):
        call(nets.networks.subnet_delete, nets.ctxt, network='later')
    # another project: not found, whatever it tries
    other = context.RequestContext(user_id='u2', project_id='p2')
    for method, kw in ((nets.networks.subnet_delete, {}),
                       (nets.networks.subnet_create, dict(
                           name=None, cidr='10.13.0.0/24', gateway_ip=None,
                           dns_nameservers=[], allocation_pools=[]))):
        with pytest.raises(exception.NetworkNotFound):
            call(method, other, network='later', **kw)

