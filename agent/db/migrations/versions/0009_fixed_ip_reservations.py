"""Fixed IP reservations (netadmin's "allocate an address"): a port a
project holds without an instance. A boot may take it; deleting the
instance gives it back to the project instead of freeing it.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ports') as batch:
        batch.add_column(sa.Column('project_id', sa.String(64),
                                   nullable=True))
        batch.add_column(sa.Column('reserved', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_index('ports_project_id_idx', ['project_id'])


def downgrade():
    with op.batch_alter_table('ports') as batch:
        batch.drop_index('ports_project_id_idx')
        batch.drop_column('reserved')
        batch.drop_column('project_id')
