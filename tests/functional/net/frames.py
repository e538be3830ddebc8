"""Raw Ethernet frames for the anti-spoofing tests, built byte by byte
(no scapy), sent from a guest namespace's eth0 by an AF_PACKET socket and
caught by a sniffer in another guest: what really crosses the bridge.

Every frame carries a unique marker (UDP payload, or the Ethernet padding
of an ARP frame) so the sniffer reports exactly which ones arrived.
"""
import ipaddress
import struct
import sys
import uuid

from tests.fixtures import netns as nh

BROADCAST = 'ff:ff:ff:ff:ff:ff'

SEND = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
for frame in sys.argv[1:]:
    s.send(bytes.fromhex(frame))
"""
SNIFF = """
import select, socket, sys, time
markers = [bytes.fromhex(m) for m in sys.argv[2:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('eth0', 0))
print('ready', flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    if select.select([s], [], [], 0.1)[0]:
        frame = s.recv(65535)
        for m in markers:
            if m in frame:
                print(m.hex(), flush=True)
"""


def marker():
    return uuid.uuid4().bytes


def _mac(text):
    return bytes.fromhex(text.replace(':', ''))


def _ip(text):
    return ipaddress.IPv4Address(text).packed


def _checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def ether(src, dst, ethertype, payload):
    frame = _mac(dst) + _mac(src) + struct.pack('!H', ethertype) + payload
    return frame + b'\0' * max(0, 60 - len(frame))


def udp(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    """An IPv4/UDP frame (UDP checksum 0: none, valid for IPv4)."""
    body = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 1, 0, 64,
                         17, 0, _ip(src_ip), _ip(dst_ip))
    header = header[:10] + struct.pack('!H', _checksum(header)) + header[12:]
    return ether(src_mac, dst_mac, 0x0800, header + body)


def arp_reply(src_mac, sender_mac, sender_ip, target_mac, target_ip, mark):
    """An ARP reply ("sender_ip is at sender_mac"), the marker as
    padding; gratuitous when sent to broadcast with target = sender."""
    body = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 2, _mac(sender_mac),
                       _ip(sender_ip), _mac(target_mac), _ip(target_ip))
    return ether(src_mac, BROADCAST, 0x0806, body + mark)


def dhcp_offer(src_mac, src_ip, offered_ip, mark):
    """A DHCPOFFER (BOOTP reply, udp 67 -> 68, to broadcast)."""
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 2, 1, 6, 0, 0x1234, 0,
                        0x8000, b'\0' * 4, _ip(offered_ip), _ip(src_ip),
                        b'\0' * 4, b'\0' * 16, b'', b'')
    options = (b'\x63\x82\x53\x63' + b'\x35\x01\x02' + b'\x36\x04' +
               _ip(src_ip) + b'\xff')
    return udp(src_mac, BROADCAST, src_ip, '255.255.255.255', 67, 68,
               bootp + options + mark)


def delivered(topo, sender_port, victim_port, frames):
    """Send ``frames`` ({name: (frame bytes, marker)}) from the guest of
    ``sender_port``; the names whose frame reached the guest of
    ``victim_port``."""
    marks = {m.hex(): name for name, (_, m) in frames.items()}
    sniffer = topo.popen(topo.guests[victim_port.id], sys.executable, '-c',
                         SNIFF, '3', *marks)
    assert sniffer.stdout.readline().strip() == 'ready'
    for _ in range(2):      # twice: a first frame may race the sniffer
        nh.nsexec(topo.guests[sender_port.id], sys.executable, '-c', SEND,
                  *(f.hex() for f, _ in frames.values()), check=True)
    out, _ = sniffer.communicate(timeout=30)
    return {marks[line] for line in out.split() if line in marks}
