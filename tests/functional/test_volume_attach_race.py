"""A volume has one attachment at most, on every backend: attachments of
one volume to six servers, racing in conductor transactions (threads
released together), leave exactly one block device mapping and one
attach cast; the others are refused with VolumeInUse (409) and leave
their server as it was. Before the unique constraint on
block_device_mappings.volume_id (migration 0012) only the pair (server,
volume) was unique and all six won."""
import concurrent.futures
import threading
import uuid

import pytest
import sqlalchemy as sa

from agent import exception
from agent.db import models
from agent.db import session as db_session
from tests.fixtures.conductor import Cloud
from tests.fixtures.conductor import call
from tests.functional import test_db_migrations

pytestmark = pytest.mark.functional
RACERS = 6


@pytest.fixture
def cloud(db_url):
    c = Cloud(db_url)
    yield c
    c.engine.dispose()


def attach(cloud, server, volume_id):
    return call(cloud.tasks.instance_action, cloud.ctxt, ref=server,
                action='attach_volume', volume_id=volume_id,
                connection_info={'driver_volume_type': 'file',
                                 'path': '/var/lib/hvagent/volumes/v'})


def test_racing_attachments_of_one_volume_have_one_winner(cloud):
    cloud.report(vcpus=32, memory_mb=65536)
    servers = [cloud.boot(name='s%d' % i, flavor='m1.tiny').uuid
               for i in range(RACERS)]
    with db_session.session_scope(cloud.engine) as s:
        s.execute(sa.update(models.Instance).values(vm_state='active',
                                                    task_state=None))
    volume_id = str(uuid.uuid4())
    start = threading.Barrier(RACERS)

    def race(server):
        start.wait()
        try:
            attach(cloud, server, volume_id)
            return 'ok'
        except exception.VolumeInUse as e:
            assert 'one attachment' in str(e)
            return 'in use'

    with concurrent.futures.ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, servers))
    assert sorted(results) == ['in use'] * (RACERS - 1) + ['ok'], results
    with db_session.session_scope(cloud.engine) as s:
        holders = s.scalars(sa.select(
            models.BlockDeviceMapping.instance_uuid).where(
                models.BlockDeviceMapping.volume_id == volume_id)).all()
        busy = s.scalars(sa.select(models.Instance.uuid).where(
            models.Instance.task_state.is_not(None))).all()
    assert len(holders) == 1 and busy == holders
    assert [c[2] for c in cloud.compute.casts
            if c[0] == 'attach_volume'] == holders
    # and afterwards, one by one: neither another server nor the same one
    # (once the winner's attach is done)
    with db_session.session_scope(cloud.engine) as s:
        s.execute(sa.update(models.Instance).values(task_state=None))
    for server in servers:
        with pytest.raises(exception.VolumeInUse):
            attach(cloud, server, volume_id)


def test_upgrade_refuses_volumes_attached_twice(empty_db_url):
    """A database where the hole was used: migration 0012 names what to
    detach rather than dropping an attachment."""
    from agent.db import migration
    # several steps before 0012: on MariaDB, whose DDL cannot be rolled
    # back, the steps done before the failure must stay recorded as done
    migration.upgrade(empty_db_url, revision='0009')
    engine = db_session.create_engine(empty_db_url)
    bdm = sa.table('block_device_mappings', sa.column('instance_uuid'),
                   sa.column('volume_id'), sa.column('status'),
                   sa.column('created_at'))
    try:
        with engine.begin() as conn:
            conn.execute(bdm.insert(), [
                {'instance_uuid': i, 'volume_id': 'v-shared',
                 'status': 'attached', 'created_at': models.utcnow()}
                for i in ('i-1', 'i-2')])
        with pytest.raises(RuntimeError, match='v-shared on i-1, v-shared '
                           'on i-2'):
            migration.upgrade(empty_db_url)
        with engine.begin() as conn:
            conn.execute(bdm.delete().where(bdm.c.instance_uuid == 'i-2'))
        migration.upgrade(empty_db_url)
        assert migration.current(empty_db_url) == \
            test_db_migrations.HEAD
    finally:
        engine.dispose()
