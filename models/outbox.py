"""The reminder outbox: what is due to whom, the daily digests, and each delivery attempt.

A reminder row is written once per (task, kind, due date, step, recipient): the unique key
is what makes a rerun of the sweep harmless. A digest collects one recipient's reminders for
one day and is claimed for sending with a compare-and-swap UPDATE, so two sweeps never send
the same digest.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class Reminder(SQLModel, table=True):
    """One thing to tell one recipient. `recipient` is a stable key: "coordinator:<nr>",
    "leader:<nr>" (the case's county's fylkesnummer), "contact:<id>", or on rows written before
    digests were per county plain "coordinator"/"leader" (the installation-wide targets) —
    never an address, so no personal data or secret lands here.
    `step` tells the upcoming reminders of one deadline apart (7 and 1 working days before).
    """

    __table_args__ = (
        UniqueConstraint("task_id", "kind", "due_on", "step", "recipient",
                         name="uq_reminder_once"),
        Index("ix_reminder_undigested", "recipient", sqlite_where=text("digest_id IS NULL"),
              postgresql_where=text("digest_id IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    case_id: int = Field(foreign_key="onboarding_case.id", index=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    due_on: date
    step: int = 0
    recipient: str = Field(sa_column=Column(String(40), nullable=False))
    created_on: date
    digest_id: int | None = Field(default=None, foreign_key="digest.id", index=True)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class Digest(SQLModel, table=True):
    """One message to one recipient for one sweep date, rendered once and then sent.

    status: pending → sending → sent; a failed send goes to `failed` and is retried from
    `next_attempt_on` (backoff in days); after the last allowed attempt it is `gave_up`.
    """

    __table_args__ = (UniqueConstraint("recipient", "sweep_on", name="uq_digest_per_day"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(sa_column=Column(String(40), nullable=False))
    sweep_on: date
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    attempts: int = 0
    next_attempt_on: date | None = None
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(max_length=200)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    item_count: int = 0
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class Delivery(SQLModel, table=True):
    """One attempt to send one digest to one target. `target` is the masked URL."""

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
    target: str = Field(max_length=500)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    attempt: int
    error: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    reported_on: date | None = None  # when the coordinator's digest mentioned this failure
