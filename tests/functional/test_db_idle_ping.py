"""Connections the database server closed are not handed out: a pooled
connection idle for longer than session._PingWhenIdle.IDLE is pinged at
checkout and replaced if the server closed it; one back from use moments
ago is handed out without the round trip. On MariaDB and PostgreSQL, the
server closing the connection for real (KILL, pg_terminate_backend)."""
import time

import pytest
import sqlalchemy as sa

from agent.db import session as db_session
from tests.fixtures import databases

IDLE = 0.2
OWN_ID = {'mysql': 'SELECT CONNECTION_ID()',
          'postgresql': 'SELECT pg_backend_pid()'}
CLOSE = {'mysql': 'KILL %d', 'postgresql': 'SELECT pg_terminate_backend(%d)'}


@pytest.mark.parametrize('backend', ['mysql', 'postgresql'])
def test_a_connection_closed_while_idle_is_replaced_unseen(
        backend, tmp_path, monkeypatch):
    monkeypatch.setattr(db_session._PingWhenIdle, 'IDLE', IDLE)
    url, drop = databases.provision(backend, tmp_path)
    engine = db_session.create_engine(url)
    admin = databases._admin_engine(
        databases.MYSQL_URL if backend == 'mysql'
        else databases.POSTGRESQL_URL)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, 'do_ping',
                        lambda conn: pings.append(1) or real_ping(conn))

    def own_id():
        with engine.connect() as conn:
            return conn.execute(sa.text(OWN_ID[backend])).scalar()
    try:
        first = own_id()
        # back from use moments ago: the same connection, no ping
        assert [own_id() for _ in range(3)] == [first] * 3
        assert pings == []
        with admin.connect() as conn:
            conn.execute(sa.text(CLOSE[backend] % first))
        time.sleep(IDLE * 1.5)
        # idle past IDLE: pinged, found closed, replaced; the caller sees
        # a working connection, not the server's error
        second = own_id()
        assert second != first and pings == [1]
    finally:
        engine.dispose()
        drop()
