"""Counties, municipalities and their contact persons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, func, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class County(SQLModel, table=True):
    """The provider of the service: a county library. One installation may serve several."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(2), unique=True, nullable=False))
    name: str = Field(max_length=120)  # "Nordland fylkeskommune"
    library_name: str = Field(max_length=120)  # "Nordland fylkesbibliotek"


class Municipality(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kommunenummer: str = Field(sa_column=Column(String(4), unique=True, nullable=False))
    name: str = Field(max_length=120)
    county_id: int = Field(foreign_key="county.id", index=True)


class ContactPersonBase(SQLModel):
    name: str = Field(max_length=200)
    role: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    is_primary: bool = False


class ContactPerson(ContactPersonBase, table=True):
    """Personal data: shown only to logged-in users, never in logs."""

    __tablename__ = "contact_person"
    # The database, not only the service, keeps a municipality's contacts apart: one e-mail
    # address per municipality whatever its case, and at most one primary contact. Two
    # concurrent `contact add` therefore cannot both succeed.
    __table_args__ = (
        Index("uq_contact_person_email", "municipality_id", func.lower(text("email")),
              unique=True),
        Index("uq_contact_person_primary", "municipality_id", unique=True,
              sqlite_where=text("is_primary"), postgresql_where=text("is_primary")),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
