"""Schema migrations: alembic, configured in code (no alembic.ini).

``upgrade``/``downgrade`` are idempotent (alembic skips revisions already
applied) and safe to run concurrently, from threads or from processes, e.g.
the conductor and an operator's CLI starting together on a fresh database:

* alembic's ``context``/``op`` are module-level proxies, so one process runs
  one migration at a time (``_LOCK``);
* across processes the database itself serialises them: the whole run,
  including alembic's look at the current revision, happens in one
  transaction that first takes a lock - ``BEGIN IMMEDIATE`` on SQLite (the
  write lock; the others wait up to the engine's busy_timeout, 30 s, then
  see the new revision and do nothing), ``pg_advisory_xact_lock`` on
  PostgreSQL (DDL is transactional there too) and ``GET_LOCK`` on MariaDB
  (whose DDL commits implicitly, so the lock is per connection and released
  explicitly).
"""
import contextlib
import os
import threading

import sqlalchemy as sa
from alembic import command
from alembic import config as alembic_config
from alembic import script as alembic_script
from alembic.runtime import migration as alembic_migration

import agent.conf  # noqa: F401  ([database] options, used by get_engine)
from agent.db import session

_LOCK = threading.Lock()
_LOCK_NAME = 'hvagent-migrate'
_PG_LOCK_KEY = 0x68766d67  # any fixed bigint; advisory locks are per database
_LOCK_TIMEOUT = 300  # seconds to wait for another process's migration
_SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'migrations')


def _engine(url):
    """An Engine as given, else the shared one for url or [database]."""
    if isinstance(url, sa.engine.Engine):
        return url
    return session.get_engine(url)


def _mysql_lock_name(conn):
    return ('%s.%s' % (_LOCK_NAME, conn.engine.url.database))[:64]


def _take_lock(conn):
    dialect = conn.dialect.name
    if dialect == 'sqlite':
        # pysqlite opens transactions lazily and never for DDL: open one
        # ourselves, taking the write lock at once.
        conn.exec_driver_sql('BEGIN IMMEDIATE')
    elif dialect == 'postgresql':
        conn.execute(sa.text('SELECT pg_advisory_xact_lock(:key)'),
                     {'key': _PG_LOCK_KEY})
    elif dialect == 'mysql':
        got = conn.execute(sa.text('SELECT GET_LOCK(:name, :timeout)'),
                           {'name': _mysql_lock_name(conn),
                            'timeout': _LOCK_TIMEOUT}).scalar()
        if got != 1:
            raise RuntimeError('timed out waiting for another migration')


def _release_lock(conn):
    """Only MariaDB's lock outlives the transaction."""
    if conn.dialect.name == 'mysql':
        conn.rollback()
        conn.execute(sa.text('SELECT RELEASE_LOCK(:name)'),
                     {'name': _mysql_lock_name(conn)})
        conn.commit()


@contextlib.contextmanager
def _locked_connection(url):
    """A connection in a transaction that holds the database's migration
    lock; committed on success."""
    with _LOCK, _engine(url).connect() as conn:
        _take_lock(conn)
        try:
            yield conn
            conn.commit()
        finally:
            _release_lock(conn)


def _config(conn):
    config = alembic_config.Config()
    config.set_main_option('script_location', _SCRIPTS.replace('%', '%%'))
    config.attributes['connection'] = conn
    return config


def upgrade(url=None, revision='head'):
    """Migrate the database at url (default [database]connection; an Engine
    also works) up to revision."""
    with _locked_connection(url) as conn:
        command.upgrade(_config(conn), revision)


def downgrade(url, revision):
    """Migrate the database at url down to revision ('base': no tables)."""
    with _locked_connection(url) as conn:
        command.downgrade(_config(conn), revision)


def migrated(url=None):
    """True once the database is at this code's newest revision, or at one
    this code does not know (a newer conductor migrated it further: a
    rolling upgrade); False while it is older or was never migrated."""
    revision = current(url)
    if revision is None:
        return False
    scripts = alembic_script.ScriptDirectory(_SCRIPTS)
    known = {script.revision for script in scripts.walk_revisions()}
    return revision == scripts.get_current_head() or revision not in known


def reachable(url=None):
    """True once a connection opens (a server still starting refuses)."""
    with _engine(url).connect():
        return True


def current(url=None):
    """The database's current revision, or None if it was never migrated."""
    with _engine(url).connect() as conn:
        return alembic_migration.MigrationContext.configure(
            conn).get_current_revision()
