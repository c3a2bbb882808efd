"""Personal access tokens for the JSON API (`/api/v1`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class ApiToken(SQLModel, table=True):
    """A personal access token: it acts as its user, with the user's county scope. Only the
    SHA-256 of the token is stored (the plain token is shown once, when it is made), so a
    copy of the database gives no access. It stops working when revoked, when it expires,
    or while its user is disabled."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(sa_column=Column(String(80), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None,
                                        sa_column=Column(UTCDateTime(), nullable=True))
    last_used_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(default=None,
                                        sa_column=Column(UTCDateTime(), nullable=True))
