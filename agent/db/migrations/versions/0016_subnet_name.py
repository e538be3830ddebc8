"""Subnets have a name (Network v2: ``openstack subnet create NAME``
makes a network's subnet after the network).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subnets') as batch:
        batch.add_column(sa.Column('name', sa.String(255)))


def downgrade():
    with op.batch_alter_table('subnets') as batch:
        batch.drop_column('name')
