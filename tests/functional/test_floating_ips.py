"""Floating IPs in the conductor against real databases (SQLite, MariaDB,
PostgreSQL): external networks, allocation, association with an
instance's port (what the agents read, the casts that tell them), the
project checks, and the floating/fixed IP quotas under concurrency."""
import concurrent.futures

import pytest
import sqlalchemy as sa

from agent import context
from agent import exception
from agent.conductor import floating_ips
from agent.db import api_models
from agent.db import models
from agent.db import net_models as N
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.conductor import create
from tests.fixtures.conductor import share

pytestmark = pytest.mark.functional


@pytest.fixture
def fips(nets):
    nets.fips = floating_ips.FloatingIPManager(nets.engine, nets.compute)
    create(nets, name='lan')
    share(nets, 'lan')          # other projects boot on it too
    create(nets, name='public', network_type='flat', cidr='203.0.113.0/24',
           physical_network='public', gateway_ip='203.0.113.1',
           dns_nameservers=[], external=True,
           allocation_pools=[['203.0.113.10', '203.0.113.12']])
    return nets


def _boot_bound(c, name, ctxt=None):
    ctxt = ctxt or c.ctxt
    inst = call(c.tasks.boot_instance, ctxt, name=name, flavor='m1.tiny',
                image_ref='img', availability_zone=None, hints={},
                metadata={}, networks=['lan'])
    call(c.conductor.ports_bind, ctxt, instance_uuid=inst.uuid, host='node1')
    return inst


def _host_fips(c):
    return {p.instance_uuid: p.floating_ip and p.floating_ip.address
            for p in call(c.conductor.ports_get_by_host, c.ctxt,
                          host='node1')}


def test_external_network_holds_floating_ips_not_ports(fips):
    (public,) = [n for n in call(fips.networks.network_list, fips.ctxt)
                 if n.name == 'public']
    assert public.external
    with pytest.raises(exception.InvalidNetwork, match='external'):
        fips.boot(networks=['public'])
    with pytest.raises(exception.InvalidNetwork, match='not external'):
        call(fips.fips.floating_ip_create, fips.ctxt, network='lan')
    got = [call(fips.fips.floating_ip_create, fips.ctxt, network=None)
           for _ in range(3)]
    assert [f.address for f in got] == ['203.0.113.10', '203.0.113.11',
                                        '203.0.113.12']     # the pool only
    assert all(f.project_id == 'p1' and f.instance_uuid is None for f in got)
    with pytest.raises(exception.NetworkFull):
        call(fips.fips.floating_ip_create, fips.ctxt, network='public')
    call(fips.fips.floating_ip_delete, fips.ctxt, ref='203.0.113.11')
    again = call(fips.fips.floating_ip_create, fips.ctxt, network='public')
    assert again.address == '203.0.113.11'          # freed, handed out again
    assert fips.compute.casts == []                 # nothing associated yet


def test_associate_reaches_the_agent_and_is_checked(fips):
    vm, other = _boot_bound(fips, 'vm'), _boot_bound(fips, 'other')
    fip = call(fips.fips.floating_ip_create, fips.ctxt, network=None)
    fips.compute.casts.clear()
    shown = call(fips.fips.floating_ip_associate, fips.ctxt, ref=fip.uuid,
                 instance_uuid=vm.uuid, port=None)
    assert (shown.instance_uuid, shown.fixed_ip, shown.host) == (
        vm.uuid, '10.0.0.2', 'node1')
    assert fips.compute.casts == [('refresh_networking', 'node1', None, {})]
    assert _host_fips(fips) == {vm.uuid: fip.address, other.uuid: None}
    # one floating IP per port, one port per floating IP
    second = call(fips.fips.floating_ip_create, fips.ctxt, network=None)
    with pytest.raises(exception.PortHasFloatingIP):
        call(fips.fips.floating_ip_associate, fips.ctxt, ref=second.address,
             instance_uuid=vm.uuid, port=None)
    with pytest.raises(exception.FloatingIPInUse, match='disassociate'):
        call(fips.fips.floating_ip_associate, fips.ctxt, ref=fip.address,
             instance_uuid=other.uuid, port=None)
    # another project's instance is not there for this project's address
    stranger = context.RequestContext(user_id='u2', project_id='p2')
    theirs = _boot_bound(fips, 'theirs', stranger)
    with pytest.raises(exception.InstanceNotFound):
        call(fips.fips.floating_ip_associate, fips.ctxt, ref=second.address,
             instance_uuid=theirs.uuid, port=None)
    with pytest.raises(exception.PortNotFound):
        call(fips.fips.floating_ip_associate, fips.ctxt, ref=second.address,
             instance_uuid=other.uuid,
             port='00000000-0000-4000-8000-000000000000')
    fips.compute.casts.clear()
    call(fips.fips.floating_ip_disassociate, fips.ctxt, ref=fip.uuid)
    assert fips.compute.casts == [('refresh_networking', 'node1', None, {})]
    assert _host_fips(fips)[vm.uuid] is None
    with pytest.raises(exception.FloatingIPNotFound):
        call(fips.fips.floating_ip_show, fips.ctxt, ref='198.51.100.1')


def test_deleting_the_instance_keeps_the_address_for_the_project(fips):
    vm = _boot_bound(fips, 'vm')
    fip = call(fips.fips.floating_ip_create, fips.ctxt, network=None)
    call(fips.fips.floating_ip_associate, fips.ctxt, ref=fip.uuid,
         instance_uuid=vm.uuid, port=None)
    call(fips.conductor.instance_destroy, fips.ctxt, instance_uuid=vm.uuid)
    shown = call(fips.fips.floating_ip_show, fips.ctxt, ref=fip.uuid)
    assert shown.project_id == 'p1' and shown.instance_uuid is None
    with fips.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count(N.Port.id))) == 0
    assert [f.uuid for f in call(fips.fips.floating_ip_list, fips.ctxt,
                                 project_id='p1')] == [fip.uuid]
    assert call(fips.fips.floating_ip_list, fips.ctxt, project_id='p2') == []


def _quota(c, project, **limits):
    with c.engine.begin() as conn:
        conn.execute(sa.insert(models.Project.__table__).values(
            id=project, name=project, enabled=True))
        for resource, limit in limits.items():
            conn.execute(sa.insert(api_models.Quota.__table__).values(
                project_id=project, resource=resource, hard_limit=limit))


def _outcome(func):
    try:
        func()
        return 'ok'
    except exception.QuotaExceeded:
        return 'quota'


def test_floating_ip_quota_holds_under_a_race(fips):
    _quota(fips, 'pq', floating_ips=4)
    ctxt = context.RequestContext(user_id='u', project_id='pq')
    create(fips, name='public2', network_type='flat', cidr='198.51.100.0/24',
           physical_network='public', gateway_ip=None, dns_nameservers=[],
           external=True)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: _outcome(lambda: call(
            fips.fips.floating_ip_create, ctxt, network='public2')),
            range(10)))
    assert results.count('ok') == 4 and results.count('quota') == 6, results
    with pytest.raises(exception.QuotaExceeded, match='floating_ips') as e:
        call(fips.fips.floating_ip_create, ctxt, network='public2')
    assert 'limit 4' in str(e.value) and 'in use 4' in str(e.value)
    addresses = [f.address for f in call(fips.fips.floating_ip_list, ctxt,
                                         project_id='pq')]
    assert len(addresses) == len(set(addresses)) == 4


def test_fixed_ip_quota_counts_every_requested_network(fips):
    _quota(fips, 'pf', fixed_ips=3)
    create(fips, name='lan2', cidr='10.9.0.0/24', gateway_ip='10.9.0.1')
    share(fips, 'lan2')
    ctxt = context.RequestContext(user_id='u', project_id='pf')

    def boot(nets_, name='vm'):
        return call(fips.tasks.boot_instance, ctxt, name=name,
                    flavor='m1.tiny', image_ref='img', availability_zone=None,
                    hints={}, metadata={}, networks=nets_)
    boot(['lan', 'lan2'])
    with pytest.raises(exception.QuotaExceeded, match='fixed_ips') as e:
        boot(['lan', 'lan2'])
    assert 'in use 2' in str(e.value) and 'limit 3' in str(e.value)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: _outcome(
            lambda: boot(['lan'], 'r%d' % i)), range(6)))
    assert results.count('ok') == 1, results
    with fips.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.sum(models.Instance.fixed_ips))
                           .where(models.Instance.project_id == 'pf')) == 3


def test_hvctl_floating_ip_commands(fips):
    from agent import cli
    vm = _boot_bound(fips, 'vm')
    conductor = Endpoints(fips.networks, fips.tasks, fips.fips)
    lines = []

    def hvctl(*argv):
        return cli.run(cli.build_parser().parse_args(argv), conductor,
                       fips.ctxt, out=lines.append)
    assert hvctl('floating-ip-create', '--network', 'public') == 0
    assert '203.0.113.10' in lines[-1]
    assert hvctl('floating-ip-associate', '203.0.113.10', vm.uuid) == 0
    assert vm.uuid in lines[-1] and '10.0.0.2' in lines[-1]
    assert hvctl('floating-ip-list') == 0 and 'node1' in lines[-1]
    assert hvctl('floating-ip-disassociate', '203.0.113.10') == 0
    assert vm.uuid not in lines[-1]
    assert hvctl('floating-ip-delete', '203.0.113.10') == 0
    assert hvctl('--json', 'floating-ip-list') == 0 and lines[-1] == '[]'
    assert hvctl('network-list') == 0 and 'yes' in lines[-1]
