"""REST API: per-project quota limits and revoked tokens.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'quotas', sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('resource', sa.String(32), nullable=False),
        sa.Column('hard_limit', sa.Integer, nullable=False),
        sa.UniqueConstraint('project_id', 'resource',
                            name='uniq_quotas0project0resource'))
    op.create_table(
        'revoked_tokens',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('expires_at', sa.DateTime, nullable=False))
    op.create_index('ix_revoked_tokens_expires_at', 'revoked_tokens',
                    ['expires_at'])


def downgrade():
    op.drop_table('revoked_tokens')
    op.drop_table('quotas')
