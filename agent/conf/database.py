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
             'transaction beyond it waits for one (see max_overflow).'),
    cfg.IntOpt(
        'max_overflow', default=0, min=0,
        help='Connections a process may open beyond pool_size when that '
             'many transactions run at once (MariaDB/PostgreSQL), each '
             'closed after its transaction. With 0 a transaction beyond '
             'pool_size waits for one of the pool\'s connections (up to '
             'connect_wait): a process never holds more than pool_size, '
             'and the sum over every conductor and scheduler process (the '
             'only ones that open the database) must stay below the '
             'server\'s max_connections (MariaDB: 151 by default).'),
    cfg.FloatOpt(
        'connect_wait', default=10.0, min=0,
        help='Seconds a transaction waits for a connection: for one of '
             'the pool\'s when all are in use, or for a free slot when the '
             'database server refuses a new one for having too many '
             '(MariaDB 1040/1203/1226, PostgreSQL "too many clients"; tried '
             'again every 20-500 ms). Past it the request fails with a '
             'clear "database busy" error (503 on the API).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
