"""An onboarding case, its append-only history and its checklist."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow

_OPEN = text("status IN ('active', 'on_hold')")
_VERSION = Column("version", Integer, nullable=False)


class OnboardingCase(SQLModel, table=True):
    """One municipality's way from first contact to running operation.

    `version` is SQLAlchemy's optimistic lock: every write bumps it, and a write based on a
    stale read fails instead of silently overwriting someone else's change.
    """

    __tablename__ = "onboarding_case"
    __table_args__ = (
        # At most one open case per municipality, enforced by the database itself.
        Index("uq_case_one_open_per_municipality", "municipality_id", unique=True,
              sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    stage: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    opened_on: date
    stage_entered_on: date
    closed_on: date | None = None
    on_hold_since: date | None = None
    # Recurring duties (running operation) are planned up to the horizon; this is the
    # earliest due date of a duty not yet planned, so the sweep re-plans a case only once
    # that duty comes within the horizon. NULL: not planned yet; 9999-12-31: all planned.
    duties_until: date | None = None
    version: int = Field(default=1, sa_column=_VERSION)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))

    __mapper_args__ = {"version_id_col": _VERSION}


class Event(SQLModel, table=True):
    """Append-only history: every recorded fact and every transition is a row.

    A database trigger refuses UPDATE and DELETE (see the first migration).
    `occurred_on` is the business date; `recorded_at` is when someone typed it in.
    """

    __table_args__ = (
        # Each case's deadline moves by day (migration 0016): the board counts the active
        # cases' moves since they entered their stage without reading their other events.
        Index("ix_event_case_move", "case_id", "occurred_on",
              sqlite_where=text("kind = 'meeting_moved'"),
              postgresql_where=text("kind = 'meeting_moved'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="onboarding_case.id", index=True)
    kind: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    occurred_on: date
    recorded_at: datetime = Field(default_factory=utcnow,
                                  sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(max_length=120)
    details: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(JSON, nullable=False))


class Task(SQLModel, table=True):
    """A checklist item with an owner and a due date.

    `due_on` is derived when the facts change and stored, so finding what is due is one
    indexed query rather than a recomputation of every case.
    """

    __table_args__ = (
        UniqueConstraint("case_id", "key", name="uq_task_case_key"),
        Index("ix_task_open_due", "due_on", sqlite_where=text("done_on IS NULL"),
              postgresql_where=text("done_on IS NULL")),
        # Each case's open tasks by due date (migration 0016): the board and the lists
        # read the active cases' open tasks without walking their done ones.
        Index("ix_task_open_case", "case_id", "due_on", sqlite_where=text("done_on IS NULL"),
              postgresql_where=text("done_on IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="onboarding_case.id", index=True)
    stage: str = Field(sa_column=Column(String(32), nullable=False))
    key: str = Field(max_length=80)
    title: str = Field(max_length=200)
    responsible: str = Field(sa_column=Column(String(16), nullable=False))
    contact_id: int | None = Field(default=None, foreign_key="contact_person.id")
    # A dashboard user of the case's county the task is assigned to (their Mine oppgaver);
    # None: the default owner (the county's coordinator role, or the municipality).
    assigned_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    mandatory: bool = True
    milestone: str | None = Field(default=None, max_length=40)
    due_on: date | None = None
    done_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
