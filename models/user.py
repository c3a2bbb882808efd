"""Dashboard users, their login sessions, login attempts and calendar feed tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, utcnow


class User(SQLModel, table=True):
    """Someone who may log in to the dashboard. Only a password hash is stored.

    Names are unique regardless of case ("Kari" and "kari" are one user): the database
    enforces it with a unique index on lower(username), on SQLite and PostgreSQL alike."""

    __tablename__ = "app_user"
    __table_args__ = (
        Index("uq_app_user_username_lower", text("lower(username)"), unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(80), unique=True, nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    # The county whose cases the user sees; None for a national user, who sees every county.
    county_id: int | None = Field(default=None, foreign_key="county.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))


class UserSession(SQLModel, table=True):
    """One login to the dashboard. The browser's cookie holds a random token; only its
    SHA-256 is stored, so a copy of the database logs nobody in. A session ends when it is
    revoked (logout, `user sessions --revoke`, a password change, disabling the user), when
    it has been idle too long, or at `expires_at` (the absolute lifetime)."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(default_factory=utcnow,
                                   sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None,
                                        sa_column=Column(UTCDateTime(), nullable=True))
    user_agent: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A login attempt on the dashboard, kept for the throttle (shared by every dashboard
    node using the database) and as a record. Never the password."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "attempted_at"),
        Index("ix_login_attempt_address_at", "address", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # As typed, lower-cased and cut to 80 characters (the name may not exist).
    username: str = Field(sa_column=Column(String(80), nullable=False))
    address: str = Field(sa_column=Column(String(64), nullable=False))
    # "success", "failure" or "throttled" (refused without checking the password).
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    attempted_at: datetime = Field(default_factory=utcnow,
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
