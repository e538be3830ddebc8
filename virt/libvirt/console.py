"""The guests' interactive consoles on this host: which TCP port a new
guest's serial server takes, and where the console proxy reaches a
running guest's serial or VNC server.

The serial port is a raw TCP server of QEMU (``<serial type='tcp'>``,
server mode, one client at a time) on ``[console] listen``, with its output
still appended to the console log. libvirt has no automatic port for it,
so a free one is drawn at random from ``[console] serial_port_range``: not
in any domain of this host and bindable now. VNC uses libvirt's automatic
port (also on the destination of a migration).
"""
import random
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from agent import exception
from virt import driver
from virt.libvirt import config


def parse_range(text: str) -> tuple[int, int]:
    """(first, last) of a 'first:last' port range; ValueError if empty or
    outside 1..65535."""
    first, _, last = text.partition(':')
    lo, hi = int(first), int(last)
    if not 1 <= lo <= hi <= 65535:
        raise ValueError('not a port range first:last within 1..65535: %r'
                         % text)
    return lo, hi


def ports_in_use(domain_xmls: Iterable[str]) -> set[int]:
    """The TCP ports the serial servers of these domains name."""
    ports = set()
    for text in domain_xmls:
        for el in ET.fromstring(text).iterfind('devices/serial'):
            dev = config.Serial.from_element(el)
            if dev.type == 'tcp' and dev.service is not None:
                ports.add(dev.service)
    return ports


def _bindable(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def pick_serial_port(address: str, port_range: tuple[int, int],
                     taken: set[int], rng: random.Random | None = None,
                     tries: int = 64) -> int:
    """A port of ``port_range`` not ``taken`` that ``address`` can bind
    now, drawn at random (two hosts seldom pick the same, which matters
    when a guest migrates with its port); VirtDriverError when none."""
    rng = rng or random.SystemRandom()
    lo, hi = port_range
    free = hi - lo + 1 - len(taken & set(range(lo, hi + 1)))
    for _ in range(min(tries, max(free, 0))):
        port = rng.randint(lo, hi)
        if port not in taken and _bindable(address, port):
            return port
        taken = taken | {port}
    raise exception.VirtDriverError(
        reason='no free port for a serial console in [console] '
        'serial_port_range %d:%d on %s' % (lo, hi, address))


def endpoint(domain: config.Domain, protocol: str,
             proxyclient_address: str | None) -> driver.ConsoleEndpoint:
    """Where the proxy reaches the ``protocol`` console of a running
    guest described by ``domain`` (its live XML)."""
    uuid = domain.uuid
    if protocol == 'serial':
        dev = domain.serial_server
        if dev is None or dev.service is None:
            raise exception.ConsoleTypeUnavailable(
                instance=uuid, protocol=protocol, reason='its serial port is '
                'not a console server (serial consoles are off on its host, '
                'or it was defined before they were on; a hard reboot does '
                'not change that, a new server does)')
        return driver.ConsoleEndpoint(
            protocol, proxyclient_address or dev.host or '127.0.0.1',
            dev.service)
    if protocol == 'vnc':
        vnc = domain.vnc
        if vnc is None:
            raise exception.ConsoleTypeUnavailable(
                instance=uuid, protocol=protocol,
                reason='it has no graphical display (VNC is off on its host)')
        if vnc.port is None or vnc.port <= 0:
            raise exception.ConsoleTypeUnavailable(
                instance=uuid, protocol=protocol,
                reason='it is not running')
        return driver.ConsoleEndpoint(
            protocol, proxyclient_address or vnc.listen or '127.0.0.1',
            vnc.port)
    raise exception.ConsoleTypeUnavailable(
        instance=uuid, protocol=protocol, reason='unknown console protocol')
