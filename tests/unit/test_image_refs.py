"""Image references a tenant may give: an image id, or an http(s) URL
under the operator's allow-list; nothing else is fetched (fuzzed: hostile
text, URLs aimed at loopback, internal hosts, the metrics port, look-alike
hosts, user information, traversal, encodings, redirects)."""
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import exception
from agent import image_refs
from tests import hostile
from virt.libvirt import download
from virt.libvirt import images

ALLOW = ['https://images.example.com/pub/', 'http://mirror.example:8080']
PARSED = image_refs.parse_allowlist(ALLOW)

HOSTS = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '169.254.169.254',
         '10.0.0.1', 'images.example.com', 'IMAGES.example.com.',
         'images.example.com.evil.net', 'evil.net', 'mirror.example',
         'images.example.com@127.0.0.1', '127.0.0.1#@images.example.com',
         'user:pw@images.example.com', '2130706433', '0x7f.1']
PORTS = ['', ':80', ':443', ':8080', ':9180', ':8774', ':0', ':99999', ':x']
PATHS = ['/', '/pub/x.qcow2', '/pub', '/pubx/a', '/pub/../metrics',
         '/pub/%2e%2e/metrics', '/pub/%2F..%2Fx', '/metrics', '/pub/./a',
         '//pub/a', '/pub/a?b=c#d', '/pub/a\\..\\b']


def urls():
    return st.builds(lambda s, h, p, q: '%s://%s%s%s' % (s, h, p, q),
                     st.sampled_from(['http', 'https', 'HTTP', 'ftp',
                                      'gopher', 'file']),
                     st.sampled_from(HOSTS), st.sampled_from(PORTS),
                     st.one_of(st.sampled_from(PATHS),
                               st.builds(lambda a, b: a + b,
                                         st.sampled_from(PATHS),
                                         hostile.hostile_text(64))))


def refs():
    good = st.sampled_from(['https://images.example.com/pub/a.qcow2',
                            'http://mirror.example:8080/x'])
    return st.one_of(urls(), hostile.hostile_text(), good,
                     st.builds(lambda u, t: u + t, good,
                               hostile.hostile_text(32)),
                     st.sampled_from(hostile.TRAVERSAL),
                     st.builds(lambda u, t: u + t, urls(),
                               hostile.hostile_text(32)))


def expected_allowed(url):
    """An independent reading of the allow-list: urllib's, by hand."""
    import urllib.parse
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port or {'http': 80, 'https': 443}.get(u.scheme)
    except ValueError:
        return False
    if u.username or u.password or '..' in u.path.split('/') or \
            any(c in url for c in '\\\x00\r\n\t '):
        return False
    where = (u.scheme, u.hostname or '', port)
    return (where == ('https', 'images.example.com', 443) and
            u.path.startswith('/pub/')) or \
        where == ('http', 'mirror.example', 8080)


@pytest.mark.parametrize('url,ok', [
    ('https://images.example.com/pub/a.qcow2', True),
    ('https://IMAGES.example.com:443/pub/a', True),
    ('https://images.example.com/pub', False),    # not under 'pub/'
    ('https://images.example.com/pub/', True),
    ('https://images.example.com/pubx', False),
    ('https://images.example.com/pub/../etc', False),
    ('http://images.example.com/pub/a', False),
    ('https://images.example.com:8443/pub/a', False),
    ('https://images.example.com.evil.net/pub/a', False),
    ('https://x@images.example.com/pub/a', False),
    ('http://mirror.example:8080/anything', True),
    ('http://mirror.example/anything', False),
    ('http://127.0.0.1:9180/metrics', False),
    ('http://[::1]:8774/v1/servers', False),
])
def test_allow_list(url, ok):
    assert image_refs.url_allowed(url, PARSED) is ok


@pytest.mark.parametrize('ref,local_ok', [
    ('/etc/shadow', False), ('file:///etc/shadow', False),
    ('http://127.0.0.1/', True), ('ftp://images.example.com/pub/a', True),
    ('', True), ('a/b', True), ('../x', True), ('a:b', True), (None, True)])
def test_refused_refs_are_400s(ref, local_ok):
    with pytest.raises(exception.InvalidRPCPayload, match='refused'):
        image_refs.classify(ref, PARSED, local_ok=local_ok)


def test_ids_and_local_paths():
    i = str(uuid.uuid4())
    assert image_refs.classify(i.upper(), []) == (image_refs.ID, i)
    assert image_refs.classify('/var/img', [], local_ok=True) == (
        image_refs.LOCAL, '/var/img')
    assert image_refs.classify('cirros-0.6', []) == (image_refs.NAME,
                                                     'cirros-0.6')


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(refs())
def test_fuzzed_refs_are_allowed_only_under_the_allow_list(ref):
    try:
        kind, value = image_refs.classify(ref, PARSED)
    except exception.InvalidRPCPayload as e:
        assert exception.text(e)
        return
    if kind == image_refs.NAME:     # a label: no '/', no ':'
        assert image_refs.NAME_RE.match(value) and value == ref
        return
    assert kind == image_refs.URL and expected_allowed(value), ref


def test_fuzzed_refs_reach_no_fetch_unless_allowed(tmp_path, monkeypatch):
    """The agent's cache, given what a conductor might have let through
    (or an old row), opens a URL only under the allow-list, and every
    redirect it would follow is checked the same way."""
    opened = []

    def fake_open(url, read_timeout, grant=None, redirect_ok=None):
        opened.append(url)
        assert grant is None
        for target in ('http://127.0.0.1:9180/metrics', 'http://10.0.0.1/'):
            assert not redirect_ok(target)
        raise download.NetworkError('not in unit tests')
    monkeypatch.setattr(download, 'open_url', fake_open)
    cache = images.ImageCache(str(tmp_path / '_base'), url_allowlist=ALLOW,
                              local_dirs=[], api_url='http://api.example:1')
    outcomes = set()

    @settings(max_examples=800, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(refs())
    def case(ref):
        del opened[:]
        with pytest.raises((exception.ImageUnacceptable,
                            exception.ImageNotFound,
                            exception.ImageDownloadFailed)) as exc:
            cache.fetch(ref, grant='tok')
        outcomes.add(type(exc.value).__name__)
        assert all(expected_allowed(u) for u in opened), (ref, opened)
    case()
    assert outcomes >= {'ImageUnacceptable', 'ImageDownloadFailed'}


@pytest.mark.parametrize('ref', ['http://[', 'http://[::1', '[:a', '//[x'])
def test_an_unparsable_url_is_refused_not_a_crash(ref):
    """urlsplit raises ValueError on an unclosed IPv6 bracket (found by
    the fuzz test above): a clear refusal, not a traceback."""
    with pytest.raises(exception.InvalidRPCPayload):
        image_refs.classify(ref, PARSED)


def test_a_prefix_without_its_slash_names_one_file():
    """An entry without a trailing '/' allows that very path (one image)
    and what lies below it as a directory; with the '/', only below."""
    one = image_refs.parse_allowlist(['https://h.example/img/a.qcow2'])
    assert image_refs.url_allowed('https://h.example/img/a.qcow2', one)
    assert not image_refs.url_allowed('https://h.example/img/a.qcow2x', one)
    assert not image_refs.url_allowed('https://h.example/img/b.qcow2', one)
