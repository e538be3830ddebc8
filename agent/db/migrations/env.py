"""Alembic environment for hvagent.

Alembic is driven only through agent.db.migration, which builds the Config in
code and hands over an open connection in ``config.attributes['connection']``.
The migrations run on that connection, inside the caller's transaction (the
caller holds the migration lock there). There is no alembic.ini and no
offline (``--sql``) mode.

MariaDB commits each DDL statement implicitly, so a run that fails at a
later step cannot roll back the earlier ones: there each step's version
row is committed right after the step (the lock is the connection's and
outlives commits), so the next run starts where the failed one stopped
instead of applying a step twice.
"""
from alembic import context

from agent.db import models

config = context.config


def _commit_step(ctx, step, heads, run_args):
    ctx.connection.commit()


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is None:
        raise RuntimeError('run migrations through agent.db.migration, '
                           'which passes the connection to use')
    mysql = connection.dialect.name == 'mysql'
    context.configure(
        connection=connection, target_metadata=models.Base.metadata,
        # SQLite can ALTER little: let autogenerate emit batch operations.
        render_as_batch=connection.dialect.name == 'sqlite',
        on_version_apply=_commit_step if mysql else ())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise NotImplementedError('hvagent migrations run online only')
run_migrations_online()
