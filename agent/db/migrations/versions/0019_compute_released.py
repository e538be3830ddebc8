"""A suspended instance gives its host's vCPUs and RAM back to the
scheduler: ``instances.compute_released`` says it has (its claim then
holds only its disk and its place among the host's instances).

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instances') as batch:
        batch.add_column(sa.Column('compute_released', sa.Boolean,
                                   nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('instances') as batch:
        batch.drop_column('compute_released')
