"""Runtime settings from the environment (prefix AVTALEFLYT_). Malformed values fail fast."""

from __future__ import annotations

import difflib
import getpass
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Per-county targets: AVTALEFLYT_NOTIFY_URLS_55 / AVTALEFLYT_LEADER_URLS_55 override the
# installation-wide variables for the county with that fylkesnummer.
COUNTY_NOTIFY_ENV = re.compile(r"^AVTALEFLYT_NOTIFY_URLS_(\d{2})$")
COUNTY_LEADER_ENV = re.compile(r"^AVTALEFLYT_LEADER_URLS_(\d{2})$")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused AVTALEFLYT_SESSION_SECRET is never echoed back.
    model_config = SettingsConfigDict(env_prefix="AVTALEFLYT_", extra="ignore",
                                      hide_input_in_errors=True)

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
    # Comma-separated addresses of reverse proxies whose X-Forwarded-For `serve` believes;
    # none by default, so the client's address is the connection's.
    trusted_proxies: str | None = None
    # The installation's name: part of its Prefect deployment and work-pool names, so two
    # installations (two counties' offices, or test and production) can share one Prefect
    # server without one's workers running the other's sweep (docs/operations.md).
    installation: str = "avtaleflyt"
    # fylkesnummer → comma-separated Apprise URLs, from AVTALEFLYT_NOTIFY_URLS_<nr> and
    # AVTALEFLYT_LEADER_URLS_<nr>. Hold secrets: never logged or shown (repr=False).
    county_notify_urls: dict[str, str] = Field(default_factory=dict, repr=False)
    county_leader_urls: dict[str, str] = Field(default_factory=dict, repr=False)
    # The key that signs the dashboard's state cookie, shared by every dashboard node of an
    # installation. Unset: a key generated once into the data directory (one node).
    session_secret: SecretStr | None = Field(default=None, repr=False)

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

    @field_validator("session_secret", mode="before")
    @classmethod
    def _strong_secret(cls, v: object) -> object:
        """Refuse a short or placeholder key before anything starts (the value is never
        repeated in the message)."""
        if isinstance(v, SecretStr):
            v = v.get_secret_value()
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        problem = session_secret_problem(str(v))
        if problem:
            raise ValueError(f"AVTALEFLYT_SESSION_SECRET {problem}")
        return str(v).strip()

    @field_validator("installation")
    @classmethod
    def _installation_name(cls, v: str) -> str:
        v = (v or "").strip()
        if not INSTALLATION_NAME.fullmatch(v):
            raise ValueError(
                "AVTALEFLYT_INSTALLATION må være 1–40 tegn: små bokstaver a–z, sifre og "
                "bindestrek, og begynne med en bokstav eller et siffer (f.eks. «nordland»).")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        return normalise_database_url(v)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'avtaleflyt.db'}"

    def as_environment(self) -> dict[str, str]:
        """These settings as AVTALEFLYT_* variables, for a child process's environment
        (`serve` starts the scheduler; it must see the same database as `--db` chose)."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, date):
                out[ENV_PREFIX + name.upper()] = value.isoformat()
            elif isinstance(value, (str, Path)):
                out[ENV_PREFIX + name.upper()] = str(value)
            elif isinstance(value, SecretStr):
                out[ENV_PREFIX + name.upper()] = value.get_secret_value()
        return out


ENV_PREFIX = "AVTALEFLYT_"
INSTALLATION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
# Variables that are ours but not a field of their own: per-county recipients, read by name.
KNOWN_PATTERNS = (COUNTY_NOTIFY_ENV, COUNTY_LEADER_ENV)
# Fields filled from those patterns, never from a variable of their own name.
_NOT_FROM_ENV = frozenset({"county_notify_urls", "county_leader_urls"})


class UnknownVariable(ValueError):
    """An AVTALEFLYT_* variable no setting reads: most likely a typo, which would otherwise
    be ignored silently (a misspelt database URL means a new, empty SQLite file)."""


# Read by the CLI as a client of a server's JSON API (avtaleflyt/client.py), not settings.
CLIENT_NAMES = ("AVTALEFLYT_URL", "AVTALEFLYT_TOKEN")


def known_names() -> list[str]:
    return sorted([ENV_PREFIX + name.upper() for name in Settings.model_fields
                   if name not in _NOT_FROM_ENV] + list(CLIENT_NAMES))


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse an AVTALEFLYT_* variable that no setting reads, naming the closest known one."""
    known = known_names()
    for key in sorted(environ):
        name = key.upper()  # pydantic-settings matches names case-insensitively
        county = next((m.group(1) for p in KNOWN_PATTERNS if (m := p.fullmatch(name))), None)
        if county is not None:
            from avtaleflyt.reference_data import counties

            codes = [c.code for c in counties()]
            if county not in codes:  # e.g. 54, Troms og Finnmark before 2024
                raise UnknownVariable(
                    f"Miljøvariabelen {key} gjelder fylke {county}, som ikke finnes. "
                    f"Fylkesnumrene er {', '.join(codes)}.")
            continue
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        # Compare what follows the prefix: the shared prefix makes every name look close.
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX),
                                          [k.removeprefix(ENV_PREFIX) for k in known],
                                          n=1, cutoff=0.6)
        hint = f" Mente du {ENV_PREFIX}{close[0]}?" if close else (
            " Kjente variabler: " + ", ".join(known) + ".")
        raise UnknownVariable(f"Ukjent miljøvariabel {key}.{hint} Fjern eller rett den.")


def load_settings(**overrides: object) -> Settings:
    """The settings of one entry point: the environment, checked for unknown AVTALEFLYT_*
    names, with the entry point's own options (e.g. the CLI's --db) taking precedence;
    an override of None means "not given"."""
    check_environment(os.environ)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


MIN_SECRET_LENGTH = 32
_PLACEHOLDERS = ("changethis", "changeme", "change-me", "change_me", "secret", "password",
                 "passord", "hemmelig", "example", "eksempel", "todo", "xxx")


def session_secret_problem(value: str) -> str | None:
    """Why `value` cannot sign sessions, in Norwegian, or None when it can. Generate one
    with `python -c "import secrets; print(secrets.token_urlsafe(48))"`."""
    v = value.strip()
    hint = ("Lag en med «python3 -c 'import secrets; print(secrets.token_urlsafe(48))'» og "
            "bruk samme verdi på alle nodene.")
    if len(v) < MIN_SECRET_LENGTH:
        return f"er for kort ({len(v)} tegn; minst {MIN_SECRET_LENGTH}). {hint}"
    lowered = v.lower()
    if len(set(v)) < 8 or any(p in lowered for p in _PLACEHOLDERS):
        return f"ser ut som en plassholder, ikke en tilfeldig nøkkel. {hint}"
    return None


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste, and pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ValueError(
        "AVTALEFLYT_DATABASE_URL/--db må begynne med sqlite:/// eller postgresql://")


def _login_name() -> str:
    """The OS account running the command. From the password database, not from $LOGNAME or
    $USER (which anyone can set for one command, as getpass.getuser() would believe)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # not POSIX, or a uid without a passwd entry (containers)
        try:
            return getpass.getuser()
        except Exception:
            return "ukjent"

