"""Fresh, empty databases on each backend for tests.

SQLite always works. MariaDB (root, no password, 127.0.0.1:3306) and
PostgreSQL (trust, 127.0.0.1:5432) are used when they answer; otherwise the
test skips and says which server was missing. Override the server URLs with
HVAGENT_TEST_MYSQL_URL / HVAGENT_TEST_POSTGRESQL_URL (pointing at a database
the test may create others beside).
"""
import os
import uuid

import pytest
import sqlalchemy as sa

MYSQL_URL = os.environ.get('HVAGENT_TEST_MYSQL_URL',
                           'mysql+pymysql://root@127.0.0.1:3306/test')
POSTGRESQL_URL = os.environ.get(
    'HVAGENT_TEST_POSTGRESQL_URL',
    'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres')
BACKENDS = ('sqlite', 'mysql', 'postgresql')


def _admin_engine(server_url):
    kwargs = {'isolation_level': 'AUTOCOMMIT'}
    return sa.create_engine(server_url, **kwargs)


def provision(backend, tmp_path):
    """Create an empty database; return (url, drop) or skip with a reason."""
    if backend == 'sqlite':
        return 'sqlite:///%s' % (tmp_path / 'hvagent.sqlite'), lambda: None
    server = MYSQL_URL if backend == 'mysql' else POSTGRESQL_URL
    name = 'hvtest_%s' % uuid.uuid4().hex[:12]
    admin = _admin_engine(server)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE %s' % name))
    except Exception as e:  # the server is absent or refuses us
        admin.dispose()
        pytest.skip('%s server not reachable at %s: %s'
                    % (backend, sa.engine.make_url(server)
                       .render_as_string(hide_password=True),
                       str(e).splitlines()[0]))
    url = sa.engine.make_url(server).set(database=name)

    def drop():
        from agent.db import session
        session.dispose_all()
        with admin.connect() as conn:
            if backend == 'postgresql':
                conn.execute(sa.text(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                    'WHERE datname = :n AND pid <> pg_backend_pid()'),
                    {'n': name})
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()
    return url.render_as_string(hide_password=False), drop


@pytest.fixture(params=BACKENDS)
def empty_db_url(request, tmp_path):
    """URL of a new, empty database on each backend in turn."""
    url, drop = provision(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture
def db_url(empty_db_url):
    """URL of a new database migrated to head, on each backend in turn."""
    from agent.db import migration
    migration.upgrade(empty_db_url)
    return empty_db_url
