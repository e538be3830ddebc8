"""Hypothesis strategies for hostile input, shared by the fuzz tests.

``hostile_text()`` mixes what attackers and unlucky users send as names,
metadata and references: XML and shell metacharacters, path traversal,
over-long strings, unicode that breaks things (RTL overrides, NUL, lone
surrogates, emoji, non-characters), newlines and other controls, and plain
random text. ``junk()`` is arbitrary nested JSON-ish data (with values JSON
has no type for: sets, datetimes, decimals, uuids, bytes, NaN, huge
integers),
including wire object primitives with bad names, versions and data.
"""
from hypothesis import strategies as st

XML_META = ['<', '>', '&', '"', "'", ']]>', '<!--', '-->',
            '<?xml version="1.0"?>',
            '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>', '&e;',
            '&amp;', '&#0;', '&#x1;', '</name>', '<name>x</name>',
            '<devices><disk type="file"/></devices>', '" onload="x',
            "' a='b", '<![CDATA[', 'xmlns:h="x"']
SHELL_META = ['$(reboot)', '`id`', ';rm -rf /;', '| cat /etc/shadow', '&&',
              '||', '> /etc/passwd', '\\', '$HOME', '${IFS}', '*', '~root',
              '!!', '-rf', '--help', '-o', "'; DROP TABLE instances; --"]
TRAVERSAL = ['../../etc/passwd', '/etc/shadow', 'file:///etc/shadow',
             'file://localhost/etc/passwd', 'file://evil.example/etc/passwd',
             '/var/cache/hvagent/../../../etc/passwd', '..', '.', '/',
             '//etc//passwd', '%2e%2e%2fetc%2fpasswd', '/proc/self/environ',
             '/dev/sda', 'json:{"file.filename":"/etc/passwd"}',
             'nbd:127.0.0.1:10809', '~/.ssh/id_rsa', 'C:\\Windows\\win.ini',
             '/tmp/../etc/./passwd', 'http://169.254.169.254/latest/']
UNICODE = ['\u202e', '\u200f', '\u200b', '\x00', '\ud800', '\udfff',
           '\ud83d', '\U0001f600', '\U0001f4a9\u200d\U0001f525', '\ufeff',
           '\u2028', '\u2029', '\u0130', '\uffff', '\ufffe', '\u0301' * 5,
           '\u4e2d\u6587', '\u0627\u0644\u0639\u0631\u0628\u064a\u0629',
           '\U0010ffff']
CONTROLS = ['\n', '\r', '\r\n', '\t', '\x0b', '\x0c', '\x1b[31m', '\x7f',
            '\x85', '\x08']
FRAGMENTS = XML_META + SHELL_META + TRAVERSAL + UNICODE + CONTROLS

_fragment = st.sampled_from(FRAGMENTS)


def hostile_text(max_long=4096):
    """One hostile string (may be empty, may be longer than any limit)."""
    return st.one_of(
        st.lists(st.one_of(_fragment, st.text(max_size=8)),
                 min_size=1, max_size=6).map(''.join),
        _fragment,
        st.text(max_size=40),
        st.builds(lambda c, n: c * n,
                  st.sampled_from(['a', '\u00e9', '<', '/']),
                  st.sampled_from([255, 256, 1024, 1025, max_long])),
    )


def junk(max_leaves=12):
    """Nested JSON-ish junk: scalars of every type, lists, mappings, and
    wire object primitives that lie about their name, version or data."""
    scalars = st.one_of(
        st.none(), st.booleans(),
        st.integers(min_value=-2 ** 70, max_value=2 ** 70),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(), st.text(max_size=20),
        # not JSON: the sender's jsonutils turns them into lists/strings
        st.sets(st.integers(), max_size=3), st.datetimes(), st.uuids(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.text(max_size=10).map(str.encode))
    objects = st.fixed_dictionaries({
        'hv_object.name': st.one_of(
            st.sampled_from(['Instance', 'ComputeNode', 'Service', 'Flavor',
                             'BlockDevice', 'RequestSpec', 'HVObject',
                             'Nope']),
            scalars, st.lists(scalars, max_size=2),
            st.dictionaries(st.text(max_size=4), scalars, max_size=2)),
        'hv_object.version': st.one_of(
            st.sampled_from(['1.0', '1.1', '1.99', '2.0', '0.9', '1',
                             '1.0.0', 'x.y', '-1.-1', '']), scalars),
        'hv_object.data': st.one_of(
            st.dictionaries(st.sampled_from(
                ['uuid', 'host', 'name', 'vcpus', 'flavor', 'binary',
                 'memory_mb', 'hv_object.name']), scalars, max_size=5),
            scalars)})
    return st.recursive(
        st.one_of(scalars, objects),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(st.text(max_size=10), hostile_text()),
                            children, max_size=4)),
        max_leaves=max_leaves)


def _nest(depth, leaf):
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {'k': value}
    return value


def deep():
    """Lists and mappings nested 40 to 900 levels deep (JSON parsers and
    recursive code give up somewhere in there)."""
    return st.builds(_nest, st.sampled_from([40, 100, 400, 900]),
                     st.sampled_from([None, 'x',
                                      {'hv_object.name': 'Flavor'}]))


def _prefix():
    addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
    return st.builds(lambda a, n: '%s/%d' % (a, n), addresses,
                     st.integers(-1, 130))


def secgroup_rules():
    """Keyword arguments of a security group rule as a user sends them
    (``secgroup_rule_add`` minus the group): mostly plausible values,
    valid or subtly wrong (min > max, an IPv6 prefix, ports without a
    port protocol, icmp type/code out of range), and hostile text and
    wrong types in every field."""
    port = st.one_of(st.none(), st.integers(0, 65536), st.integers(1, 255),
                     st.sampled_from([22, 80, 443, 65535, 1]),
                     hostile_text(64), st.booleans())
    return st.fixed_dictionaries({
        'direction': st.one_of(st.sampled_from(['ingress', 'egress']),
                               hostile_text(64)),
        'protocol': st.one_of(st.sampled_from([None, 'tcp', 'udp', 'icmp']),
                              st.sampled_from(['TCP', 'sctp', 'ip', '6']),
                              hostile_text(64)),
        'port_range_min': port,
        'port_range_max': port,
        'remote_ip_prefix': st.one_of(
            st.none(), _prefix(), st.ip_addresses(v=4).map(str),
            st.sampled_from(['0.0.0.0/0', '10.0.0.0/8', '::/0',
                             '10.0.0.0/8 accept', '10.0.0.1, 0.0.0.0/0']),
            hostile_text(64)),
    })
