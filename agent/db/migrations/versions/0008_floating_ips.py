"""Floating IPs (netadmin's public addresses): external networks hold
them; one is NATed 1:1 to the fixed IP of the port it is associated with.
And each instance records how many fixed IPs it holds (one per requested
network), written with the instance so the fixed-IP quota is atomic.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instances') as batch:
        batch.add_column(sa.Column('fixed_ips', sa.Integer(), nullable=False,
                                   server_default='0'))
    with op.batch_alter_table('networks') as batch:
        batch.add_column(sa.Column('external', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        'floating_ips', sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('network_id', sa.Integer, sa.ForeignKey('networks.id'),
                  nullable=False),
        sa.Column('address', sa.String(64), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('port_id', sa.Integer, sa.ForeignKey('ports.id'),
                  nullable=True),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=True),
        sa.UniqueConstraint('network_id', 'address',
                            name='uniq_floating_ips0network_id0address'),
        sa.UniqueConstraint('port_id', name='uniq_floating_ips0port_id'))
    op.create_index('ix_floating_ips_project_id', 'floating_ips',
                    ['project_id'])


def downgrade():
    op.drop_table('floating_ips')
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('external')
    with op.batch_alter_table('instances') as batch:
        batch.drop_column('fixed_ips')
