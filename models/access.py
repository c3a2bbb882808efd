"""Who looked at personal data, and when: the access log (GDPR art. 5(2), accountability).

One row per dashboard case page, contact list, document download or calendar feed fetch.
`object` names what was read (a document's kind/version/format, a feed's `ansvar`), never
its contents. Rows older than `[privacy] access_log_days` are deleted by the daily sweep.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class AccessLog(SQLModel, table=True):
    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow,
                         sa_column=Column(UTCDateTime(), nullable=False, index=True))
    username: str = Field(sa_column=Column(String(80), nullable=False))
    # case_page, contact_list, document, feed; a refused look ends in "_denied".
    action: str = Field(sa_column=Column(String(32), nullable=False))
    kommunenummer: str | None = Field(default=None,
                                      sa_column=Column(String(4), index=True))
    case_id: int | None = Field(default=None, foreign_key="onboarding_case.id")
    object: str | None = Field(default=None, max_length=200)
