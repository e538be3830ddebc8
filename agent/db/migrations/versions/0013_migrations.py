"""The ``migrations`` table: one row per move of an instance between hosts
(live migration first), with the destination's claim, the progress the
source's hypervisor reports and the host that still has to clean up.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'migrations',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), unique=True, nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('migration_type', sa.String(32), nullable=False),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('source_compute', sa.String(255), nullable=False),
        sa.Column('dest_compute', sa.String(255)),
        sa.Column('dest_claimed', sa.Boolean, nullable=False,
                  server_default=sa.false()),
        sa.Column('block_migration', sa.Boolean, nullable=False,
                  server_default=sa.true()),
        sa.Column('shared_storage', sa.Boolean, nullable=False,
                  server_default=sa.false()),
        sa.Column('dest_address', sa.String(255)),
        sa.Column('cleanup_host', sa.String(255)),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default='0')
          for name in ('memory_total', 'memory_processed',
                       'memory_remaining', 'disk_total', 'disk_processed',
                       'disk_remaining')),
        sa.Column('downtime_ms', sa.Integer),
        sa.Column('error', sa.String(1024)),
        sa.Column('request_id', sa.String(64)),
        sa.Column('user_id', sa.String(64)),
        sa.Column('project_id', sa.String(64)),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime),
    )
    op.create_index('migrations_instance_idx', 'migrations',
                    ['instance_uuid'])
    op.create_index('migrations_cleanup_idx', 'migrations', ['cleanup_host'])
    op.create_index('migrations_dest_status_idx', 'migrations',
                    ['dest_compute', 'status'])


def downgrade():
    op.drop_table('migrations')
