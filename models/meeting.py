"""Council meeting plans (møteplaner): when a political body meets and can decide a case."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, String, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow

_MUNICIPAL = text("municipality_id IS NOT NULL")
_COUNTY = text("municipality_id IS NULL")


class Meeting(SQLModel, table=True):
    """One meeting of a deciding body.

    A municipality's bodies (kommunestyre, formannskap) carry `municipality_id`; the county's
    deciding body (body "county") has none. Either way a body meets at most once a day, which
    two partial unique indexes enforce (NULLs never collide in a plain unique constraint).
    """

    __table_args__ = (
        Index("uq_meeting_municipal", "municipality_id", "body", "date", unique=True,
              sqlite_where=_MUNICIPAL, postgresql_where=_MUNICIPAL),
        Index("uq_meeting_county", "county_id", "body", "date", unique=True,
              sqlite_where=_COUNTY, postgresql_where=_COUNTY),
    )

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="county.id", index=True)
    municipality_id: int | None = Field(default=None, foreign_key="municipality.id", index=True)
    body: str = Field(sa_column=Column(String(16), nullable=False))
    date: date
    title: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class Saksgang(SQLModel, table=True):
    """A municipality's own saksgang: the bodies that treat an onboarding case, in order,
    comma-separated ("formannskap,kommunestyre"). Without a row the configuration's
    `[political] saksgang` applies."""

    __tablename__ = "saksgang"

    municipality_id: int = Field(foreign_key="municipality.id", primary_key=True)
    bodies: str = Field(max_length=100)
