"""REST API: images (their bytes live on the API host).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'images', sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('user_id', sa.String(64), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('disk_format', sa.String(16), nullable=False),
        sa.Column('visibility', sa.String(16), nullable=False),
        sa.Column('size', sa.BigInteger, nullable=True),
        sa.Column('checksum', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime, nullable=False))
    op.create_index('ix_images_project_id', 'images', ['project_id'])


def downgrade():
    op.drop_table('images')
