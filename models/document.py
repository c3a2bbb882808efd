"""Documents the process produced: one `document` row per stored version, its bytes in
`document_blob` keyed by their SHA-256 (stored once however many versions share them). A
row is never updated except when a redaction (`avtaleflyt redact`, erasing a contact)
points it at the redacted bytes (new SHA-256 and size); the old bytes are then deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow

_MUNICIPAL = text("municipality_id IS NOT NULL")
_COUNTY_WIDE = text("municipality_id IS NULL")
_NATIONAL = text("county_id IS NULL AND municipality_id IS NULL")


class DocumentBlob(SQLModel, table=True):
    """The bytes of one or more stored document versions, in the database so that every
    dashboard node and the CLI serve the same content (no shared file system needed)."""

    __tablename__ = "document_blob"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary(), nullable=False), repr=False)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class Document(SQLModel, table=True):
    """A rendered document version; its bytes are the `document_blob` with its SHA-256.

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
    sha256: str = Field(sa_column=Column(String(64), ForeignKey("document_blob.sha256"),
                                         nullable=False, index=True))
    # The version's name, e.g. "1836/agreement-v2.docx": unique, the download's file name
    # and what `avtaleflyt doc get` takes. Until migration 0010 it was a file under the
    # documents folder.
    path: str = Field(sa_column=Column(String(300), unique=True, nullable=False))
    size: int
    # Set when an erased contact person's data was blanked out of the file (sha256 and size
    # are then the redacted content's); otherwise the row is never updated.
    redacted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
