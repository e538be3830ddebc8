"""Resize and cold migration: a migration's flavors (from, to), the
vm_state its instance comes back to and whether it holds the source's
claim (from the switch-over until the resize is confirmed or reverted).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('migrations') as batch:
        batch.add_column(sa.Column('old_flavor_id', sa.Integer))
        batch.add_column(sa.Column('new_flavor_id', sa.Integer))
        batch.add_column(sa.Column('old_vm_state', sa.String(32)))
        batch.add_column(sa.Column('source_claimed', sa.Boolean,
                                   nullable=False,
                                   server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('migrations') as batch:
        for name in ('source_claimed', 'old_vm_state', 'new_flavor_id',
                     'old_flavor_id'):
            batch.drop_column(name)
