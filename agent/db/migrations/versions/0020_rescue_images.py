"""A rescued instance boots from a rescue image with its own root disk as
its second disk: ``instances.rescue_image_ref`` (and the kernel and
ramdisk it boots with) say which, for the agent and for the image grant
that lets it read them.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None
COLUMNS = ('rescue_image_ref', 'rescue_kernel_ref', 'rescue_ramdisk_ref')


def upgrade():
    with op.batch_alter_table('instances') as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(1024)))


def downgrade():
    with op.batch_alter_table('instances') as batch:
        for name in COLUMNS:
            batch.drop_column(name)
