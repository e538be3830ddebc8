"""The console's pure parts: the guest's console devices in domain XML,
the serial port choice, where the proxy connects, what the conductor
takes from an agent, and the proxy's HTTP rules (Origin, token, files)."""
import random
import socket

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from agent import exception
from agent.conductor import consoles
from agent.console import pages
from virt import fake_console
from virt.driver import GuestSpec
from virt.libvirt import config
from virt.libvirt import console
from virt.libvirt import designer

UUID = '6f2c3a4e-2b1d-4c5e-9f00-0123456789ab'


def domain(**consoles):
    """The test guest's Domain with ``consoles`` (designer.domain_for's
    serial_server, vnc_listen); its console log is /i/console.log."""
    spec = GuestSpec(uuid=UUID, name='vm', memory_mb=64, vcpus=1,
                     root_gb=1, image_ref=None, networks=[])
    return designer.domain_for(spec, virt_type='qemu', disk_path='/d',
                               console_log_path='/i/console.log',
                               **consoles)


def test_a_console_guest_has_a_tcp_serial_with_its_log_and_vnc():
    dom = domain(serial_server=('127.0.0.1', 10042), vnc_listen='127.0.0.1')
    xml = dom.to_xml()
    back = config.Domain.from_xml(xml)
    serial = back.serial_server
    assert (serial.type, serial.host, serial.service, serial.log_path) == (
        'tcp', '127.0.0.1', 10042, '/i/console.log')
    assert "<protocol type=\"raw\" />" in xml or '<protocol type="raw"/>' \
        in xml
    assert back.vnc == config.Graphics(listen='127.0.0.1')
    assert back.console_log_path == '/i/console.log'


def test_without_consoles_the_serial_port_is_a_pty():
    dom = domain()
    back = config.Domain.from_xml(dom.to_xml())
    assert back.serial_server is None and back.vnc is None
    assert back.console_log_path == '/i/console.log'


def test_a_hostile_listen_address_cannot_inject_xml():
    dom = domain(serial_server=('"/><evil/>', 1), vnc_listen='<x>')
    xml = dom.to_xml()
    assert '<evil' not in xml and '<x>' not in xml


def test_port_range():
    assert console.parse_range('10000:20000') == (10000, 20000)
    for bad in ('0:5', '5:4', '1:70000', 'a:b', '10'):
        with pytest.raises(ValueError):
            console.parse_range(bad)


def test_ports_in_use_and_the_pick():
    xmls = [domain(serial_server=('127.0.0.1', p)).to_xml()
            for p in (20001, 20003)]
    taken = console.ports_in_use(xmls)
    assert taken == {20001, 20003}
    port = console.pick_serial_port('127.0.0.1', (20001, 20004), taken,
                                    random.Random(1))
    assert port in (20002, 20004)


def test_a_bound_port_is_not_picked_and_a_full_range_is_an_error():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(exception.VirtDriverError, match='no free port'):
            console.pick_serial_port('127.0.0.1', (busy, busy), set())
    with pytest.raises(exception.VirtDriverError):
        console.pick_serial_port('127.0.0.1', (20001, 20002),
                                 {20001, 20002})


def _live(serial_port=None, vnc_port=None):
    devices = []
    if serial_port:
        devices.append(config.Serial(type='tcp', host='127.0.0.1',
                                     service=serial_port))
    if vnc_port is not None:
        devices.append(config.Graphics(listen='127.0.0.1', port=vnc_port))
    return config.Domain(name='n', uuid=UUID, type='qemu', memory_kib=1,
                         vcpus=1, devices=devices)


def test_endpoints_of_a_running_guest():
    dom = _live(10001, 5901)
    assert console.endpoint(dom, 'serial', None).port == 10001
    assert console.endpoint(dom, 'vnc', '10.0.0.5') == \
        console.driver.ConsoleEndpoint('vnc', '10.0.0.5', 5901)
    with pytest.raises(exception.ConsoleTypeUnavailable, match='not running'):
        console.endpoint(_live(vnc_port=-1), 'vnc', None)
    with pytest.raises(exception.ConsoleTypeUnavailable,
                       match='not a console server'):
        console.endpoint(_live(), 'serial', None)
    with pytest.raises(exception.ConsoleTypeUnavailable,
                       match='no graphical display'):
        console.endpoint(_live(), 'vnc', None)


@pytest.mark.parametrize('answer', [
    None, {}, {'host': 'compute-1', 'port': 10000},
    {'host': '127.0.0.1', 'port': '10000'}, {'host': '127.0.0.1', 'port': 0},
    {'host': '127.0.0.1', 'port': 70000}, {'host': '127.0.0.1', 'port': True},
    {'host': ['127.0.0.1'], 'port': 1}, {'host': '127.0.0.1/8', 'port': 1}])
def test_the_conductor_takes_only_an_address_and_a_port(answer):
    with pytest.raises(exception.InvalidRPCPayload):
        consoles.checked_endpoint(answer)


def test_an_agents_good_answer():
    assert consoles.checked_endpoint({'host': '::1', 'port': 5900}) == (
        '::1', 5900)
    assert len(consoles.token_hash('x')) == 64


def _request(**headers):
    return Request('/?token=abc', Headers(list(headers.items())))


def test_origin_rule():
    allowed = ('https://portal.example',)
    assert pages.origin_allowed(_request(Host='p:6083'), False, allowed)
    assert pages.origin_allowed(_request(Host='p:6083',
                                         Origin='http://p:6083'), False, ())
    assert pages.origin_allowed(_request(Host='p:6083',
                                         Origin='https://p:6083'), True, ())
    assert pages.origin_allowed(_request(
        Host='p:6083', Origin='https://portal.example'), False, allowed)
    for origin in ('https://p:6083', 'http://evil.example', 'null',
                   'http://p:6083.evil.example', ''):
        assert not pages.origin_allowed(
            _request(Host='p:6083', Origin=origin), False, allowed), origin


def test_token_of():
    assert pages.token_of('/?token=abc&x=1') == 'abc'
    assert pages.token_of('/websockify?token=a%2Bb') == 'a+b'
    assert pages.token_of('/') is None


def test_files_served_and_refused(tmp_path):
    (tmp_path / 'serial.html').write_text('<html>')
    (tmp_path / 'app.js').write_text('x')
    (tmp_path.parent / 'secret').write_text('no')
    ok = pages.static_file('/serial.html?token=t', str(tmp_path))
    assert ok.status_code == 200 and ok.body == b'<html>'
    assert ok.headers['Content-Type'].startswith('text/html')
    assert pages.static_file('/static/app.js', str(tmp_path)).headers[
        'Content-Type'].startswith('text/javascript')
    for path in ('/static/../secret', '/static/%2e%2e/secret', '/secret',
                 '/static/', '/static/nope.js', '/vnc.html'):
        assert pages.static_file(path, str(tmp_path)).status_code == 404, \
            path


def test_the_fake_shell():
    assert fake_console.answer(b'echo hi there') == b'hi there\r\n'
    assert fake_console.answer(b'ls') == b''
