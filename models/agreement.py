"""The agreed terms of a case and its responsibility split (grenseoppgang)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Column, Integer, Numeric, String, UniqueConstraint
from sqlmodel import Field, SQLModel


class AgreementTerms(SQLModel, table=True):
    __tablename__ = "agreement_terms"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="onboarding_case.id", unique=True)
    set_on: date
    start_date: date
    years: int
    notice_months: int
    yearly_price: int  # whole kroner
    position_share: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    site_visits_per_year: int
    # A term in months beside years (a 4-month pilot: years 0, months 4), and what happens
    # at the end date: "none" (fixed term) or "auto" (renewed unless notice is given).
    months: int = Field(default=0, sa_column=Column(Integer, nullable=False,
                                                    server_default="0"))
    renewal: str = Field(default="none", sa_column=Column(String(8), nullable=False,
                                                          server_default="none"))


class ResponsibilityItem(SQLModel, table=True):
    """One row of the responsibility split: a task and who owns it."""

    __tablename__ = "responsibility_item"
    __table_args__ = (UniqueConstraint("terms_id", "position", name="uq_responsibility_order"),)

    id: int | None = Field(default=None, primary_key=True)
    terms_id: int = Field(foreign_key="agreement_terms.id", index=True)
    position: int
    task: str = Field(max_length=300)
    responsible: str = Field(sa_column=Column(String(16), nullable=False))


class CaseSplitRow(SQLModel, table=True):
    """One row of a case's own responsibility split (grenseoppgang). Copied from the
    county's default (`[split]` in the configuration) when the case opens; the coordinator
    changes it row by row until the agreement is signed (services/split.py)."""

    __tablename__ = "case_split_row"
    __table_args__ = (UniqueConstraint("case_id", "position", name="uq_case_split_order"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="onboarding_case.id", index=True)
    position: int
    task: str = Field(max_length=300)
    responsible: str = Field(sa_column=Column(String(16), nullable=False))
