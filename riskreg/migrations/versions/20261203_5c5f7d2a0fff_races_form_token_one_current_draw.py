"""one current draw per control; one action per "new action" form

Revision ID: 5c5f7d2a0fff
Revises: 7db0a46037eb
Create Date: 2026-12-03 14:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c5f7d2a0fff'
down_revision = '7db0a46037eb'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    doubled = bind.execute(
        sa.text(
            "SELECT control_id FROM sample_draw WHERE NOT superseded "
            "GROUP BY control_id HAVING count(*) > 1 ORDER BY control_id"
        )
    ).scalars().all()
    if doubled:
        raise RuntimeError(
            "Granskningar med mer än ett gällande urval (id): "
            + ", ".join(str(c) for c in doubled)
            + ". Kör 'riskreg sample verify', bestäm vilket urval som gäller och markera de "
            "andra som ersatta (superseded) innan uppgraderingen."
        )
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_action_form_token'), ['form_token'])

    with op.batch_alter_table('sample_draw', schema=None) as batch_op:
        batch_op.create_index(
            'uq_sample_draw_current',
            ['control_id'],
            unique=True,
            postgresql_where=sa.text('NOT superseded'),
            sqlite_where=sa.text('NOT superseded'),
        )


def downgrade():
    with op.batch_alter_table('sample_draw', schema=None) as batch_op:
        batch_op.drop_index('uq_sample_draw_current')

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_action_form_token'), type_='unique')
        batch_op.drop_column('form_token')
