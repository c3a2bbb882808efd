"""Dashboard users and their calendar feed tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class User(SQLModel, table=True):
    """Someone who may log in to the dashboard. Only a password hash is stored."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(80), unique=True, nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    # The county whose cases the user sees; None for a national user, who sees every county.
    county_id: int | None = Field(default=None, foreign_key="county.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class FeedToken(SQLModel, table=True):
    """A secret calendar feed address. Only the SHA-256 of the token is stored."""

    __tablename__ = "feed_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None,
                                        sa_column=Column(UTCDateTime(), nullable=True))
