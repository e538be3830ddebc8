"""The message bus over TLS: a private RabbitMQ node (private_broker) with a
TLS listener that verifies client certificates; conductor, scheduler and
compute agent (fake driver) boot an instance through it with
[oslo_messaging_rabbit] ssl, ssl_ca_file, ssl_cert_file and ssl_key_file,
and the node's own connection list shows every connection is TLS. A
client trusting the wrong CA is refused in bounded time, saying why."""
import os
import subprocess
import time

import pytest
from oslo_config import cfg

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states
from tests.fixtures import deployment
from tests.fixtures.private_broker import PrivateBroker
from tests.fixtures.private_broker import TLSListener

pytestmark = pytest.mark.functional
GROUP = 'oslo_messaging_rabbit'


def rabbit_tls(pki, ca_file=None):
    return {'ssl': True, 'ssl_ca_file': ca_file or pki.ca.path,
            'ssl_cert_file': pki.client.cert,
            'ssl_key_file': pki.client.key}


@pytest.fixture(scope='module')
def tls_broker(tls_pki):
    broker = PrivateBroker(tls=TLSListener(
        tls_pki.ca.path, tls_pki.server.cert, tls_pki.server.key,
        verify_peer=True))
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture
def tls_client_conf(tls_pki):
    """This process's RPC clients use TLS with the test CA."""
    options = rabbit_tls(tls_pki)
    for name, value in options.items():
        cfg.CONF.set_override(name, value, group=GROUP)
    yield
    for name in options:
        cfg.CONF.clear_override(name, group=GROUP)


def test_a_boot_over_the_tls_listener(tmp_path, tls_broker, tls_pki,
                                      tls_client_conf, rpc_client_transport):
    dep = deployment.Deployment(
        tmp_path, tls_broker.tls_url,
        'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        extra={GROUP: rabbit_tls(tls_pki)})
    try:
        dep.start()
        rpc_client_transport(tls_broker.tls_url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.ready()
        inst = dep.conductor.boot_instance(
            dep.ctxt, name='tls-1', flavor='m1.small', image_ref='cirros',
            availability_zone=None, hints={}, metadata={}, networks=[])
        inst = deployment.settle(dep, inst.uuid)
        assert (inst.vm_state, inst.power_state) == (states.ACTIVE,
                                                     states.RUNNING)
        conns = tls_broker.connections()
        # three services and this process, each with at least one
        assert len(conns) >= 4, conns
        assert all(tls for _, tls, _ in conns), conns
        assert {proto for _, _, proto in conns} <= {'tlsv1.2', 'tlsv1.3'}
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


#: case: ([oslo_messaging_rabbit] options of the client, what it says)
REFUSED = {
    'wrong-ca': (lambda pki: rabbit_tls(pki, pki.wrong_ca.path),
                 'TLS certificate verification failed'),
    'no-client-cert': (lambda pki: {'ssl': True,
                                    'ssl_ca_file': pki.ca.path},
                       'TLS handshake failed'),
    'plain-port': (lambda pki: rabbit_tls(pki), 'TLS handshake failed'),
}


@pytest.mark.parametrize('case', sorted(REFUSED))
def test_a_client_the_tls_listener_refuses_stops_in_one_line(
        tmp_path, tls_broker, tls_pki, case):
    options, why = REFUSED[case]
    url = tls_broker.url if case == 'plain-port' else tls_broker.tls_url
    conf = deployment.write_config(
        tmp_path / 'client.conf',
        DEFAULT={'transport_url': url},
        bus={'secret_file': cfg.CONF.bus.secret_file},
        **{GROUP: options(tls_pki)})
    for argv, status in (
            (['hvctl', '--transport-url', url, 'host-list'], 1),
            (['hvagent-scheduler'], 78)):
        t0 = time.monotonic()
        proc = subprocess.run(
            [os.path.join(deployment.BIN, argv[0]), *argv[1:],
             '--config-file', str(conf)],
            capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        out = proc.stdout + proc.stderr
        assert proc.returncode == status, (argv, out)
        assert took < 30, (argv, took)
        assert 'Traceback' not in out, out
        [line] = [ln for ln in out.splitlines()
                  if 'refused TLS' in ln]
        assert why in line and '127.0.0.1:%d' % (
            tls_broker.port if case == 'plain-port'
            else tls_broker.tls_port) in line, line
