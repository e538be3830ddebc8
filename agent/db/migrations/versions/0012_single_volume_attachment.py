"""A volume is attached to one instance at most: a unique constraint on
block_device_mappings.volume_id, so of attachments racing for a volume
exactly one INSERT wins on every backend (before, only the pair
(instance, volume) was unique and a volume in use could be attached to a
second server).

A database where a volume already has two attachments (made through that
hole) is refused with the volumes and instances to detach, not repaired
by dropping one of them.

Revision ID: 0012
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    bdm = sa.table('block_device_mappings', sa.column('volume_id'),
                   sa.column('instance_uuid'))
    shared = op.get_bind().execute(
        sa.select(bdm.c.volume_id, bdm.c.instance_uuid).where(
            bdm.c.volume_id.in_(
                sa.select(bdm.c.volume_id).group_by(bdm.c.volume_id)
                .having(sa.func.count() > 1)))
        .order_by(bdm.c.volume_id, bdm.c.instance_uuid)).all()
    if shared:
        raise RuntimeError(
            'Volumes attached to more than one instance (detach all but one '
            'of each, then upgrade again): %s' % ', '.join(
                '%s on %s' % tuple(r) for r in shared))
    with op.batch_alter_table('block_device_mappings') as batch:
        batch.create_unique_constraint('uniq_bdm0volume', ['volume_id'])


def downgrade():
    with op.batch_alter_table('block_device_mappings') as batch:
        batch.drop_constraint('uniq_bdm0volume', type_='unique')
