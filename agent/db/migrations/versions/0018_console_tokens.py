"""Console tokens: each opens one session of an instance's serial or VNC
console through hvagent-console-proxy (only the token's SHA-256 is kept).

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'console_tokens',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('protocol', sa.String(16), nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('address', sa.String(255), nullable=False),
        sa.Column('port', sa.Integer, nullable=False),
        sa.Column('user_id', sa.String(64)),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('expires_at', sa.DateTime, nullable=False))
    op.create_index('ix_console_tokens_instance_uuid', 'console_tokens',
                    ['instance_uuid'])
    op.create_index('ix_console_tokens_expires_at', 'console_tokens',
                    ['expires_at'])


def downgrade():
    op.drop_table('console_tokens')
