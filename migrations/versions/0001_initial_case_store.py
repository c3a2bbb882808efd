"""initial case store

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event
       BEGIN SELECT RAISE(ABORT, 'event rows are append-only'); END""",
    """CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event
       BEGIN SELECT RAISE(ABORT, 'event rows are append-only'); END""",
]
_PG_APPEND_ONLY = [
    """CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'event rows are append-only'; END $$""",
    """CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
       FOR EACH ROW EXECUTE FUNCTION event_append_only()""",
]


def _append_only_event() -> None:
    """History is evidence: the database itself refuses to change or remove an event."""
    dialect = op.get_bind().dialect.name
    for stmt in _SQLITE_APPEND_ONLY if dialect == "sqlite" else _PG_APPEND_ONLY:
        op.execute(stmt)


def upgrade() -> None:
    op.create_table('county',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('library_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('municipality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kommunenummer', sa.String(length=4), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['county.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kommunenummer')
    )
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_municipality_county_id'), ['county_id'], unique=False)

    op.create_table('contact_person',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact_person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_person_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('onboarding_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('stage_entered_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('on_hold_since', sa.Date(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('onboarding_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onboarding_case_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_onboarding_case_status'), ['status'], unique=False)
        batch_op.create_index('uq_case_one_open_per_municipality', ['municipality_id'], unique=True, sqlite_where=sa.text("status IN ('active', 'on_hold')"), postgresql_where=sa.text("status IN ('active', 'on_hold')"))

    op.create_table('agreement_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('set_on', sa.Date(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('years', sa.Integer(), nullable=False),
    sa.Column('notice_months', sa.Integer(), nullable=False),
    sa.Column('yearly_price', sa.Integer(), nullable=False),
    sa.Column('position_share', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('site_visits_per_year', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['onboarding_case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['onboarding_case.id'], ),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('experience_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('theme', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('noted_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['onboarding_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('experience_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experience_note_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_experience_note_theme'), ['theme'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('responsible', sa.String(length=16), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('mandatory', sa.Boolean(), nullable=False),
    sa.Column('milestone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['onboarding_case.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact_person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'key', name='uq_task_case_key')
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_task_open_due', ['due_on'], unique=False, sqlite_where=sa.text('done_on IS NULL'), postgresql_where=sa.text('done_on IS NULL'))

    op.create_table('responsibility_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('terms_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('responsible', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['terms_id'], ['agreement_terms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terms_id', 'position', name='uq_responsibility_order')
    )
    with op.batch_alter_table('responsibility_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responsibility_item_terms_id'), ['terms_id'], unique=False)
    _append_only_event()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS event_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS event_append_only_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS event_append_only ON event")
        op.execute("DROP FUNCTION IF EXISTS event_append_only()")
    with op.batch_alter_table('responsibility_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responsibility_item_terms_id'))

    op.drop_table('responsibility_item')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_open_due', sqlite_where=sa.text('done_on IS NULL'), postgresql_where=sa.text('done_on IS NULL'))
        batch_op.drop_index(batch_op.f('ix_task_case_id'))

    op.drop_table('task')
    with op.batch_alter_table('experience_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experience_note_theme'))
        batch_op.drop_index(batch_op.f('ix_experience_note_case_id'))

    op.drop_table('experience_note')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_event_kind'))
        batch_op.drop_index(batch_op.f('ix_event_case_id'))

    op.drop_table('event')
    op.drop_table('agreement_terms')
    with op.batch_alter_table('onboarding_case', schema=None) as batch_op:
        batch_op.drop_index('uq_case_one_open_per_municipality', sqlite_where=sa.text("status IN ('active', 'on_hold')"), postgresql_where=sa.text("status IN ('active', 'on_hold')"))
        batch_op.drop_index(batch_op.f('ix_onboarding_case_status'))
        batch_op.drop_index(batch_op.f('ix_onboarding_case_municipality_id'))

    op.drop_table('onboarding_case')
    with op.batch_alter_table('contact_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_person_municipality_id'))

    op.drop_table('contact_person')
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_municipality_county_id'))

    op.drop_table('municipality')
    op.drop_table('county')
