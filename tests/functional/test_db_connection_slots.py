"""A database server with no connection slot left (its max_connections
taken by other processes; here an account limited to two connections)
refuses new connections. A conductor's new connection waits for a free
slot up to ``[database] connect_wait`` instead of failing the request at
once with the driver's raw error; past the wait the request fails with
DatabaseBusy, a readable 503-class error. On MariaDB and PostgreSQL."""
import contextlib
import logging
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from agent import exception
from agent.daemon import service
from agent.db import migration
from agent.db import session as db_session
from tests.fixtures import databases

LIMIT = 2


@pytest.fixture(params=['mysql', 'postgresql'])
def limited_url(request, tmp_path):
    """A database and an account that may hold LIMIT connections."""
    url, drop = databases.provision(request.param, tmp_path)
    url = sa.engine.make_url(url)
    user = 'hvtest_slots_%s' % uuid.uuid4().hex[:8]
    admin = databases._admin_engine(
        databases.MYSQL_URL if request.param == 'mysql'
        else databases.POSTGRESQL_URL)
    with admin.connect() as conn:
        if request.param == 'mysql':
            conn.execute(sa.text(
                "CREATE USER '%s'@'%%' IDENTIFIED BY 'slots-pw' WITH "
                "MAX_USER_CONNECTIONS %d" % (user, LIMIT)))
            conn.execute(sa.text("GRANT ALL ON %s.* TO '%s'@'%%'"
                                 % (url.database, user)))
        else:
            conn.execute(sa.text(
                "CREATE ROLE %s LOGIN PASSWORD 'slots-pw' CONNECTION LIMIT "
                "%d" % (user, LIMIT)))
    yield url.set(username=user, password='slots-pw').render_as_string(
        hide_password=False)
    db_session.dispose_all()
    with admin.connect() as conn:
        if request.param == 'mysql':
            conn.execute(sa.text("DROP USER '%s'@'%%'" % user))
        else:
            conn.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE usename = :u'), {'u': user})
    drop()
    if request.param == 'postgresql':
        with admin.connect() as conn:
            conn.execute(sa.text('DROP ROLE %s' % user))
    admin.dispose()


@contextlib.contextmanager
def slots_taken(url):
    """(our engine, the LIMIT connections "other processes" hold: close
    one to free its slot); all closed and disposed at the end."""
    engine = db_session.create_engine(url)
    other = sa.create_engine(url, poolclass=sa.pool.NullPool)
    held = [other.connect() for _ in range(LIMIT)]
    try:
        yield engine, held
    finally:
        for conn in held:
            conn.close()
        engine.dispose()
        other.dispose()


def test_a_new_connection_waits_for_a_free_slot(limited_url, conf, caplog):
    conf('connect_wait', 20.0, group='database')
    got = {}
    with slots_taken(limited_url) as (engine, held), \
            caplog.at_level(logging.WARNING, logger='agent.db.session'):
        def connect():
            t0 = time.monotonic()
            with engine.connect() as conn:
                got['value'] = conn.execute(sa.text('SELECT 1')).scalar()
            got['after'] = time.monotonic() - t0
        thread = threading.Thread(target=connect)
        thread.start()
        time.sleep(1.5)
        assert thread.is_alive() and not got    # still waiting
        held.pop().close()                      # another process is done
        thread.join(20)
    assert got['value'] == 1 and got['after'] >= 1.4, got
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert 'no free connection' in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_past_connect_wait_the_request_fails_clearly(limited_url, conf):
    conf('connect_wait', 1.0, group='database')
    t0 = time.monotonic()
    with slots_taken(limited_url) as (engine, _held):
        with pytest.raises(exception.DatabaseBusy) as raised:
            with engine.connect():
                pass
    assert 1.0 <= time.monotonic() - t0 < 5
    text = str(raised.value)
    assert 'no free connection' in text and 'after waiting 1.0 s' in text
    assert 'connection' in text.lower() and 'Traceback' not in text
    # what may reach a tenant names neither the server nor the account
    url = sa.engine.make_url(limited_url)
    assert url.host not in text and url.username not in text, text
    # the slot is free again: the next request goes through at once
    engine = db_session.create_engine(limited_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT 1')).scalar() == 1
    engine.dispose()


def test_a_process_never_holds_more_than_its_pool(limited_url, conf):
    """max_overflow 0 (the default): a transaction beyond pool_size waits
    for one of the pool's connections, then fails as DatabaseBusy; the
    server never sees more than pool_size connections from the process."""
    conf('pool_size', 1, group='database')
    conf('connect_wait', 0.5, group='database')
    engine = db_session.create_engine(limited_url)
    try:
        with engine.connect() as first:
            first.execute(sa.text('SELECT 1'))
            with pytest.raises(exception.DatabaseBusy,
                               match='all 1 connections of this process'):
                with engine.connect():
                    pass
        with engine.connect() as again:     # given back: available again
            assert again.execute(sa.text('SELECT 1')).scalar() == 1
    finally:
        engine.dispose()


def test_a_service_starting_waits_for_a_slot(limited_url, conf):
    """At start the conductor waits for its database on NOT_YET: a server
    with no slot free is waited for (not a refusal to start, exit 78)."""
    conf('connect_wait', 0.2, group='database')
    t0 = time.monotonic()
    with slots_taken(limited_url) as (engine, held):
        threading.Timer(1.5, held.pop().close).start()
        service.wait_for('hvagent-conductor', 'the database',
                         lambda: migration.reachable(engine),
                         db_session.NOT_YET, timeout=30)
    assert 1.4 <= time.monotonic() - t0 < 15
