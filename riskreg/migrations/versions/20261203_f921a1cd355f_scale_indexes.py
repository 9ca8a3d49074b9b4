"""indexes for the list pages' filters, the reminder run and the draw (issue 15)

The control and action lists filter by status and sort by deadline / due date (then id); the
reminder run selects open actions and unapproved controls; the trail page filters entries by
date and action; the draw reads a population in file order (population_id, line). Plain
CREATE INDEX: the tables are small enough in a region for the short lock it takes.

Revision ID: f921a1cd355f
Revises: 4c218b6bb504
Create Date: 2026-12-03 17:51:09.195366

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f921a1cd355f'
down_revision = '4c218b6bb504'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.create_index('ix_action_due_date', ['due_date', 'id'], unique=False)
        batch_op.create_index('ix_action_status_due', ['status', 'due_date', 'id'], unique=False)

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_action', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_at', ['at'], unique=False)

    with op.batch_alter_table('control', schema=None) as batch_op:
        batch_op.create_index('ix_control_deadline', ['deadline', 'id'], unique=False)
        batch_op.create_index('ix_control_status_deadline', ['status', 'deadline', 'id'], unique=False)

    with op.batch_alter_table('population_item', schema=None) as batch_op:
        batch_op.create_index('ix_population_item_population_line', ['population_id', 'line'], unique=False)


def downgrade():
    with op.batch_alter_table('population_item', schema=None) as batch_op:
        batch_op.drop_index('ix_population_item_population_line')

    with op.batch_alter_table('control', schema=None) as batch_op:
        batch_op.drop_index('ix_control_status_deadline')
        batch_op.drop_index('ix_control_deadline')

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_at')
        batch_op.drop_index('ix_audit_entry_action')

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_status_due')
        batch_op.drop_index('ix_action_due_date')
