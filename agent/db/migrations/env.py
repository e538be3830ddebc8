"""Alembic environment for hvagent.

Alembic is driven only through agent.db.migration, which builds the Config in
code and hands over an open connection in ``config.attributes['connection']``.
The migrations run on that connection, inside the caller's transaction (the
caller holds the migration lock there). There is no alembic.ini and no
offline (``--sql``) mode.
"""
from alembic import context

from agent.db import models

config = context.config


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is None:
        raise RuntimeError('run migrations through agent.db.migration, '
                           'which passes the connection to use')
    context.configure(
        connection=connection, target_metadata=models.Base.metadata,
        # SQLite can ALTER little: let autogenerate emit batch operations.
        render_as_batch=connection.dialect.name == 'sqlite')
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise NotImplementedError('hvagent migrations run online only')
run_migrations_online()
