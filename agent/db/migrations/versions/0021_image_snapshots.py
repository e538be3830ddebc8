"""An image made from an instance's root disk (a snapshot) names that
instance in ``images.instance_uuid`` (glance's ``instance_uuid``
property): while the image is ``saving``, the agent of the instance's
host may upload its bytes (agent.security.upload_grants) and nobody
else may.

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('instance_uuid', sa.String(36)))
        batch.create_index('ix_images_instance_uuid', ['instance_uuid'])


def downgrade():
    with op.batch_alter_table('images') as batch:
        batch.drop_index('ix_images_instance_uuid')
        batch.drop_column('instance_uuid')
