"""Engine and sessions for the configured database URL."""
import contextlib
import os
import threading

import sqlalchemy as sa
from sqlalchemy import event, orm
from oslo_config import cfg

import agent.conf  # noqa: F401  (registers [database] options)

CONF = cfg.CONF
_LOCK = threading.Lock()
_ENGINES = {}


def _on_sqlite_connect(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute('PRAGMA journal_mode=WAL')
    cur.execute('PRAGMA synchronous=NORMAL')
    cur.execute('PRAGMA busy_timeout=30000')
    cur.execute('PRAGMA foreign_keys=ON')
    cur.close()


def create_engine(url, echo=False):
    url = sa.engine.make_url(url)
    kwargs = {'echo': echo, 'future': True}
    if url.get_backend_name() == 'sqlite':
        if url.database and url.database != ':memory:':
            os.makedirs(os.path.dirname(os.path.abspath(url.database)),
                        exist_ok=True)
            # keep connections open: every new one costs PRAGMAs and a lock
            kwargs.update(pool_size=20, max_overflow=40)
        else:
            kwargs['poolclass'] = sa.pool.StaticPool
        kwargs['connect_args'] = {'check_same_thread': False}
    else:
        kwargs.update(pool_pre_ping=True, pool_recycle=3600,
                      pool_size=CONF.database.pool_size)
        if url.get_backend_name() == 'mysql':
            kwargs['isolation_level'] = 'READ COMMITTED'
    engine = sa.create_engine(url, **kwargs)
    if url.get_backend_name() == 'sqlite':
        event.listen(engine, 'connect', _on_sqlite_connect)
    return engine


def get_engine(url=None):
    url = url or CONF.database.connection
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = create_engine(
                url, echo=CONF.database.connection_debug)
        return _ENGINES[url]


def dispose_all():
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextlib.contextmanager
def session_scope(engine=None):
    """A transaction: committed on success, rolled back on any error."""
    session = orm.Session(engine or get_engine(), expire_on_commit=False)
    try:
        with session.begin():
            yield session
    finally:
        session.close()
