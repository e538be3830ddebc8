"""The rtnetlink message format privileged.py speaks, checked byte by byte
(the functional net tests check it against the kernel)."""
import errno
import struct

import pytest

from net import rtnl_wire as wire


def _msg(kind, seq, body):
    return struct.pack('=IHHII', 16 + len(body), kind, 0, seq, 0) + body


def _newlink(seq, index, flags, *attrs):
    return _msg(wire.NEWLINK, seq, struct.pack('=BxHiII', 0, 1, index,
                                               flags, 0) + b''.join(attrs))


def test_nla_pads_to_four_and_terminates_strings():
    assert wire.nla(wire.IFNAME, 'br0') == struct.pack('=HH', 8, 3) + \
        b'br0\0'
    assert wire.nla(wire.IFNAME, 'tap1') == struct.pack('=HH', 9, 3) + \
        b'tap1\0' + b'\0' * 3
    assert wire.nla(wire.MTU, 1500) == struct.pack('=HHI', 8, 4, 1500)


def test_request_header_and_up_flag():
    msg = wire.request(7, wire.SETLINK, wire.ACK, [wire.nla(3, 'eth0')],
                       up=False)
    size, kind, flags, seq, pid = struct.unpack_from('=IHHII', msg)
    assert (size, kind, flags, seq, pid) == (len(msg), wire.SETLINK,
                                             wire.REQUEST | wire.ACK, 7, 0)
    # ifi_flags 0 with IFF_UP in the change mask: set down
    assert struct.unpack_from('=iII', msg, 20) == (0, 0, 1)
    untouched = wire.request(1, wire.GETLINK, 0, [])
    assert struct.unpack_from('=II', untouched, 24) == (0, 0)


def test_replies_skip_other_sequence_numbers_and_raise_errors():
    stale = _newlink(3, 9, 0, wire.nla(wire.IFNAME, 'old'))
    mine = _newlink(4, 2, 1, wire.nla(wire.IFNAME, 'br0'))
    done = _msg(wire.DONE, 4, b'\0' * 4)
    got = list(wire.replies(stale + mine + done, 4))
    assert [k for k, _, _ in got] == [wire.NEWLINK, wire.DONE]
    _, start, end = got[0]
    assert wire.link(stale + mine, start, end)['name'] == 'br0'
    ack = _msg(wire.ERROR, 4, struct.pack('=i', 0) + b'\0' * 16)
    assert [k for k, _, _ in wire.replies(ack, 4)] == [wire.ERROR]
    nodev = _msg(wire.ERROR, 4, struct.pack('=i', -errno.ENODEV) +
                 b'\0' * 16)
    with pytest.raises(OSError) as exc:
        list(wire.replies(nodev, 4))
    assert exc.value.errno == errno.ENODEV


def test_link_parses_what_link_info_returns():
    info = wire.nla(wire.LINKINFO, wire.nla(1, 'bridge'))
    buf = _newlink(1, 12, 1, wire.nla(wire.IFNAME, 'br-x'),
                   wire.nla(wire.MTU, 9000), wire.nla(wire.MASTER, 4),
                   wire.nla(wire.GROUP, 77), info,
                   wire.nla(wire.ADDRESS, bytes.fromhex('fa163e000001')))
    assert wire.link(buf, 0, len(buf)) == {
        'name': 'br-x', 'index': 12, 'mtu': 9000, 'kind': 'bridge',
        'master': 4, 'up': True, 'group': 77,
        'address': 'fa:16:3e:00:00:01'}
    # parsed no further than asked: MTU is after IFNAME, never reached
    part = wire.link(buf, 0, len(buf), want={wire.IFNAME})
    assert (part['name'], part['mtu'], part['master']) == ('br-x', None,
                                                           None)
