"""Engine and sessions for the configured database URL."""
import contextlib
import logging
import os
import threading
import time

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import event, orm

import agent.conf  # noqa: F401  (registers [database] options)
from agent import exception

LOG = logging.getLogger(__name__)
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


class _WriterLock:
    """One writer at a time per SQLite file within this process.

    SQLite lets one connection write at a time; a second writer gets
    SQLITE_BUSY and its busy handler *sleeps* (1, 2, 5, 10 ms...) before
    trying again, so two overlapping transactions cost milliseconds of
    idle waiting. Taking this lock before the first statement that writes
    (pysqlite begins the transaction there) and dropping it when the
    connection goes back to the pool makes the second writer start the
    moment the first is done.
    """

    TIMEOUT = 5.0

    def __init__(self, engine):
        self.lock = threading.Lock()
        event.listen(engine, 'before_cursor_execute', self._before)
        event.listen(engine.pool, 'reset', self._release)
        event.listen(engine.pool, 'checkin', self._release_record)

    def _before(self, conn, _cursor, statement, *_args):
        info = conn.info
        if not info.get('hv_writer') and statement.lstrip()[:6].upper() \
                not in ('SELECT', 'PRAGMA'):
            # bounded: a thread already writing on another connection must
            # not deadlock on itself; SQLite's own busy handling then rules
            info['hv_writer'] = self.lock.acquire(timeout=self.TIMEOUT)

    def _release(self, dbapi_conn, record, _reset_state):
        self._release_record(dbapi_conn, record)

    def _release_record(self, _dbapi_conn, record):
        if record is not None and record.info.pop('hv_writer', False):
            self.lock.release()


def private_file(path):
    """Make the SQLite file ``path`` 0600 (created so if missing, an
    older, more open one tightened): it holds password hashes and every
    project's data. SQLite gives its -wal and -shm files the same mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        mode = os.fstat(fd).st_mode & 0o777
        if mode & 0o077:
            os.fchmod(fd, mode & 0o700)
    finally:
        os.close(fd)


#: MariaDB/MySQL: ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS,
#: ER_USER_LIMIT_REACHED (an account's max_user_connections)
_MYSQL_FULL = (1040, 1203, 1226)
#: PostgreSQL's texts for the same (SQLSTATE 53300; not set at connect)
_PG_FULL = ('too many clients', 'too many connections',
            'remaining connection slots')
_WARN_EVERY = 10.0
#: what connecting raises while the server is not there yet or has no
#: slot free: a service starting waits on these (service.wait_for)
NOT_YET = (sa.exc.OperationalError, exception.DatabaseBusy)


def slots_full(error):
    """Whether a DBAPI connect error says the server has no connection
    slot left (one frees up soon), as opposed to a real failure."""
    args = getattr(error, 'args', ())
    if args and args[0] in _MYSQL_FULL:
        return True
    text = str(error).lower()
    return any(phrase in text for phrase in _PG_FULL)


class _SlotWaiter:
    """``do_connect``: a connection refused for want of a free slot is
    tried again until ``[database] connect_wait`` passes, then fails as
    DatabaseBusy; one warning per ``_WARN_EVERY`` seconds says so."""

    def __init__(self):
        self._warned = 0.0

    def __call__(self, dialect, _record, cargs, cparams):
        deadline = time.monotonic() + CONF.database.connect_wait
        delay = 0.02
        while True:
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as e:
                if not slots_full(e):
                    raise
                left = deadline - time.monotonic()
                reason = str(e.args[-1] if e.args else e).strip()
                if left <= 0:
                    LOG.error('The database refused connections for %ss '
                              '(%s): failing the request', CONF.database.
                              connect_wait, reason)
                    # the driver's text (server address, account) stays
                    # in this log: the error may reach a tenant (503)
                    raise exception.DatabaseBusy(
                        reason='the server has no connection slot left',
                        seconds=CONF.database.connect_wait,
                        retry_after=5) from None
                now = time.monotonic()
                if now - self._warned >= _WARN_EVERY:
                    self._warned = now
                    LOG.warning('The database has no free connection (%s); '
                                'waiting up to %ss for one. Every process '
                                'may hold [database] pool_size + '
                                'max_overflow connections: keep their sum '
                                'below the server\'s max_connections',
                                reason, CONF.database.connect_wait)
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.5)


class _Pool(sa.pool.QueuePool):
    """QueuePool whose wait for a connection, once ``timeout`` passes,
    ends in DatabaseBusy (a readable 503-class error) rather than
    SQLAlchemy's TimeoutError."""

    def _do_get(self):
        try:
            return super()._do_get()
        except sa.exc.TimeoutError:
            LOG.error('All %d database connections of this process stayed '
                      'in use for %ss: failing the request', self.size(),
                      self.timeout())
            raise exception.DatabaseBusy(
                reason='all %d connections of this process in use'
                % self.size(), seconds=self.timeout(),
                retry_after=5) from None


class _PingWhenIdle:
    """The pool's pre-ping, only for a connection that sat in the pool
    longer than ``IDLE`` seconds: the server may have closed it meanwhile
    (a restart, a failover, wait_timeout), and one that fails the ping is
    replaced before anyone uses it. A connection back from use moments
    ago is handed out as it is: pinging it would be one more round trip
    per transaction (a fifth of a claim's, a sixth of a boot's), for a
    connection proven alive a second ago. One the server closed within
    that second fails its first statement, which makes the pool replace
    every connection older than that failure."""

    IDLE = 1.0

    def __init__(self, engine):
        self.dialect = engine.dialect
        event.listen(engine.pool, 'checkin', self._checkin)
        event.listen(engine.pool, 'checkout', self._checkout)

    @staticmethod
    def _checkin(_dbapi_conn, record):
        if record is not None:
            record.info['hv_idle_since'] = time.monotonic()

    def _checkout(self, dbapi_conn, record, _proxy):
        since = record.info.pop('hv_idle_since', None)
        if since is None or time.monotonic() - since < self.IDLE:
            return
        try:
            if self.dialect.do_ping(dbapi_conn):
                return
        except Exception as e:
            LOG.info('A database connection idle for %.0f s is gone (%s); '
                     'opening another', time.monotonic() - since, e)
        # the pool drops this one and checks out (or opens) another
        raise sa.exc.DisconnectionError()


def create_engine(url, echo=False):
    url = sa.engine.make_url(url)
    kwargs = {'echo': echo, 'future': True}
    if url.get_backend_name() == 'sqlite':
        if url.database and url.database != ':memory:':
            os.makedirs(os.path.dirname(os.path.abspath(url.database)),
                        exist_ok=True)
            private_file(url.database)
            # keep connections open: every new one costs PRAGMAs and a lock
            kwargs.update(pool_size=20, max_overflow=40)
        else:
            kwargs['poolclass'] = sa.pool.StaticPool
        kwargs['connect_args'] = {'check_same_thread': False}
    else:
        # no ROLLBACK when a connection goes back to the pool: every use
        # here ends its transaction itself (a Session commits or rolls
        # back, a Connection rolls back what it began when closed, the
        # scheduler's raw claim commits or rolls back), so the pool's
        # reset would be one more round trip after every transaction
        kwargs.update(pool_recycle=3600,
                      poolclass=_Pool, pool_size=CONF.database.pool_size,
                      max_overflow=CONF.database.max_overflow,
                      pool_timeout=CONF.database.connect_wait,
                      pool_reset_on_return=None)
        if url.get_backend_name() == 'mysql':
            kwargs['isolation_level'] = 'READ COMMITTED'
    engine = sa.create_engine(url, **kwargs)
    if url.get_backend_name() in ('mysql', 'postgresql'):
        event.listen(engine, 'do_connect', _SlotWaiter())
        _PingWhenIdle(engine)
    if url.get_backend_name() == 'sqlite':
        event.listen(engine, 'connect', _on_sqlite_connect)
        if url.database and url.database != ':memory:':
            _WriterLock(engine)
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
