"""Interface attach and detach through hvagent-api (nova's
``os-interface``; real API, conductor, scheduler and a fake-driver agent
on RabbitMQ, the project's network wired on this host): a new port on a
network the project may use is plugged into the server, listed, shown,
and taken out again, its address freed; who may; what is refused
(another project's network or server, an external network, bodies
hvagent does not take, the fixed_ips quota, a port with a floating IP)
records nothing. On real QEMU, the guest's lease on the new NIC:
test_libvirt_networking.py."""
import json

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import NETWORK
from tests.fixtures.netns import skip_unless
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def world(api_cloud):
    skip_unless('nft', 'dnsmasq')
    for world in cloudlib.wired_project(api_cloud, 'iface'):
        world['dev2'] = api_cloud.add_user(world['project']['id'],
                                           'iface-dev2', 'developer')
        other = cloudlib.create_project(api_cloud.admin, 'iface-other')
        world['other'] = api_cloud.add_user(other['id'], 'iface-other',
                                            'developer')
        world['pm'] = api_cloud.add_user(world['project']['id'], 'iface-pm',
                                         'project_manager')
        sec = cloudlib.create_project(api_cloud.admin, 'iface-sec')
        world['itsec'] = api_cloud.add_user(sec['id'], 'iface-itsec',
                                            'itsec')
        world['lan'] = cloudlib.network_id(world['dev'], 'apilan')
        world['public'] = cloudlib.network_id(world['dev'], 'apipublic')
        yield world


def base(sid):
    return '%s/servers/%s/os-interface' % (COMPUTE, sid)


def attach(client, sid, fields):
    return client.call('POST', base(sid),
                       json={'interfaceAttachment': fields})


def ports(client, sid):
    return client.ok('GET', base(sid))['interfaceAttachments']


def settled(client, sid):
    srv = cloudlib.wait_status(client, sid, until=('active',))
    assert srv['OS-EXT-STS:task_state'] is None
    return srv


def console(client, sid):
    return cloudlib.action(client, sid, {'os-getConsoleOutput': {}}).json()[
        'output']


def test_a_port_plugged_in_and_taken_out(world):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'nics', networks=['apilan'])
    settled(dev, sid)
    [first] = ports(dev, sid)
    r = attach(dev, sid, {'net_id': world['lan']})
    assert r.status_code == 200, r.text
    new = r.json()['interfaceAttachment']
    assert new['net_id'] == world['lan'] and new['port_id'] != \
        first['port_id']
    srv = settled(dev, sid)
    shown = {p['port_id']: p for p in ports(dev, sid)}
    assert set(shown) == {first['port_id'], new['port_id']}
    assert shown[new['port_id']]['port_state'] == 'ACTIVE'
    assert dev.ok('GET', '%s/%s' % (base(sid), new['port_id']))[
        'interfaceAttachment']['mac_addr'] == new['mac_addr']
    assert {a['addr'] for a in srv['addresses']['apilan']} == {
        first['fixed_ips'][0]['ip_address'],
        new['fixed_ips'][0]['ip_address']}
    assert 'nic plugged: %s' % new['mac_addr'] in console(dev, sid)
    r = dev.call('DELETE', '%s/%s' % (base(sid), new['port_id']))
    assert r.status_code == 202, r.text
    settled(dev, sid)
    assert [p['port_id'] for p in ports(dev, sid)] == [first['port_id']]
    assert 'nic unplugged: %s' % new['mac_addr'] in console(dev, sid)
    # the port is gone, its address free
    assert dev.call('GET', '%s/ports/%s' % (
        NETWORK, new['port_id'])).status_code == 404
    done = [a['action'] for a in dev.ok(
        'GET', '%s/servers/%s/os-instance-actions' % (COMPUTE, sid))[
        'instanceActions']]
    assert done[:2] == ['detach_interface', 'attach_interface'], done
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def test_who_may_plug_and_take_out(world):
    """The start/stop rule: admin, the project's manager and the
    server's owner; itsec reads the server's ports but changes none."""
    dev = world['dev']
    sid = cloudlib.boot(dev, 'nics-roles', networks=['apilan'])
    settled(dev, sid)
    assert len(world['itsec'].ok('GET', base(sid))[
        'interfaceAttachments']) == 1
    r = attach(world['itsec'], sid, {'net_id': world['lan']})
    assert r.status_code == 403, r.text
    for who in ('admin', 'pm'):
        r = attach(world[who], sid, {'net_id': world['lan']})
        assert r.status_code == 200, (who, r.text)
        port = r.json()['interfaceAttachment']['port_id']
        settled(dev, sid)
        r = world['itsec'].call('DELETE', '%s/%s' % (base(sid), port))
        assert r.status_code == 403, r.text
        assert world[who].call('DELETE', '%s/%s' % (
            base(sid), port)).status_code == 202
        settled(dev, sid)
        assert len(ports(dev, sid)) == 1
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))


def test_what_an_attach_or_detach_refuses_records_nothing(world,
                                                          api_cloud):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'nics-refused', networks=['apilan'])
    settled(dev, sid)
    [first] = ports(dev, sid)
    theirs = cloudlib.boot(world['other'], 'their-nics',
                           networks=['apilan'])
    settled(world['other'], theirs)
    [their_port] = ports(world['other'], theirs)
    private = 'iface-admin-net'
    api_cloud.hvctl('network-create', private, '--type', 'vxlan', '--cidr',
                    '10.78.0.0/24')
    private_id = cloudlib.network_id(api_cloud.admin, private)
    try:
        for client, fields, status in (
                # external (listed to all, a port of no project's)
                (dev, {'net_id': world['public']}, 404),
                (dev, {'net_id': private_id}, 404),     # not the project's
                (dev, {'net_id': '6c8d3a2e-0000-4000-8000-0000000000ff'},
                 404),
                (dev, {'port_id': first['port_id']}, 400),
                (dev, {'net_id': world['lan'], 'fixed_ips': [
                    {'ip_address': '10.0.0.9'}]}, 400),
                (dev, {}, 400),
                (dev, {'net_id': world['lan'], 'tag': 'x'}, 400),
                (world['dev2'], {'net_id': world['lan']}, 403),
                (world['netadmin'], {'net_id': world['lan']}, 403),
                (world['other'], {'net_id': world['lan']}, 404)):
            r = attach(client, sid, fields)
            assert r.status_code == status, (fields, r.status_code, r.text)
            assert 'Traceback' not in r.text
        for client, port, status in (
                (dev, their_port['port_id'], 404),      # another server's
                (dev, '6c8d3a2e-0000-4000-8000-0000000000ff', 404),
                (world['dev2'], first['port_id'], 403),
                (world['other'], first['port_id'], 404)):
            r = client.call('DELETE', '%s/%s' % (base(sid), port))
            assert r.status_code == status, (port, r.status_code, r.text)
        # the fixed_ips quota: one more address is one too many
        api_cloud.admin.ok('PUT', '%s/os-quota-sets/%s' % (
            COMPUTE, world['project']['id']), json={'quota_set': {
                'fixed_ips': len(dev.ok('GET', NETWORK + '/ports')[
                    'ports'])}})
        r = attach(dev, sid, {'net_id': world['lan']})
        assert r.status_code == 403 and 'fixed_ips' in r.text, r.text
        api_cloud.admin.ok('PUT', '%s/os-quota-sets/%s' % (
            COMPUTE, world['project']['id']), json={'quota_set': {
                'fixed_ips': -1}})
        # a port with a floating IP stays until it is disassociated
        fip = world['netadmin'].ok('POST', NETWORK + '/floatingips', json={
            'floatingip': {'floating_network_id': world['public'],
                           'port_id': first['port_id']}})['floatingip']
        r = dev.call('DELETE', '%s/%s' % (base(sid), first['port_id']))
        assert r.status_code == 409 and 'floating IP' in r.text, r.text
        world['netadmin'].ok('DELETE', '%s/floatingips/%s' % (
            NETWORK, fip['id']))
        assert [p['port_id'] for p in ports(dev, sid)] == [first['port_id']]
        assert [a['action'] for a in dev.ok(
            'GET', '%s/servers/%s/os-instance-actions' % (COMPUTE, sid))[
            'instanceActions']] == ['create']
        # nor while the server is busy with something else
        assert cloudlib.action(dev, sid, {'suspend': None}).status_code \
            == 202
        wait_until(lambda: cloudlib.vm_state(cloudlib.server(dev, sid)) ==
                   'suspended', 30, interval=0.1)
        r = attach(dev, sid, {'net_id': world['lan']})
        assert r.status_code == 409, r.text
        assert len(ports(dev, sid)) == 1
    finally:
        for client, server in ((dev, sid), (world['other'], theirs)):
            client.call('DELETE', '%s/servers/%s' % (COMPUTE, server))
        wait_until(lambda: not [
            s for s in api_cloud.admin.ok('GET', COMPUTE + '/servers', params={
                'all_tenants': 'true'})['servers']
            if s['id'] in (sid, theirs)], 60, interval=0.2)
        api_cloud.hvctl('network-delete', private)


def test_hvctl_plugs_and_takes_out(world, api_cloud, tmp_path):
    dev = world['dev']
    sid = cloudlib.boot(dev, 'nics-hvctl', networks=['apilan'])
    settled(dev, sid)
    hvctl = cloudlib.hvctl_api
    hvctl(api_cloud, tmp_path, 'login', '--user', 'ifacedev')
    port = json.loads(hvctl(api_cloud, tmp_path, '--json',
                            'interface-attach', sid, '--network', 'apilan',
                            '--wait').stdout)
    assert port['port_state'] == 'ACTIVE' and port['net_id'] == \
        world['lan'], port
    assert len(ports(dev, sid)) == 2
    out = hvctl(api_cloud, tmp_path, 'interface-detach', sid,
                port['port_id'], '--wait').stdout
    assert 'detached' in out, out
    assert port['port_id'] not in {p['port_id'] for p in ports(dev, sid)}
    refused = hvctl(api_cloud, tmp_path, 'interface-attach', sid,
                    '--network', 'no-such-net', check=False)
    assert refused.returncode == 1 and 'no network(s) named' in \
        refused.stderr, refused.stderr
    dev.ok('DELETE', '%s/servers/%s' % (COMPUTE, sid))
