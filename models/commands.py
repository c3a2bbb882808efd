"""The command inbox and the one table of free text that may name people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class PersonalText(SQLModel, table=True):
    """Free text a user typed that may name people: an experience note, a hold or withdraw
    reason. Everything else (notes, events, commands) refers to it by id, so an operator can
    redact it in one place (`avtaleflyt redact`): `text` becomes NULL and the read models
    show «[sladdet]»."""

    __tablename__ = "personal_text"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="onboarding_case.id", index=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # note | reason
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    redacted_at: datetime | None = Field(default=None,
                                         sa_column=Column(UTCDateTime(), nullable=True))
    redacted_by: str | None = Field(default=None, max_length=120)
    redaction_reason: str | None = Field(default=None, max_length=500)


class Command(SQLModel, table=True):
    """A command that changes a case, stored before its flow runs. The flow gets only the
    id; the input (with free text as `personal_text` ids) and the acting user stay here.

    status: pending (stored) → applied (the service's change is committed, with this row) →
    done (result stored); refused when the domain said no (the key may then be used again).
    """

    __tablename__ = "command"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    actor: str = Field(max_length=120)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None,
                                         sa_column=Column(UTCDateTime(), nullable=True))
