"""Networking: networks, subnets, ports (IPAM), security groups.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TABLES = ('networks', 'subnets', 'ports', 'security_groups',
          'security_group_rules', 'port_security_groups')


def _col(name, type_, *args, nullable=False, **kw):
    return sa.Column(name, type_, *args, nullable=nullable, **kw)


def _opt(name, type_, *args):
    return _col(name, type_, *args, nullable=True)


def _fk(name, target, nullable=False, **kw):
    return _col(name, sa.Integer, sa.ForeignKey(target), nullable=nullable,
                **kw)


def _common():
    return [sa.Column('id', sa.Integer, primary_key=True),
            _col('uuid', sa.String(36), unique=True)]


def _timestamps():
    return [_col('created_at', sa.DateTime), _opt('updated_at', sa.DateTime)]


def upgrade():
    op.create_table(
        'networks', *_common(),
        _col('name', sa.String(255), unique=True),
        _opt('project_id', sa.String(64)),
        _col('network_type', sa.String(16)),
        _opt('segmentation_id', sa.Integer),
        _opt('physical_network', sa.String(64)),
        _opt('mtu', sa.Integer), *_timestamps())
    op.create_table(
        'subnets', *_common(), _fk('network_id', 'networks.id'),
        _col('cidr', sa.String(64)), _opt('gateway_ip', sa.String(64)),
        _opt('dns_nameservers', sa.Text), _opt('allocation_pools', sa.Text),
        *_timestamps())
    op.create_table(
        'ports', *_common(), _fk('network_id', 'networks.id'),
        _fk('subnet_id', 'subnets.id'), _opt('instance_uuid', sa.String(36)),
        _col('mac_address', sa.String(17)), _col('ip_address', sa.String(64)),
        _col('status', sa.String(16)), _opt('host', sa.String(255)),
        *_timestamps(),
        sa.UniqueConstraint('network_id', 'ip_address',
                            name='uniq_ports0network_id0ip_address'),
        sa.UniqueConstraint('mac_address', name='uniq_ports0mac_address'))
    op.create_index('ports_instance_uuid_idx', 'ports', ['instance_uuid'])
    op.create_table(
        'security_groups', *_common(), _col('name', sa.String(255)),
        _col('project_id', sa.String(64)),
        _opt('description', sa.String(255)), *_timestamps(),
        sa.UniqueConstraint('project_id', 'name',
                            name='uniq_security_groups0name'))
    op.create_table(
        'security_group_rules', *_common(),
        _fk('security_group_id', 'security_groups.id'),
        _col('direction', sa.String(16)), _col('ethertype', sa.String(8)),
        _opt('protocol', sa.String(16)), _opt('port_range_min', sa.Integer),
        _opt('port_range_max', sa.Integer),
        _opt('remote_ip_prefix', sa.String(64)),
        _fk('remote_group_id', 'security_groups.id', nullable=True))
    op.create_table(
        'port_security_groups',
        sa.Column('port_id', sa.Integer, sa.ForeignKey('ports.id'),
                  primary_key=True),
        sa.Column('security_group_id', sa.Integer,
                  sa.ForeignKey('security_groups.id'), primary_key=True))


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
