"""Fixed IP reservations in the conductor against real databases (SQLite,
MariaDB, PostgreSQL): reserve a chosen or the first free address, boot on
it, get it back when the instance goes, free it; the checks (whose
network, whose reservation, which address) and the fixed_ips quota and
double booking under concurrency."""
import concurrent.futures
import json

import pytest

from agent import context
from agent import exception
from agent.conductor import fixed_ips
from agent.conductor import floating_ips
from agent.conductor import quota
from tests.fixtures.conductor import Endpoints
from tests.fixtures.conductor import call
from tests.fixtures.conductor import create
from tests.fixtures.conductor import share
from tests.functional.test_floating_ips import _outcome
from tests.functional.test_floating_ips import _quota

pytestmark = pytest.mark.functional


@pytest.fixture
def fixed(nets):
    nets.fixed = fixed_ips.FixedIPManager(nets.engine)
    nets.quota = quota.QuotaManager(nets.engine)
    create(nets, name='lan')     # p1's, shared: other projects use it too
    share(nets, 'lan')
    return nets


def reserve(c, address=None, network='lan', ctxt=None):
    return call(c.fixed.fixed_ip_create, ctxt or c.ctxt, network=network,
                address=address)


def test_reserve_a_chosen_or_the_first_free_address(fixed):
    first = reserve(fixed)
    assert (first.ip_address, first.reserved, first.project_id,
            first.instance_uuid) == ('10.0.0.2', True, 'p1', None)
    chosen = reserve(fixed, '10.0.0.77')
    assert chosen.ip_address == '10.0.0.77'
    vm = fixed.boot(networks=['lan'])
    assert vm.networks == ['lan=10.0.0.3']      # reserved ones are skipped
    with pytest.raises(exception.FixedIPInUse, match='10.0.0.77'):
        reserve(fixed, '10.0.0.77')
    with pytest.raises(exception.FixedIPInUse, match='10.0.0.3'):
        reserve(fixed, '10.0.0.3')              # an instance's port
    for bad, why in (('10.0.0.1', 'gateway'), ('10.0.0.0', 'host address'),
                     ('10.0.0.255', 'host address'),
                     ('192.0.2.5', 'host address'),
                     ('10.0.0.5; rm -rf /', 'not an IP address')):
        with pytest.raises(exception.InvalidNetwork, match=why):
            reserve(fixed, bad)
    with pytest.raises(exception.NetworkNotFound):
        reserve(fixed, network='nowhere')
    assert [p.ip_address for p in call(
        fixed.fixed.fixed_ip_list, fixed.ctxt, project_id='p1')] == [
            '10.0.0.2', '10.0.0.77']
    assert call(fixed.fixed.fixed_ip_list, fixed.ctxt, project_id='p2') == []


def test_not_on_an_external_network(fixed):
    create(fixed, name='public', network_type='flat', cidr='203.0.113.0/24',
           physical_network='public', gateway_ip=None, dns_nameservers=[],
           external=True)
    with pytest.raises(exception.InvalidNetwork, match='external'):
        reserve(fixed, network='public')


def test_boot_on_a_reservation_and_get_it_back(fixed):
    web = call(fixed.networks.secgroup_create, fixed.ctxt, name='web',
               description=None)
    held = reserve(fixed, '10.0.0.50')
    vm = fixed.boot(networks=['lan'], fixed_ips=[held.uuid],
                    security_groups=['web'])
    assert vm.networks == ['lan=10.0.0.50', 'lan=10.0.0.2']   # lent first
    call(fixed.conductor.ports_bind, fixed.ctxt, instance_uuid=vm.uuid,
         host='node1')
    on_host = {p.ip_address: p for p in call(
        fixed.conductor.ports_get_by_host, fixed.ctxt, host='node1')}
    assert set(on_host) == {'10.0.0.50', '10.0.0.2'}
    assert on_host['10.0.0.50'].reserved
    assert [g.uuid for g in on_host['10.0.0.50'].security_groups] == [
        web.uuid]
    # lent: not twice, not freed, not to another project
    with pytest.raises(exception.FixedIPInUse):
        fixed.boot(name='vm2', fixed_ips=[held.uuid])
    with pytest.raises(exception.FixedIPInUse, match='delete it first'):
        call(fixed.fixed.fixed_ip_delete, fixed.ctxt, ref=held.uuid)
    p2 = context.RequestContext(user_id='u2', project_id='p2')
    with pytest.raises(exception.FixedIPNotFound):
        call(fixed.tasks.boot_instance, p2, name='x', flavor='m1.tiny',
             image_ref=None, availability_zone=None, hints={}, metadata={},
             networks=[], fixed_ips=[held.uuid])
    # a floating IP on it goes back to the project with it
    create(fixed, name='public', network_type='flat', cidr='203.0.113.0/24',
           physical_network='public', gateway_ip=None, dns_nameservers=[],
           external=True)
    fips = floating_ips.FloatingIPManager(fixed.engine, fixed.compute)
    fip = call(fips.floating_ip_create, fixed.ctxt, network=None)
    call(fips.floating_ip_associate, fixed.ctxt, ref=fip.uuid,
         instance_uuid=vm.uuid, port=held.uuid)
    call(fixed.conductor.instance_destroy, fixed.ctxt, instance_uuid=vm.uuid)
    back = call(fixed.fixed.fixed_ip_show, fixed.ctxt, ref=held.uuid)
    assert (back.instance_uuid, back.host, back.status, back.ip_address,
            back.security_groups, back.floating_ip) == (
                None, None, 'DOWN', '10.0.0.50', [], None)
    assert back.mac_address == on_host['10.0.0.50'].mac_address
    assert call(fixed.conductor.ports_get_by_host, fixed.ctxt,
                host='node1') == []                 # the other was deleted
    again = fixed.boot(name='vm3', fixed_ips=[held.uuid])
    assert again.networks == ['lan=10.0.0.50']
    call(fixed.conductor.instance_destroy, fixed.ctxt,
         instance_uuid=again.uuid)
    call(fixed.fixed.fixed_ip_delete, fixed.ctxt, ref=held.uuid)
    with pytest.raises(exception.FixedIPNotFound):
        call(fixed.fixed.fixed_ip_show, fixed.ctxt, ref=held.uuid)
    call(fixed.networks.network_delete, fixed.ctxt, ref='lan')  # unused now


def test_an_unknown_or_repeated_reservation_refuses_the_boot(fixed):
    held = reserve(fixed)
    with pytest.raises(exception.FixedIPNotFound):
        fixed.boot(fixed_ips=['0b7c5c9e-58b0-4f55-9d3a-2f4f3e1f9d11'])
    with pytest.raises(exception.FixedIPInUse):
        fixed.boot(fixed_ips=[held.uuid, held.uuid])
    vm_port = fixed.boot(name='plain', networks=['lan'])
    (port,) = call(fixed.networks.port_list, fixed.ctxt, network='lan',
                   instance_uuid=vm_port.uuid)
    with pytest.raises(exception.FixedIPNotFound):      # not a reservation
        fixed.boot(fixed_ips=[port.uuid])
    assert call(fixed.fixed.fixed_ip_show, fixed.ctxt,
                ref=held.uuid).instance_uuid is None    # nothing half-done


def test_quota_counts_reservations_once_and_double_booking_loses(fixed):
    _quota(fixed, 'pr', fixed_ips=4)
    ctxt = context.RequestContext(user_id='u', project_id='pr')
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _outcome(
            lambda: reserve(fixed, ctxt=ctxt)), range(8)))
    assert results.count('ok') == 4 and results.count('quota') == 4, results
    with pytest.raises(exception.QuotaExceeded, match='fixed_ips') as e:
        reserve(fixed, ctxt=ctxt)
    assert 'in use 4' in str(e.value) and 'limit 4' in str(e.value)
    held = call(fixed.fixed.fixed_ip_list, ctxt, project_id='pr')
    assert len({p.ip_address for p in held}) == 4

    def boot(i):
        return call(fixed.tasks.boot_instance, ctxt, name='r%d' % i,
                    flavor='m1.tiny', image_ref=None, availability_zone=None,
                    hints={}, metadata={}, networks=[],
                    fixed_ips=[held[0].uuid])

    def outcome(i):
        try:
            boot(i)
            return 'ok'
        except exception.FixedIPInUse:
            return 'in use'
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(outcome, range(6)))
    assert results.count('ok') == 1, results
    # booting on a reservation takes no more of the quota
    quota = call(fixed.quota.quota_show, ctxt, project_id='pr')
    assert quota['fixed_ips'] == {'limit': 4, 'in_use': 4}


def test_hvctl_fixed_ip_commands(fixed):
    from agent import cli
    conductor = Endpoints(fixed.networks, fixed.tasks, fixed.fixed)
    lines = []

    def hvctl(*argv):
        return cli.run(cli.build_parser().parse_args(argv), conductor,
                       fixed.ctxt, out=lines.append)
    assert hvctl('--json', 'fixed-ip-create', 'lan', '--address',
                 '10.0.0.9') == 0
    held = json.loads(lines[-1])[0]['uuid']
    assert hvctl('fixed-ip-list') == 0
    assert '10.0.0.9' in lines[-1] and 'p1' in lines[-1]
    assert hvctl('boot', 'vm', '--flavor', 'm1.tiny', '--fixed-ip',
                 held) == 0
    assert 'lan=10.0.0.9' in lines[-1]
    assert hvctl('port-list') == 0 and 'p1' in lines[-1]
    (vm,) = call(fixed.tasks.instance_list, fixed.ctxt, host=None,
                 project_id=None)
    call(fixed.conductor.instance_destroy, fixed.ctxt, instance_uuid=vm.uuid)
    assert hvctl('fixed-ip-delete', held) == 0
    assert hvctl('--json', 'fixed-ip-list') == 0 and lines[-1] == '[]'
