"""The process-wide wiring: settings → database session and service context.

Flows and CLI commands both start here, so a flow triggered from the dashboard and the same
command typed in a terminal see the same database and the same rules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import lru_cache

from sqlmodel import Session

from .db import session_scope
from .services.context import Ctx, config_path, make_ctx
from .settings import Settings


def settings() -> Settings:
    """The settings for the current environment. The CLI (and the demo) change AVTALEFLYT_*
    variables while running, so the cache is keyed on them rather than built once."""
    return _settings_for(tuple(sorted((k, v) for k, v in os.environ.items()
                                      if k.startswith("AVTALEFLYT_"))))


@lru_cache(maxsize=16)
def _settings_for(_env: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


def today(s: Settings | None = None) -> date:
    """The business date: the clock override if one is set, else today in Norway."""
    s = s or settings()
    if s.today is not None:
        return s.today
    from datetime import datetime, UTC

    from .domain.calendar import oslo_date

    return oslo_date(datetime.now(UTC))


def ctx(today_: date | None = None, actor: str | None = None) -> Ctx:
    s = settings()
    path = config_path(s)
    return make_ctx(today=today_ or today(s), actor=actor or s.user,
                    config_file=str(path) if path else None)


@contextmanager
def session() -> Iterator[Session]:
    with session_scope(settings().effective_database_url) as s:
        yield s


def quiet_prefect_env() -> None:
    """Keep a CLI's terminal clean: no analytics calls (the machine may be offline), no
    server chatter, and flow-run logs go to the Prefect API/UI rather than the console.
    Users see the command's own message; `--verbose` shows Prefect's console logs."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")


def run_flow(flow_fn, /, **params):
    """Run a flow in this process as a Prefect flow run.

    Heartbeats are off: they exist to detect crashed long runs, and for a command that ends
    in a fraction of a second the heartbeat thread only adds a second's wait at exit.
    """
    quiet_prefect_env()
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        return flow_fn(**params)
