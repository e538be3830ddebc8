"""Security groups and networks keep tenants apart, in the conductor
against real databases (SQLite, MariaDB, PostgreSQL): another project's
group or network is "not found" to every reference, bad rules are refused
with the renderer's own validator, and every change reaches the hosts
whose ports it concerns (refresh_networking casts)."""
import pytest
from hypothesis import HealthCheck, given, settings

from agent import context
from agent import exception
from net import model
from net import ruleset as net_ruleset
from tests import hostile
from tests.fixtures.conductor import call
from tests.fixtures.conductor import create
from tests.fixtures.conductor import share

pytestmark = pytest.mark.functional

P2 = context.RequestContext(user_id='u2', project_id='p2')
ADMIN = context.admin_context()
RULE = dict(direction='ingress', protocol='tcp', port_range_min=22,
            port_range_max=None, remote_ip_prefix=None, remote_group=None)


def group(c, name, ctxt=None):
    return call(c.networks.secgroup_create, ctxt or c.ctxt, name=name,
                description=None)


def rule_add(c, ref, ctxt=None, **kw):
    return call(c.networks.secgroup_rule_add, ctxt or c.ctxt, group=ref,
                **dict(RULE, **kw))


def boot_bound(c, name, ctxt=None, host='node1', **kw):
    inst = call(c.tasks.boot_instance, ctxt or c.ctxt, name=name,
                flavor='m1.small', image_ref='img', availability_zone=None,
                hints={}, metadata={}, **dict(dict(networks=['net1']), **kw))
    call(c.conductor.ports_bind, ctxt or c.ctxt, instance_uuid=inst.uuid,
         host=host)
    return inst


def refreshed(c):
    """Hosts told to refresh since the last look."""
    hosts = {h for m, h, _, _ in c.compute.casts
             if m == 'refresh_networking'}
    c.compute.casts.clear()
    return hosts


@pytest.fixture
def two(nets):
    """p1's group 'web' and p2's group 'web' (same name), the network
    net1 shared, a node2."""
    nets.report('node2')
    create(nets)
    share(nets, 'net1')
    nets.web1, nets.web2 = group(nets, 'web'), group(nets, 'web', P2)
    nets.conductor._compute = nets.compute
    return nets


def test_another_projects_group_is_not_found_by_any_reference(two):
    """The attack: p2's netadmin opens every port of p1's servers by
    adding a rule to p1's group (by uuid), boots into it, deletes it,
    names it as remote group. Every one is a 404, never a 403."""
    theirs = two.web1.uuid
    with pytest.raises(exception.SecurityGroupNotFound):
        rule_add(two, theirs, P2, port_range_min=1, port_range_max=65535)
    with pytest.raises(exception.SecurityGroupNotFound):
        rule_add(two, 'web', P2, remote_group=theirs)
    with pytest.raises(exception.SecurityGroupNotFound):
        boot_bound(two, 'intruder', P2, security_groups=[theirs])
    with pytest.raises(exception.SecurityGroupNotFound):
        call(two.networks.secgroup_delete, P2, group=theirs)
    rule = rule_add(two, 'web').rules[0]
    with pytest.raises(exception.SecurityGroupRuleNotFound):
        call(two.networks.secgroup_rule_delete, P2, rule=rule.uuid)
    victim = boot_bound(two, 'victim', security_groups=['web'])
    with pytest.raises(exception.InstanceNotFound):
        call(two.networks.server_secgroup_add, P2,
             instance_uuid=victim.uuid, group='web')
    # the name resolves in p2's own project: their own group
    assert rule_add(two, 'web', P2).uuid == two.web2.uuid
    assert [g.uuid for g in call(two.networks.secgroup_list, P2)] == [
        two.web2.uuid]
    # p1's group still has only its own rule
    (mine,) = call(two.networks.secgroup_list, two.ctxt)
    assert [r.uuid for r in mine.rules] == [rule.uuid]


def test_admin_reaches_any_group_by_uuid_not_by_ambiguous_name(two):
    assert rule_add(two, two.web2.uuid, ADMIN).project_id == 'p2'
    with pytest.raises(exception.InvalidSecurityGroupRule,
                       match='several projects'):
        rule_add(two, 'web', ADMIN)
    # a rule's remote group is of the group's project, for admins too
    with pytest.raises(exception.SecurityGroupNotFound):
        rule_add(two, two.web2.uuid, ADMIN, remote_group=two.web1.uuid)
    # a boot's groups are of the booting project, for admins too
    with pytest.raises(exception.SecurityGroupNotFound):
        boot_bound(two, 'admins', ADMIN, security_groups=[two.web1.uuid])
    assert len(call(two.networks.secgroup_list, ADMIN)) == 2
    assert len(call(two.networks.secgroup_list, P2, all_projects=True)) == 2


@pytest.mark.parametrize('kw,why', [
    (dict(port_range_min=30, port_range_max=20), 'port_max 20'),
    (dict(remote_ip_prefix='2001:db8::/64'), 'not IPv4'),
    (dict(remote_ip_prefix='10.0.0.0/33'), 'not a CIDR'),
    (dict(protocol=None), 'ports given for protocol None'),
    (dict(protocol='icmp', port_range_min=300), 'icmp type'),
    (dict(remote_ip_prefix='10.0.0.0/8', remote_group='web'), 'not both'),
])
def test_invalid_rules_are_refused_and_nothing_is_stored(two, kw, why):
    with pytest.raises(exception.InvalidSecurityGroupRule, match=why) as e:
        rule_add(two, 'web', **kw)
    assert isinstance(e.value, ValueError)          # a 400 at the API
    assert 'Invalid security group input' in str(e.value)
    (web,) = call(two.networks.secgroup_list, two.ctxt)
    assert web.rules == [] and two.compute.casts == []


def test_rules_are_stored_normalized(two):
    web = rule_add(two, 'web', remote_ip_prefix='10.9.8.7/16')
    assert (web.rules[0].port_range_min, web.rules[0].port_range_max,
            web.rules[0].remote_ip_prefix) == (22, 22, '10.9.0.0/16')
    web = rule_add(two, 'web', protocol='icmp', port_range_min=8,
                   remote_ip_prefix='10.1.2.3')
    assert (web.rules[1].port_range_min, web.rules[1].port_range_max,
            web.rules[1].remote_ip_prefix) == (8, None, '10.1.2.3/32')


def test_changes_reach_every_host_concerned(two):
    """Members' hosts, and hosts whose ports' rules name the group as
    remote group, are told at once; others are not."""
    group(two, 'db')
    rule_add(two, 'db', remote_group='web')       # db trusts web's members
    w1 = boot_bound(two, 'w1', host='node1', security_groups=['web'])
    dbvm = boot_bound(two, 'd1', host='node2', security_groups=['db'])
    refreshed(two)
    w2 = boot_bound(two, 'w2', host='node1', security_groups=['web'])
    assert refreshed(two) == {'node2'}            # a new member of web
    rule = rule_add(two, 'web').rules[0]
    assert refreshed(two) == {'node1', 'node2'}
    call(two.networks.secgroup_rule_delete, two.ctxt, rule=rule.uuid)
    assert refreshed(two) == {'node1', 'node2'}
    (web,) = [g for g in call(two.networks.secgroup_list, two.ctxt)
              if g.name == 'web']
    assert web.rules == []
    group(two, 'mgmt')
    call(two.networks.server_secgroup_add, two.ctxt,
         instance_uuid=dbvm.uuid, group='mgmt')
    assert refreshed(two) == {'node2'}
    (port,) = call(two.conductor.ports_get_by_host, two.ctxt, host='node2')
    assert {g.name for g in port.security_groups} == {'db', 'mgmt'}
    call(two.networks.server_secgroup_remove, two.ctxt,
         instance_uuid=w2.uuid, group='web')      # web's members change
    assert refreshed(two) == {'node1', 'node2'}
    call(two.networks.server_secgroup_remove, two.ctxt,
         instance_uuid=w2.uuid, group='web')      # again: nothing to do
    assert refreshed(two) == set()
    with pytest.raises(exception.SecurityGroupNotFound):
        call(two.networks.server_secgroup_remove, two.ctxt,
             instance_uuid=w2.uuid, group=two.web2.uuid)   # p2's
    with pytest.raises(exception.SecurityGroupInUse, match='1 port'):
        call(two.networks.secgroup_delete, two.ctxt, group='web')
    assert [g.name for g in call(two.networks.secgroup_list, two.ctxt)
            if g.name == 'web'] == ['web']
    call(two.conductor.instance_destroy, two.ctxt, instance_uuid=w1.uuid)
    assert refreshed(two) == {'node1', 'node2'}   # web lost a member


def test_group_delete_takes_the_rules_naming_it(two):
    group(two, 'db')
    rule_add(two, 'db', remote_group='web')
    boot_bound(two, 'd1', host='node2', security_groups=['db'])
    refreshed(two)
    call(two.networks.secgroup_delete, two.ctxt, group='web')
    assert refreshed(two) == {'node2'}
    (db,) = call(two.networks.secgroup_list, two.ctxt)
    assert db.name == 'db' and db.rules == []
    assert call(two.networks.secgroup_list, P2)[0].uuid == two.web2.uuid


def test_networks_are_their_projects_unless_shared(two):
    create(two, name='p1only', cidr='10.5.0.0/24', gateway_ip='10.5.0.1')
    assert 'p1only' not in {n.name for n in call(
        two.networks.network_list, P2)}
    for ref in ('p1only', call(two.networks.network_list,
                               two.ctxt)[-1].uuid):
        with pytest.raises(exception.NetworkNotFound):
            boot_bound(two, 'x', P2, networks=[ref])
        with pytest.raises(exception.NetworkNotFound):
            call(two.networks.port_list, P2, network=ref, instance_uuid=None)
        with pytest.raises(exception.NetworkNotFound):
            call(two.networks.network_delete, P2, ref=ref)
    with pytest.raises(exception.AdminRequired):
        call(two.networks.network_set, two.ctxt, ref='p1only', shared=True)
    mine = boot_bound(two, 'mine', networks=['p1only'])
    theirs = boot_bound(two, 'theirs', P2)                 # shared net1
    assert [p.instance_uuid for p in call(
        two.networks.port_list, P2, network=None, instance_uuid=None)] == [
        theirs.uuid]
    assert {p.instance_uuid for p in call(
        two.networks.port_list, ADMIN, network=None,
        instance_uuid=None)} == {mine.uuid, theirs.uuid}
    share(two, 'p1only')
    boot_bound(two, 'now', P2, networks=['p1only'])


def test_port_security_is_an_admins_switch(two):
    plain = boot_bound(two, 'plain')
    grouped = boot_bound(two, 'grouped', security_groups=['web'])
    ports = {p.instance_uuid: p for p in call(
        two.conductor.ports_get_by_host, two.ctxt, host='node1')}
    assert all(p.port_security_enabled for p in ports.values())
    with pytest.raises(exception.AdminRequired):
        call(two.networks.port_update, two.ctxt,
             ref=ports[plain.uuid].uuid, port_security_enabled=False)
    with pytest.raises(exception.PortHasSecurityGroups):
        call(two.networks.port_update, ADMIN,
             ref=ports[grouped.uuid].uuid, port_security_enabled=False)
    refreshed(two)
    port = call(two.networks.port_update, ADMIN, ref=ports[plain.uuid].uuid,
                port_security_enabled=False)
    assert port.port_security_enabled is False
    assert refreshed(two) == {'node1'}
    with pytest.raises(exception.PortSecurityDisabled):
        call(two.networks.server_secgroup_add, two.ctxt,
             instance_uuid=plain.uuid, group='web')


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(kw=hostile.secgroup_rules())
def test_fuzzed_rules_are_refused_or_render(two, kw):
    """Whatever a netadmin sends: a 400 (ValueError: the RPC payload
    check or the rule validator) and nothing stored, or a stored rule
    the agent's renderer accepts."""
    before = len(call(two.networks.secgroup_list, two.ctxt)[0].rules)
    try:
        rule_add(two, 'web', **kw)
    except ValueError:
        after = call(two.networks.secgroup_list, two.ctxt)[0].rules
        assert len(after) == before
        return
    (group,) = call(two.networks.secgroup_list, two.ctxt)
    wire = group.rules[-1]
    port = model.Port(id='11111111-2222-3333-4444-555555555555',
                      network_id='n', mac='02:00:00:00:00:01',
                      ip='10.0.0.3', rules=(model.Rule(
                          direction=wire.direction, protocol=wire.protocol,
                          port_min=wire.port_range_min,
                          port_max=wire.port_range_max,
                          remote_cidr=wire.remote_ip_prefix),))
    assert net_ruleset.build([port]).rejected == {}
