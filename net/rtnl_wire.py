"""The rtnetlink link messages net/privileged.py sends and reads, as bytes:
packing requests and attributes, unpacking replies. Pure functions, no
sockets and no privilege (privileged.py does the sending), so the format
can be unit-tested on its own. Numbers from linux/netlink.h, rtnetlink.h
and if_link.h."""
import os
import struct
from collections.abc import Collection, Iterable, Iterator
from typing import Any

NEWLINK, DELLINK, GETLINK, SETLINK = 16, 17, 18, 19
ERROR, DONE = 2, 3
REQUEST, ACK, DUMP = 0x1, 0x4, 0x300
# IFLA_* attribute types
ADDRESS, IFNAME, MTU, MASTER, LINKINFO, GROUP, NS_FD, EXT_MASK = (
    1, 3, 4, 10, 18, 27, 28, 29)
_HEADER = '=IHHII'      # nlmsghdr: length, type, flags, seq, pid
_IFINFO = '=BxHiII'     # ifinfomsg: family, type, index, flags, change


def nla(kind: int, data: str | int | bytes) -> bytes:
    """One attribute: ``data`` a str (NUL-terminated), an int (u32) or
    bytes, padded to 4."""
    raw = data.encode() + b'\0' if isinstance(data, str) else (
        struct.pack('=I', data) if isinstance(data, int) else data)
    return struct.pack('=HH', 4 + len(raw), kind) + raw + bytes(-len(raw)
                                                                % 4)


NO_STATS = nla(EXT_MASK, 8)     # RTEXT_FILTER_SKIP_STATS


def request(seq: int, msg_type: int, flags: int, attrs: Iterable[bytes],
            up: bool | None = None) -> bytes:
    """A link request; ``up`` True/False sets IFF_UP, None leaves it."""
    body = struct.pack(_IFINFO, 0, 0, 0, bool(up),
                       up is not None) + b''.join(attrs)
    return struct.pack(_HEADER, 16 + len(body), msg_type, REQUEST | flags,
                       seq, 0) + body


def replies(buf: bytes, seq: int) -> Iterator[tuple[int, int, int]]:
    """(type, start, end) of each message of ``buf`` answering ``seq``
    (others are left over from an aborted call); an error reply raises
    OSError with the kernel's errno."""
    off = 0
    while off + 16 <= len(buf):
        size, kind, _, got, _ = struct.unpack_from(_HEADER, buf, off)
        start, off = off, off + max(16, (size + 3) & ~3)
        if got != seq:
            continue
        if kind == ERROR:
            code = -struct.unpack_from('=i', buf, start + 16)[0]
            if code:
                raise OSError(code, os.strerror(code))
        yield kind, start, start + size


def attrs(buf: bytes, off: int, end: int,
          want: Collection[int] | None = None) -> dict[int, bytes]:
    """{type: payload} of the attributes in buf[off:end], up to the last
    one of ``want``: a dump is parsed no further than it needs."""
    out: dict[int, bytes] = {}
    while off + 4 <= end and (want is None or len(out) < len(want)):
        size, kind = struct.unpack_from('=HH', buf, off)
        if want is None or kind & 0x3fff in want:
            out[kind & 0x3fff] = buf[off + 4:off + size]
        off += max(4, (size + 3) & ~3)
    return out


def link(buf: bytes, off: int, end: int,
         want: Collection[int] | None = None) -> dict[str, Any]:
    """The link of an RTM_NEWLINK message as a dict (see
    privileged.link_info), parsed up to the ``want`` attributes."""
    def text(raw: bytes | None) -> str | None:
        return raw.split(b'\0', 1)[0].decode() if raw else None
    index, flags = struct.unpack_from('=iI', buf, off + 20)
    a = attrs(buf, off + 32, end, want)
    mtu, master, group = (struct.unpack('=I', a[k])[0] if k in a else None
                          for k in (MTU, MASTER, GROUP))
    info = a.get(LINKINFO, b'')
    return {'name': text(a.get(IFNAME)), 'index': index, 'mtu': mtu,
            'kind': text(attrs(info, 0, len(info)).get(1)),
            'master': master or None, 'up': bool(flags & 1),
            'group': group or 0,
            'address': ':'.join('%02x' % b for b in a.get(ADDRESS, b''))}
