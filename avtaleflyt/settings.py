"""Runtime settings from the environment (prefix AVTALEFLYT_). Malformed values fail fast."""

from __future__ import annotations

import getpass
import os
import re
from datetime import date
from pathlib import Path

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Per-county targets: AVTALEFLYT_NOTIFY_URLS_55 / AVTALEFLYT_LEADER_URLS_55 override the
# installation-wide variables for the county with that fylkesnummer.
COUNTY_NOTIFY_ENV = re.compile(r"^AVTALEFLYT_NOTIFY_URLS_(\d{2})$")
COUNTY_LEADER_ENV = re.compile(r"^AVTALEFLYT_LEADER_URLS_(\d{2})$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVTALEFLYT_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("avtaleflyt"))
    database_url: str | None = None
    today: date | None = None
    user: str = Field(default_factory=lambda: _login_name())
    config: Path | None = None
    template_dir: Path | None = None
    notify_urls: str | None = None
    apprise_config: Path | None = None
    smtp_url: str | None = None
    leader_urls: str | None = None  # escalations; or entries tagged "leader" in apprise_config
    # fylkesnummer → comma-separated Apprise URLs, from AVTALEFLYT_NOTIFY_URLS_<nr> and
    # AVTALEFLYT_LEADER_URLS_<nr>. Hold secrets: never logged or shown (repr=False).
    county_notify_urls: dict[str, str] = Field(default_factory=dict, repr=False)
    county_leader_urls: dict[str, str] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _county_urls(cls, data: object) -> object:
        """Fill the per-county URLs from the environment (unless given explicitly)."""
        if not isinstance(data, dict):
            return data
        for name, pattern in (("county_notify_urls", COUNTY_NOTIFY_ENV),
                              ("county_leader_urls", COUNTY_LEADER_ENV)):
            if data.get(name):
                continue
            found = {}
            for key, value in os.environ.items():
                match = pattern.match(key)
                if match and value.strip():
                    found[match.group(1)] = value
            data[name] = found
        return data

    @field_validator("today", mode="before")
    @classmethod
    def _norwegian_date(cls, v: object) -> object:
        """AVTALEFLYT_TODAY takes the same forms as --today (17.05.2026 or 2026-05-17)."""
        if isinstance(v, str) and v.strip():
            from avtaleflyt.domain.errors import InvalidInput
            from avtaleflyt.formatting import parse_date

            try:
                return parse_date(v, "AVTALEFLYT_TODAY")
            except InvalidInput as e:
                raise ValueError(e.message) from None
        return v or None

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        return normalise_database_url(v)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'avtaleflyt.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste, and pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ValueError(
        "AVTALEFLYT_DATABASE_URL/--db må begynne med sqlite:/// eller postgresql://")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "ukjent"

