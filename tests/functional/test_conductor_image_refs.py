"""The conductor resolves a boot's image, kernel and ramdisk references
inside the caller's scope before it records anything (conductor
transactions on SQLite, MariaDB and PostgreSQL): another project's private
image is "not found" like an unknown id, a public one boots; a URL boots
only under [compute] image_url_allowlist; a host path only on the
operator's own path (not via hvagent-api, a project it never made)."""
import uuid

import pytest
import sqlalchemy as sa

from agent import context
from agent import exception
from agent.db import api_models
from agent.db import models
from tests.fixtures.conductor import Cloud

pytestmark = pytest.mark.functional
PRIVATE = 'a' * 8 + '-0000-0000-0000-' + '0' * 12     # project pa's
PUBLIC = 'b' * 8 + '-0000-0000-0000-' + '0' * 12


@pytest.fixture
def cloud(db_url, conf):
    conf('image_url_allowlist', ['https://images.example.com/pub/'])
    c = Cloud(db_url)
    c.report(vcpus=32, memory_mb=65536)
    with c.engine.begin() as conn:
        conn.execute(sa.insert(models.Project.__table__).values(
            id='papi', name='papi', enabled=True,
            created_at=models.utcnow()))
        for image_id, visibility in ((PRIVATE, 'private'),
                                     (PUBLIC, 'public')):
            conn.execute(sa.insert(api_models.Image.__table__).values(
                id=image_id, name=visibility, project_id='pa',
                user_id='u', status='active', disk_format='qcow2',
                visibility=visibility, size=1, checksum='0' * 64,
                created_at=models.utcnow()))
    yield c
    c.engine.dispose()


def boot(cloud, ctxt, **refs):
    cloud.ctxt = ctxt
    options = {k: refs.pop(k) for k in ('kernel_ref', 'ramdisk_ref')
               if k in refs}
    return cloud.boot(name='r-%s' % uuid.uuid4().hex[:8],
                      flavor='m1.tiny', options=options, **refs)


def instances(cloud):
    with cloud.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count(models.Instance.id)))


def test_refs_are_resolved_in_the_callers_scope(cloud):
    owner = context.RequestContext(user_id='u', project_id='pa',
                                   via_api=True)
    other = context.RequestContext(user_id='v', project_id='pb',
                                   via_api=True)
    assert boot(cloud, owner, image_ref=PRIVATE.upper()).image_ref == \
        PRIVATE
    assert boot(cloud, other, image_ref=PUBLIC).image_ref == PUBLIC
    ok = 'https://images.example.com/pub/x.qcow2'
    assert boot(cloud, other, image_ref=ok).image_ref == ok
    made = instances(cloud)
    for refs, error in (
            ({'image_ref': PRIVATE}, exception.ImageNotFound),
            ({'kernel_ref': PRIVATE}, exception.ImageNotFound),
            ({'image_ref': str(uuid.uuid4())}, exception.ImageNotFound),
            ({'image_ref': 'https://images.example.com/private/x'},
             exception.InvalidRPCPayload),
            ({'ramdisk_ref': 'http://127.0.0.1:9180/metrics'},
             exception.InvalidRPCPayload),
            ({'image_ref': '/var/cache/hvagent/test-image/disk.qcow2'},
             exception.InvalidRPCPayload),
            ({'kernel_ref': 'file:///etc/shadow'},
             exception.InvalidRPCPayload)):
        with pytest.raises(error):
            boot(cloud, other, **refs)
    assert instances(cloud) == made     # nothing recorded


@pytest.mark.parametrize('project,via_api,allowed', [
    ('p-operator', False, True),    # hvctl on the bus, no API project
    ('papi', False, False),         # a project of hvagent-api
    ('p-operator', True, False),    # a REST caller
])
def test_host_paths_only_on_the_operators_path(cloud, project, via_api,
                                               allowed):
    ctxt = context.RequestContext(user_id='op', project_id=project,
                                  via_api=via_api)
    path = '/var/cache/hvagent/test-image/disk.qcow2'
    if allowed:
        assert boot(cloud, ctxt, image_ref=path).image_ref == path
    else:
        with pytest.raises(exception.InvalidRPCPayload, match='refused'):
            boot(cloud, ctxt, image_ref=path)
