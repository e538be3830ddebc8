"""Boot options of an instance: direct kernel boot, config drive, user data,
key pair (the columns nova keeps on its instances table).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = (
    ('kernel_ref', sa.String(1024)),
    ('ramdisk_ref', sa.String(1024)),
    ('user_data', sa.Text()),
    ('key_name', sa.String(255)),
    ('key_data', sa.Text()),
)


def upgrade():
    with op.batch_alter_table('instances') as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column('config_drive', sa.Boolean(),
                                   nullable=False,
                                   server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('instances') as batch:
        batch.drop_column('config_drive')
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
