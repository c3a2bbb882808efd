"""What a process of a scaled-out installation checks before it works: that its database is
there, reachable and on this version's schema, and that the Prefect API answers — the same
checks for a worker's flow run (flows/sweep.py) and the dashboard's `/helse`.

Nothing here creates a database: a worker started without AVTALEFLYT_DATABASE_URL would
otherwise open a new, empty SQLite file and fail later with "no such table".

Also the installation's names in Prefect: prefect.yaml writes `{{ $AVTALEFLYT_INSTALLATION }}`
in deployment and work-pool names (`prefect deploy` fills it in from the environment);
`render` does the same for `serve --scheduler local`.

This module does not import Prefect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import Settings

PLACEHOLDER = re.compile(r"\{\{\s*\$AVTALEFLYT_INSTALLATION\s*\}\}")
SWEEP = "deadline-sweep"


class NotReady(RuntimeError):
    """The database is not usable; the message (Norwegian) names the setting. `part` is
    "database" (missing or unreachable) or "schema" (empty or another version's)."""

    def __init__(self, message: str, part: str = "database") -> None:
        super().__init__(message)
        self.message, self.part = message, part


def render(value: Any, installation: str) -> Any:
    """prefect.yaml's `{{ $AVTALEFLYT_INSTALLATION }}` filled in, in strings, lists, dicts."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(installation, value)
    if isinstance(value, list):
        return [render(v, installation) for v in value]
    if isinstance(value, dict):
        return {k: render(v, installation) for k, v in value.items()}
    return value


def sweep_deployment(installation: str) -> str:
    """The sweep deployment's full name for `run_deployment`: `flow/deployment`."""
    return f"{SWEEP}/{SWEEP}-{installation}"


def work_pool(installation: str) -> str:
    return f"avtaleflyt-{installation}"


def county_limit(installation: str, county: str) -> str:
    """The global concurrency limit that keeps one sweep per county at a time."""
    return f"avtaleflyt-{installation}-sweep-{county}"


def _where(settings: Settings) -> str:
    return ("AVTALEFLYT_DATABASE_URL" if settings.database_url else
            "AVTALEFLYT_DATABASE_URL (ikke satt; standard er SQLite-filen i "
            "AVTALEFLYT_DATA_DIR)")


def check_database(settings: Settings) -> str:
    """The database's schema revision if it is there, reachable and current; else NotReady
    with a Norwegian message saying which setting is wrong. Never creates anything."""
    from sqlalchemy.engine import make_url

    from . import db

    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:" and not Path(path).is_file():
            raise NotReady(
                f"Databasen finnes ikke: {path}. Sett {_where(settings)} til "
                "installasjonens database (samme som nettsiden bruker); det lages ingen ny.")
    try:
        revision = db.current_revision(url)
    except Exception as e:  # noqa: BLE001 - any driver error: report, never the URL itself
        raise NotReady(
            f"Får ikke kontakt med databasen ({type(e).__name__}). Sjekk "
            f"{_where(settings)}: at serveren kjører, og at adressen og brukeren stemmer."
        ) from None
    head = db.head_revision()
    if revision is None:
        raise NotReady(f"Databasen i {_where(settings)} er tom (ingen tabeller). Kjør "
                       "«avtaleflyt init» mot den, eller rett innstillingen.", "schema")
    if revision != head:
        raise NotReady(f"Databasen i {_where(settings)} har skjema {revision}, men denne "
                       f"versjonen av avtaleflyt trenger {head}. Kjør «avtaleflyt init» "
                       "(oppgraderer), eller oppgrader arbeideren.", "schema")
    return revision


@dataclass(frozen=True)
class Health:
    database: str  # "ok" or what is wrong
    schema: str
    prefect: str

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.schema == "ok" and self.prefect == "ok"

    def text(self) -> str:
        return (f"{'ok' if self.ok else 'feil'}\n"
                f"database: {self.database}\nskjema: {self.schema}\nprefect: {self.prefect}\n")


def health(settings: Settings, prefect_api: str | None, prefect_auth: str | None,
           timeout: float = 3.0) -> Health:
    """The dashboard's `/helse`: database, schema version and Prefect API. The answer is
    short and holds no URL, password or credential (the endpoint needs no login); the
    details are in the dashboard's log."""
    database = schema = "ok"
    try:
        check_database(settings)
    except NotReady as e:
        if e.part == "schema":
            schema = "utdatert eller tom (kjør «avtaleflyt init»)"
        else:
            database, schema = "svarer ikke eller finnes ikke", "ukjent"
    prefect = "ok"
    if prefect_api:
        import httpx

        auth = None
        if prefect_auth:
            user, _, password = prefect_auth.partition(":")
            auth = (user, password)
        try:
            r = httpx.get(prefect_api.rstrip("/") + "/health", timeout=timeout, auth=auth)
            if r.status_code != 200:
                prefect = f"svarer {r.status_code}"
        except httpx.HTTPError as e:
            prefect = f"svarer ikke ({type(e).__name__})"
    else:
        prefect = "ikke satt (PREFECT_API_URL)"
    return Health(database, schema, prefect)
