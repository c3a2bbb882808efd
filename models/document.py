"""Documents the process produced: one row per stored file, never updated except when a
redaction (`avtaleflyt redact`) rewrites its file (new SHA-256 and size)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, String, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow

_MUNICIPAL = text("municipality_id IS NOT NULL")
_COUNTY_WIDE = text("municipality_id IS NULL")
_NATIONAL = text("county_id IS NULL AND municipality_id IS NULL")


class Document(SQLModel, table=True):
    """A rendered document stored under the documents folder.

    Versions count per municipality (or, for county-wide reports, per county), kind and
    format, from 1; a national report (no county) counts per kind and format. They are numbered per municipality rather than per case so that a second
    case for the same municipality can never reuse a file name of the first. The unique
    indexes make two writers that picked the same number fail instead of both succeeding.
    """

    __tablename__ = "document"
    __table_args__ = (
        Index("uq_document_municipal_version", "municipality_id", "kind", "format", "version",
              unique=True, sqlite_where=_MUNICIPAL, postgresql_where=_MUNICIPAL),
        Index("uq_document_county_version", "county_id", "kind", "format", "version",
              unique=True, sqlite_where=_COUNTY_WIDE, postgresql_where=_COUNTY_WIDE),
        Index("uq_document_national_version", "kind", "format", "version",
              unique=True, sqlite_where=_NATIONAL, postgresql_where=_NATIONAL),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="onboarding_case.id", index=True)
    municipality_id: int | None = Field(default=None, foreign_key="municipality.id")
    county_id: int | None = Field(default=None, foreign_key="county.id")  # None: national
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    version: int
    format: str = Field(sa_column=Column(String(8), nullable=False))
    created_on: date  # the business date the document was made
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    path: str = Field(sa_column=Column(String(300), unique=True, nullable=False))
    size: int
    # Set when an erased contact person's data was blanked out of the file (sha256 and size
    # are then the redacted file's); otherwise the row is never updated.
    redacted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
