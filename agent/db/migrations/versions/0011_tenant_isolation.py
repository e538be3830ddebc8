"""Tenants kept apart on the network: networks belong to a project unless
an admin shares them, and every port has anti-spoofing unless an admin
turns its port security off.

Existing networks become shared: until now only an admin could create a
network (hvctl, no REST route) and every project booted on every network,
so sharing them keeps current deployments booting exactly as before, and
exposes nothing new. Networks created from now on are their project's
alone unless an admin shares them. Existing ports get port security (the
anti-spoofing every port needs).

Revision ID: 0011
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('networks') as batch:
        batch.add_column(sa.Column('shared', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute(sa.table('networks', sa.column('shared', sa.Boolean()))
               .update().values(shared=True))
    with op.batch_alter_table('ports') as batch:
        batch.add_column(sa.Column('port_security_enabled', sa.Boolean(),
                                   nullable=False,
                                   server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('ports') as batch:
        batch.drop_column('port_security_enabled')
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('shared')
