"""User accounts: when each user's password last changed (tokens issued
before it are refused) and the project a login without one goes to
(set by the user or an admin only; no longer "the first project by name
the user has a role in", which a project manager could steer by adding
the user to a project).

Existing users get the project of their first role assignment (the one
they were created in) as their default project.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_changed_at', sa.DateTime(),
                                   nullable=True))
        batch.add_column(sa.Column('default_project_id', sa.String(64),
                                   nullable=True))
    op.execute(
        'UPDATE users SET default_project_id = (SELECT ra.project_id FROM '
        'role_assignments ra WHERE ra.user_id = users.id ORDER BY ra.id '
        'LIMIT 1)')


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('default_project_id')
        batch.drop_column('password_changed_at')
