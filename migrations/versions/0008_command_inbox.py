"""command inbox and redactable personal text

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-10

`command` holds each command's input before its Prefect flow runs (the flow gets only the
id). `personal_text` holds free text that may name people; `experience_note.text` and the
`reason` in hold/withdraw events move there and are referred to by id
(`experience_note.text_id`, `event.details.reason_text_id`). Existing rows are kept: every
note's text and every event reason becomes a `personal_text` row. The event table is
append-only; its triggers are lifted for this one rewrite and put back.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from avtaleflyt.models.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event
       BEGIN SELECT RAISE(ABORT, 'event rows are append-only'); END""",
    """CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event
       BEGIN SELECT RAISE(ABORT, 'event rows are append-only'); END""",
]
_PG_APPEND_ONLY = [
    """CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
       FOR EACH ROW EXECUTE FUNCTION event_append_only()""",
]

_personal_text = sa.table("personal_text", sa.column("id"), sa.column("municipality_id"),
                          sa.column("case_id"), sa.column("kind"), sa.column("text"),
                          sa.column("created_at"))
_event = sa.table("event", sa.column("id"), sa.column("municipality_id"),
                  sa.column("case_id"), sa.column("kind"), sa.column("recorded_at"),
                  sa.column("details", sa.JSON))
_REASON_KINDS = ("case_on_hold", "case_withdrawn")


def _lift_event_triggers(sqlite: bool) -> None:
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS event_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS event_append_only_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS event_append_only ON event")


def _restore_event_triggers(sqlite: bool) -> None:
    for sql in _SQLITE_APPEND_ONLY if sqlite else _PG_APPEND_ONLY:
        op.execute(sql)


def upgrade() -> None:
    op.create_table(
        "personal_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("redacted_at", UTCDateTime(), nullable=True),
        sa.Column("redacted_by", sa.String(length=120), nullable=True),
        sa.Column("redaction_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["onboarding_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_personal_text_municipality_id", "personal_text", ["municipality_id"])
    op.create_index("ix_personal_text_case_id", "personal_text", ["case_id"])
    op.create_table(
        "command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_command_status", "command", ["status"])

    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    # Notes: each text becomes a personal_text row the note refers to.
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.add_column(sa.Column("text_id", sa.Integer(), nullable=True))
    notes = conn.execute(sa.text(
        "SELECT experience_note.id, experience_note.case_id, experience_note.text, "
        "experience_note.created_at, onboarding_case.municipality_id FROM experience_note "
        "JOIN onboarding_case ON onboarding_case.id = experience_note.case_id "
        "ORDER BY experience_note.id")).all()
    for note_id, case_id, text, created_at, municipality_id in notes:
        text_id = conn.execute(_personal_text.insert().values(
            municipality_id=municipality_id, case_id=case_id, kind="note", text=text,
            created_at=created_at).returning(_personal_text.c.id)).scalar_one()
        conn.execute(sa.text("UPDATE experience_note SET text_id = :t WHERE id = :n"),
                     {"t": text_id, "n": note_id})
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.alter_column("text_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_experience_note_text_id", "personal_text",
                                    ["text_id"], ["id"])
        batch_op.create_index("ix_experience_note_text_id", ["text_id"])
        batch_op.drop_column("text")

    # Hold and withdraw reasons: the event keeps only the id.
    events = conn.execute(sa.select(_event).where(_event.c.kind.in_(_REASON_KINDS))
                          .order_by(_event.c.id)).all()
    with_reason = [e for e in events if (e.details or {}).get("reason")]
    if with_reason:
        _lift_event_triggers(sqlite)
        for e in with_reason:
            details = dict(e.details)
            text_id = conn.execute(_personal_text.insert().values(
                municipality_id=e.municipality_id, case_id=e.case_id, kind="reason",
                text=details.pop("reason"), created_at=e.recorded_at)
                .returning(_personal_text.c.id)).scalar_one()
            details["reason_text_id"] = text_id
            conn.execute(_event.update().where(_event.c.id == e.id).values(details=details))
        _restore_event_triggers(sqlite)


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    texts = dict(conn.execute(sa.text("SELECT id, text FROM personal_text")).all())
    events = conn.execute(sa.select(_event).where(_event.c.kind.in_(_REASON_KINDS))).all()
    with_reason = [e for e in events if (e.details or {}).get("reason_text_id") is not None]
    if with_reason:
        _lift_event_triggers(sqlite)
        for e in with_reason:
            details = dict(e.details)
            text = texts.get(details.pop("reason_text_id"))
            if text:
                details["reason"] = text
            conn.execute(_event.update().where(_event.c.id == e.id).values(details=details))
        _restore_event_triggers(sqlite)
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
    for note_id, text_id in conn.execute(sa.text(
            "SELECT id, text_id FROM experience_note")).all():
        conn.execute(sa.text("UPDATE experience_note SET text = :t WHERE id = :n"),
                     {"t": texts.get(text_id) or "[sladdet]", "n": note_id})
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.drop_index("ix_experience_note_text_id")
        batch_op.drop_constraint("fk_experience_note_text_id", type_="foreignkey")
        batch_op.drop_column("text_id")
        batch_op.alter_column("text", existing_type=sa.Text(), nullable=False)
    op.drop_index("ix_command_status", table_name="command")
    op.drop_table("command")
    op.drop_index("ix_personal_text_case_id", table_name="personal_text")
    op.drop_index("ix_personal_text_municipality_id", table_name="personal_text")
    op.drop_table("personal_text")
