"""[database] options: only the conductor and scheduler open the database."""
from oslo_config import cfg

group = cfg.OptGroup('database', title='Database options')

opts = [
    cfg.StrOpt(
        'connection', default='sqlite:///$state_path/hvagent.sqlite',
        secret=True,
        help='SQLAlchemy URL of the database: sqlite:///path (default), '
             'mysql+pymysql://user:pw@host/db or '
             'postgresql+psycopg2://user:pw@host/db.'),
    cfg.BoolOpt(
        'connection_debug', default=False,
        help='Log every SQL statement.'),
    cfg.IntOpt(
        'pool_size', default=20, min=1,
        help='Connections kept open per process (MariaDB/PostgreSQL). '
             'Size it to the requests a process serves at once: every '
             'connection beyond it is opened for one transaction and '
             'closed after (a TCP and, with TLS, a TLS handshake each).'),
    cfg.IntOpt(
        'max_overflow', default=20, min=0,
        help='Connections a process may open beyond pool_size when that '
             'many transactions run at once (MariaDB/PostgreSQL); a '
             'transaction beyond both waits for a connection. Mind the '
             'server\'s max_connections: every conductor, scheduler and '
             'hvagent-api process may hold pool_size + max_overflow.'),
    cfg.FloatOpt(
        'connect_wait', default=10.0, min=0,
        help='Seconds a new connection waits for a free slot when the '
             'database server refuses it for having too many (MariaDB '
             '1040/1203, PostgreSQL "too many clients"), trying again '
             'every 20-500 ms; past it the request fails with a clear '
             '"database busy" error (503 on the API).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
