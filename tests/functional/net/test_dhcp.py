"""One dnsmasq per network, for real: guests in namespaces ask for a lease
with busybox udhcpc over a bridge in a "host" namespace."""
import os
import shutil
import tempfile
import uuid

import pytest

from net import dhcp
from net import model
from tests.fixtures import netns as nh
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

def network():
    return model.Network(id=str(uuid.uuid4()), name='flat', type='flat',
                         cidr='10.20.0.0/24', gateway='10.20.0.1',
                         dns=('10.20.0.53', '192.0.2.53'))


def port(net, ip):
    pid = str(uuid.uuid4())
    return model.Port(id=pid, network_id=net.id, ip=ip,
                      mac='02:01:%s' % ':'.join(
                          pid.replace('-', '')[i:i + 2] for i in (0, 2, 4, 6)))


def dnsmasqs(path):
    """pids of live processes whose command line mentions ``path``."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if path.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture
def env(request):
    nh.skip_unless('dnsmasq', 'busybox')
    net = network()
    topo = nh.Topology(net.bridge)
    request.addfinalizer(topo.cleanup)
    # dnsmasq re-reads its files as nobody: the state dir must be searchable
    state = tempfile.mkdtemp(prefix='hvt-dhcp-', dir='/var/tmp')
    os.chmod(state, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(state, ignore_errors=True))
    server = dhcp.DhcpServer(state, netns=topo.host)
    request.addfinalizer(lambda: server.stop(net.id))
    script = nh.udhcpc_script(state)
    return topo, server, net, script


def test_fixed_leases_reload_and_stop(env):
    topo, server, net, script = env
    a, b = port(net, '10.20.0.11'), port(net, '10.20.0.12')
    stranger = port(net, '10.20.0.99')
    for p in (a, b, stranger):
        topo.add_guest(p)
    address = server.update(net, [a, b])
    assert address == '10.20.0.1/24'
    topo.add_address(address)            # what wiring does
    assert server.running(net.id)
    pid = server.pid(net.id)
    with open(os.path.join(server.state_dir, net.id, 'hosts')) as f:
        assert sorted(f.read().splitlines()) == sorted(
            '%s,%s' % (p.mac, p.ip) for p in (a, b))

    assert nh.lease(topo, a, script) == ('10.20.0.11', '10.20.0.1',
                                      ('10.20.0.53', '192.0.2.53'))
    assert nh.lease(topo, b, script)[0] == '10.20.0.12'
    assert topo.ping(topo.guests[a.id], b.ip)
    assert topo.ping(topo.guests[b.id], a.ip)
    assert nh.lease(topo, stranger, script, tries=3) is None   # not in hosts

    server.update(net, [a, b])           # idempotent: still the same one
    assert server.pid(net.id) == pid
    c = port(net, '10.20.0.13')
    topo.add_guest(c)
    server.update(net, [a, b, c])        # reload (SIGHUP), no restart
    assert server.pid(net.id) == pid
    assert nh.lease(topo, c, script)[0] == '10.20.0.13'

    server.stop(net.id)
    assert not server.running(net.id)
    assert not os.path.exists(os.path.join(server.state_dir, net.id))
    assert dnsmasqs(os.path.join(server.state_dir, net.id)) == []
    server.stop(net.id)                  # idempotent


def test_stale_pid_file_and_restart(env):
    topo, server, net, script = env
    a = port(net, '10.20.0.11')
    topo.add_guest(a)
    topo.add_address(dhcp.bridge_address(net))
    assert not server.running(net.id)
    piddir = os.path.join(server.state_dir, net.id)
    os.makedirs(piddir)
    with open(os.path.join(piddir, 'pid'), 'w') as f:
        f.write('%d\n' % os.getpid())    # alive, but not our dnsmasq
    assert not server.running(net.id)
    server.update(net, [a])
    pid = server.pid(net.id)
    assert pid and pid != os.getpid()
    os.kill(pid, 9)                      # dies behind our back
    wait_until(lambda: not server.running(net.id), 5, interval=0.05,
               message='the killed dnsmasq seen gone')
    server.update(net, [a])              # started again
    assert server.running(net.id) and server.pid(net.id) != pid
    assert nh.lease(topo, a, script)[0] == a.ip
    pid = server.pid(net.id)
    wider = model.Network(**{**net.__dict__, 'cidr': '10.20.0.0/16'})
    server.update(wider, [a])            # new command line: restarted
    assert server.running(net.id) and server.pid(net.id) != pid
    assert pid not in dnsmasqs(os.path.join(server.state_dir, net.id))

    server.update(model.Network(**{**net.__dict__, 'dhcp': False}), [a])
    assert not server.running(net.id)
    assert not os.path.exists(piddir)


def test_invalid_input_rejected(env, tmp_path):
    topo, server, net, script = env
    private = tmp_path / 'private'
    private.mkdir(mode=0o700)
    with pytest.raises(dhcp.privileged.NetError, match='not searchable'):
        dhcp.DhcpServer(str(private)).update(net, [port(net, '10.20.0.5')])
    bad_mac = model.Port(id='p', network_id=net.id, mac='02:00:00:00:00:01\n'
                         'dhcp-script=/tmp/x', ip='10.20.0.5')
    outside = port(net, '10.30.0.5')
    on_gateway = port(net, '10.20.0.1')
    for ports in ([bad_mac], [outside], [on_gateway]):
        with pytest.raises(dhcp.privileged.NetError):
            server.update(net, ports)
    with pytest.raises(dhcp.privileged.NetError):
        server.update(model.Network(**{**net.__dict__, 'id': '../x'}), [])
    with pytest.raises(dhcp.privileged.NetError):
        dhcp.bridge_address(model.Network(**{**net.__dict__,
                                             'gateway': None}))
    assert dhcp.bridge_address(net, '10.20.0.2') == '10.20.0.2/24'
    assert not server.running(net.id)
