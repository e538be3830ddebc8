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
        'pool_size', default=5, min=1,
        help='Connections kept open per process (MariaDB/PostgreSQL).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
