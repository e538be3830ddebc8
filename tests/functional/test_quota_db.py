"""Quota checks are atomic on every backend: 20 boots racing for a quota of
10 instances leave exactly 10 (conductor transactions, no HTTP)."""
import concurrent.futures
import uuid

import pytest
import sqlalchemy as sa

from agent import exception
from agent.conductor import quota
from agent.db import api as db
from agent.db import api_models
from agent.db import models
from agent.db import session as db_session

pytestmark = pytest.mark.functional


def _boot(engine, project_id):
    """What LifecycleManager.boot_instance does in its transaction."""
    with db_session.session_scope(engine) as s:
        flavor = db.flavor_get_by_name(s, 'm1.tiny')
        quota.check_boot(s, project_id, flavor)
        db.instance_create(
            s, uuid=str(uuid.uuid4()), name='q', project_id=project_id,
            user_id='u', flavor=flavor, image_ref=None,
            availability_zone=None, hints={}, metadata={})


def test_twenty_boots_against_a_quota_of_ten(db_url):
    engine = db_session.create_engine(db_url)
    with db_session.session_scope(engine) as s:
        s.add(models.Project(id='pq', name='pq', enabled=True))
        s.add(api_models.Quota(project_id='pq', resource='instances',
                               hard_limit=10))
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(
            lambda _: _try(lambda: _boot(engine, 'pq')), range(20)))
    assert results.count('ok') == 10, results
    assert results.count('quota') == 10, results
    with db_session.session_scope(engine) as s:
        assert quota.usage(s, 'pq')['instances'] == 10
        assert s.scalar(sa.select(sa.func.count(models.Instance.id))) == 10
    engine.dispose()


def test_projects_outside_identity_are_unlimited(db_url):
    """The operator's direct-RPC path (hvctl without an endpoint) acts for
    projects hvagent-api never made: no quota applies."""
    engine = db_session.create_engine(db_url)
    for _ in range(3):
        _boot(engine, 'not-an-api-project')
    with db_session.session_scope(engine) as s:
        assert quota.usage(s, 'not-an-api-project')['instances'] == 3
    engine.dispose()


def _try(func):
    try:
        func()
        return 'ok'
    except exception.QuotaExceeded:
        return 'quota'
