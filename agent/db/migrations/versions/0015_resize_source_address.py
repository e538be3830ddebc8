"""Resize and cold migration between real hosts: where the destination
reads the source's disk (the source's hypervisor address, as the source
reported it and the conductor checked it).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('migrations') as batch:
        batch.add_column(sa.Column('source_address', sa.String(255)))


def downgrade():
    with op.batch_alter_table('migrations') as batch:
        batch.drop_column('source_address')
