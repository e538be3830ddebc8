"""Pagination markers are resolved inside the caller's scope: project B
giving the id of project A's server, image, volume or security group as
``marker`` gets the same 400 "marker ... not found" as for an id that
never existed -- same status, same words, one statement of the same
shape (before, the marker was looked up in every project, so B could
test whether an id existed elsewhere, and paged on from A's position)."""
import statistics
import time
import uuid

import pytest

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.api_cloud import NETWORK

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def two(api_cloud):
    projects = {name: api_cloud.admin.ok('POST', '/v3/projects', json={
        'project': {'name': name}})['project']['id'] for name in ('mka', 'mkb')}
    a, b = (api_cloud.add_user(projects[n], n + 'dev', 'developer')
            for n in ('mka', 'mkb'))
    net = api_cloud.add_user(projects['mka'], 'mkanet', 'netadmin')
    srv = cloudlib.boot(a, 'mk')
    cloudlib.wait_status(a, srv)
    # each list's path for a client (Block Storage's is under the
    # project of the client's token)
    paths = {'servers': lambda c: COMPUTE + '/servers/detail',
             'images': lambda c: IMAGE + '/images',
             'volumes': lambda c: cloudlib.volume_base(c) + '/volumes',
             'security-groups': lambda c: NETWORK + '/security-groups'}
    ids = {'servers': srv,
           'images': a.ok('POST', IMAGE + '/images', json={
               'name': 'mk'})['id'],
           'volumes': a.ok('POST', paths['volumes'](a), json={'volume': {
               'name': 'mk', 'size': 1}})['volume']['id'],
           'security-groups': net.ok(
               'POST', NETWORK + '/security-groups', json={
                   'security_group': {'name': 'mk'}})[
               'security_group']['id']}
    yield a, b, ids, paths
    a.ok('DELETE', '%s/servers/%s' % (COMPUTE, srv))
    a.ok('DELETE', '%s/%s' % (paths['volumes'](a), ids['volumes']))


def answer(client, path, marker):
    r = client.call('GET', path, params={'marker': marker})
    return r.status_code, r.json()['error']['message'].replace(marker, 'M')


@pytest.mark.parametrize('kind', ['servers', 'images', 'volumes',
                                  'security-groups'])
def test_a_foreign_marker_is_like_an_unknown_one(two, kind):
    a, b, ids, paths = two
    foreign, unknown = ids[kind], str(uuid.uuid4())
    # A may page on
    assert a.ok('GET', paths[kind](a), params={'marker': foreign})
    path = paths[kind](b)
    assert answer(b, path, foreign) == answer(b, path, unknown) == (
        400, 'marker M not found'), path
    timings = {foreign: [], unknown: []}
    for _ in range(15):
        for marker in timings:
            start = time.perf_counter()
            b.call('GET', path, params={'marker': marker})
            timings[marker].append(time.perf_counter() - start)
    f, u = (statistics.median(timings[m]) for m in (foreign, unknown))
    print('%s: median %.2f ms foreign, %.2f ms unknown' % (
        path, f * 1e3, u * 1e3))
    # the same statement both ways: no gap a tenant could measure
    assert max(f, u) / min(f, u) < 2, (f, u)
