"""An image names the kernel and ramdisk it boots with (glance's
``kernel_id`` and ``ramdisk_id`` properties), read by a boot through
the Compute API.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('kernel_id', sa.String(36)))
        batch.add_column(sa.Column('ramdisk_id', sa.String(36)))


def downgrade():
    with op.batch_alter_table('images') as batch:
        batch.drop_column('ramdisk_id')
        batch.drop_column('kernel_id')
