"""Bounded input against a real hvagent-api: oversized bodies get 413
before they are read (Content-Length) or once they pass the limit
(chunked), the image upload keeps its own streaming path, and idle
half-open connections neither exhaust the API's descriptors nor its
memory and are closed after [api] request_header_timeout.

The API is started with a soft open-file limit of 1024 (the usual
default) to show it raises it: before, 1,100 idle connections left it
unable to accept the next one."""
import resource
import time

import pytest

from agent.cli import api_backend
from tests.fixtures import api_cloud as cloudlib
from tests.functional import bounded

pytestmark = pytest.mark.functional

LIMIT = 256 * 1024
HEADER_TIMEOUT = 3


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    c = cloudlib.ApiCloud(tmp_path_factory.mktemp('bounded'), extra={
        'api': {'max_request_body_bytes': LIMIT,
                'request_header_timeout': HEADER_TIMEOUT}})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        c.start(services=('hvagent-conductor',))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield c
    finally:
        codes = c.stop()
    assert set(codes.values()) == {0}, codes


def api_pid(cloud):
    return cloud.dep.procs['hvagent-api'].pid


@pytest.mark.parametrize('chunked', [False, True],
                         ids=['content-length', 'chunked'])
def test_oversized_body_refused_unread(cloud, chunked):
    """A 400 MiB body took the API to 1.3 GB."""
    with bounded.PeakRSS(api_pid(cloud)) as rss:
        status, sent = bounded.oversized(cloud.port, 400 << 20, chunked)
    assert status == 413
    assert sent < 64 << 20, sent      # answered long before the end
    assert rss.growth(api_pid(cloud)) < 100 << 20, rss.peak
    # a body under the limit is read and judged as ever
    status, _, answer = bounded.request(
        cloud.port, 'POST', '/v3/auth/tokens',
        api_backend.password_auth('x' * (LIMIT // 2), 'p'))
    assert status == 400 and 'name' in answer['error']['message']
    cloud.admin.ok('GET', '/v3/auth/tokens')


def test_image_upload_is_exempt(cloud):
    """glance's PUT /image/v2/images/{id}/file streams to disk under its
    own cap."""
    data = b'\0' * (LIMIT * 4)
    images = cloudlib.IMAGE + '/images'
    ident = cloud.admin.ok('POST', images, json={'name': 'big'})['id']
    files = '%s/%s/file' % (images, ident)
    cloud.admin.ok('PUT', files, data=data,
                   headers={'Content-Type': 'application/octet-stream'})
    got = cloud.admin.call('GET', files)
    assert got.status_code == 200 and len(got.content) == len(data)
    # the exemption is that route alone
    r = cloud.admin.call('POST', images, data=data,
                         headers={'Content-Type': 'application/json'})
    assert r.status_code == 413, r.text


def test_idle_connections_do_not_exhaust_the_api(cloud):
    pid = api_pid(cloud)
    with bounded.PeakRSS(pid) as rss, \
            bounded.idle_connections(cloud.port, 1100) as idle:
        status, _, _ = bounded.request(
            cloud.port, 'GET', '/v3/auth/tokens', timeout=10,
            headers={'X-Auth-Token': cloud.admin.token})
        assert status == 200
        time.sleep(HEADER_TIMEOUT + 1.5)
        closed = sum(bounded.closed_by_peer(s) for s in idle)
        assert closed == len(idle)
    assert rss.growth(pid) < 100 << 20, rss.peak
    soft, hard = [int(v) for v in next(
        line for line in open('/proc/%d/limits' % pid)
        if line.startswith('Max open files')).split()[3:5]]
    assert soft == hard > 1100 + 64


def test_a_trickled_request_head_is_cut_off(cloud):
    """A byte a second keeps uvicorn's own timers from ever firing; the
    head deadline counts from the start, and again after each answer."""
    with bounded.idle_connections(cloud.port, 2) as (fresh, reused):
        reused.sendall(b'GET %s/flavors HTTP/1.1\r\nHost: x\r\n\r\n'
                       % cloudlib.COMPUTE.encode())
        assert bounded.answer(reused)[0] == 401     # served, kept alive
        start = time.monotonic()
        for sock in (fresh, reused):
            sock.sendall(b'GET %s/flavors HTTP/1.1\r\n'
                         % cloudlib.COMPUTE.encode())
        closed = set()
        while len(closed) < 2 and time.monotonic() - start < 3 * (
                HEADER_TIMEOUT + 1):
            for sock in (fresh, reused):
                if sock in closed:
                    continue
                try:
                    sock.sendall(b'X')
                except OSError:
                    closed.add(sock)
                    continue
                if bounded.closed_by_peer(sock):
                    closed.add(sock)
            time.sleep(0.9)
        took = time.monotonic() - start
    assert len(closed) == 2
    assert HEADER_TIMEOUT - 1 <= took <= HEADER_TIMEOUT + 3, took
