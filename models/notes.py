"""Experience notes: what the project exists to gather and share."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Column, String, false
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class ExperienceNote(SQLModel, table=True):
    __tablename__ = "experience_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="onboarding_case.id", index=True)
    stage: str = Field(sa_column=Column(String(32), nullable=False))
    theme: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    # The text lives in `personal_text` (redactable); read it through the reference.
    text_id: int = Field(foreign_key="personal_text.id", index=True)
    # Shown outside the case's own county (in a national comparison) only when shared.
    shared: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                         server_default=false()))
    noted_on: date
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
