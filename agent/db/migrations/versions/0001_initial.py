"""Initial schema (exactly agent/db/models.py) with standard flavors and roles.

Revision ID: 0001
Revises: none
"""
import datetime

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Created in this order, dropped in reverse (foreign keys point backwards).
TABLES = ('services', 'compute_nodes', 'flavors', 'instances',
          'instance_actions', 'instance_actions_events', 'instance_faults',
          'instance_metadata', 'block_device_mappings', 'key_pairs',
          'projects', 'users', 'roles', 'role_assignments')

# name: (vcpus, memory_mb, root_gb)
FLAVORS = {'m1.tiny': (1, 512, 1), 'm1.small': (1, 2048, 20),
           'm1.medium': (2, 4096, 40), 'm1.large': (4, 8192, 80),
           'm1.xlarge': (8, 16384, 160)}
ROLES = ('admin', 'itsec', 'project_manager', 'netadmin', 'developer')


def _id():
    return sa.Column('id', sa.Integer, primary_key=True)


def _col(name, type_, *args, nullable=False, **kw):
    """Columns are NOT NULL unless said otherwise, as Mapped[X] in models."""
    return sa.Column(name, type_, *args, nullable=nullable, **kw)


def _opt(name, type_):
    return _col(name, type_, nullable=True)


def _timestamps():
    return [_col('created_at', sa.DateTime), _opt('updated_at', sa.DateTime)]


def upgrade():
    op.create_table(
        'services', _id(),
        _col('host', sa.String(255)),
        _col('binary', sa.String(64)),
        _opt('topic', sa.String(64)),
        _col('disabled', sa.Boolean),
        _opt('disabled_reason', sa.String(255)),
        _col('report_count', sa.Integer),
        _opt('last_seen_up', sa.DateTime),
        *_timestamps(),
        sa.UniqueConstraint('host', 'binary',
                            name='uniq_services0host0binary'))
    op.create_table(
        'compute_nodes', _id(),
        _col('uuid', sa.String(36), unique=True),
        _col('host', sa.String(255), unique=True),
        _col('hypervisor_type', sa.String(64)),
        _opt('availability_zone', sa.String(255)),
        *[_col(name, sa.Integer) for name in (
            'vcpus', 'memory_mb', 'local_gb', 'vcpus_used', 'memory_mb_used',
            'local_gb_used', 'running_vms')],
        _opt('free_ram_mb', sa.Integer),
        _opt('free_disk_gb', sa.Integer),
        _opt('cpu_load', sa.Float),
        _opt('reported_at', sa.DateTime),
        _col('generation', sa.BigInteger),
        *_timestamps())
    flavors = op.create_table(
        'flavors', _id(),
        _col('name', sa.String(255), unique=True),
        _col('vcpus', sa.Integer),
        _col('memory_mb', sa.Integer),
        _col('root_gb', sa.Integer),
        _col('ephemeral_gb', sa.Integer),
        _col('is_public', sa.Boolean),
        *_timestamps())
    op.create_table(
        'instances', _id(),
        _col('uuid', sa.String(36), unique=True),
        _col('name', sa.String(255)),
        _col('project_id', sa.String(64)),
        _col('user_id', sa.String(64)),
        _opt('host', sa.String(255)),
        _opt('node', sa.String(255)),
        _opt('availability_zone', sa.String(255)),
        _col('flavor_id', sa.Integer, sa.ForeignKey('flavors.id')),
        _col('vcpus', sa.Integer),
        _col('memory_mb', sa.Integer),
        _col('root_gb', sa.Integer),
        _opt('image_ref', sa.String(1024)),
        _col('vm_state', sa.String(32)),
        _opt('task_state', sa.String(32)),
        _col('power_state', sa.String(32)),
        _opt('scheduler_hints', sa.Text),
        _opt('launched_at', sa.DateTime),
        _opt('deleted_at', sa.DateTime),
        _col('deleted', sa.Integer),
        _col('claimed', sa.Boolean),
        *_timestamps(),
        sa.Index('instances_host_idx', 'host'),
        sa.Index('instances_project_idx', 'project_id'))
    op.create_table(
        'instance_actions', _id(),
        _col('instance_uuid', sa.String(36)),
        _col('action', sa.String(255)),
        _col('request_id', sa.String(64)),
        _opt('user_id', sa.String(64)),
        _opt('project_id', sa.String(64)),
        _col('start_time', sa.DateTime),
        _opt('finish_time', sa.DateTime),
        _opt('result', sa.String(16)),
        _opt('message', sa.String(1024)),
        sa.Index('instance_actions_uuid_idx', 'instance_uuid', 'request_id'))
    op.create_table(
        'instance_actions_events', _id(),
        _col('action_id', sa.Integer, sa.ForeignKey('instance_actions.id')),
        _col('event', sa.String(255)),
        _opt('host', sa.String(255)),
        _col('start_time', sa.DateTime),
        _opt('finish_time', sa.DateTime),
        _opt('result', sa.String(16)),
        _opt('traceback', sa.Text))
    op.create_table(
        'instance_faults', _id(),
        _col('instance_uuid', sa.String(36)),
        _col('code', sa.Integer),
        _col('message', sa.String(1024)),
        _opt('details', sa.Text),
        _opt('host', sa.String(255)),
        _col('created_at', sa.DateTime),
        sa.Index('instance_faults_uuid_idx', 'instance_uuid'))
    op.create_table(
        'instance_metadata', _id(),
        _col('instance_uuid', sa.String(36)),
        _col('key', sa.String(255)),
        _opt('value', sa.String(255)),
        sa.UniqueConstraint('instance_uuid', 'key',
                            name='uniq_instance_metadata0key'))
    op.create_table(
        'block_device_mappings', _id(),
        _col('instance_uuid', sa.String(36)),
        _col('volume_id', sa.String(36)),
        _opt('device_name', sa.String(32)),
        _opt('connection_info', sa.Text),
        _col('status', sa.String(16)),
        *_timestamps(),
        sa.UniqueConstraint('instance_uuid', 'volume_id',
                            name='uniq_bdm0instance0volume'))
    op.create_table(
        'key_pairs', _id(),
        _col('name', sa.String(255)),
        _col('user_id', sa.String(64)),
        _col('fingerprint', sa.String(255)),
        _col('public_key', sa.Text),
        *_timestamps(),
        sa.UniqueConstraint('user_id', 'name',
                            name='uniq_key_pairs0user0name'))
    op.create_table(
        'projects', _col('id', sa.String(64), primary_key=True),
        _col('name', sa.String(255), unique=True),
        _opt('description', sa.Text),
        _col('enabled', sa.Boolean),
        *_timestamps())
    op.create_table(
        'users', _col('id', sa.String(64), primary_key=True),
        _col('name', sa.String(255), unique=True),
        _opt('password_hash', sa.String(255)),
        _col('enabled', sa.Boolean),
        *_timestamps())
    roles = op.create_table(
        'roles', _id(),
        _col('name', sa.String(64), unique=True))
    op.create_table(
        'role_assignments', _id(),
        _col('user_id', sa.String(64), sa.ForeignKey('users.id')),
        _col('project_id', sa.String(64), sa.ForeignKey('projects.id')),
        _col('role_id', sa.Integer, sa.ForeignKey('roles.id')),
        sa.UniqueConstraint('user_id', 'project_id', 'role_id',
                            name='uniq_role_assignments'))
    _seed(flavors, roles)


def _seed(flavors, roles):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    op.bulk_insert(flavors, [
        {'name': name, 'vcpus': vcpus, 'memory_mb': memory_mb,
         'root_gb': root_gb, 'ephemeral_gb': 0, 'is_public': True,
         'created_at': now}
        for name, (vcpus, memory_mb, root_gb) in FLAVORS.items()])
    op.bulk_insert(roles, [{'name': name} for name in ROLES])


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
