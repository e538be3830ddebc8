"""REST API: file-backed volumes.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'volumes', sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('user_id', sa.String(64), nullable=False),
        sa.Column('size_gb', sa.Integer, nullable=False),
        sa.Column('path', sa.String(1024), nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False))
    op.create_index('ix_volumes_project_id', 'volumes', ['project_id'])


def downgrade():
    op.drop_table('volumes')
