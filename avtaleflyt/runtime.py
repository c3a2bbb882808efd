"""The process-wide wiring: settings → database session and service context.

Flows and CLI commands both start here, so a flow triggered from the dashboard and the same
command typed in a terminal see the same database and the same rules.

Settings are built once, by the entry point, and installed with `use_settings`: the CLI from
its options and the environment, the dashboard at start-up, the demo for its own database.
A flow run in the same process (`run_flow`) sees the installed settings: Prefect runs an
in-process flow, its subflows and its tasks in a copy of the caller's context. Settings are
never flow parameters (Prefect stores those, and a database URL may hold a password). Where
nobody installed any — a flow run started by the scheduler in a process of its own — the
first call builds them from the environment once for the whole process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session

from .db import session_scope
from .domain.errors import DomainError
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .services.context import Ctx

_installed: ContextVar[Settings | None] = ContextVar("avtaleflyt_settings", default=None)
_process: Settings | None = None
_process_lock = threading.Lock()


def settings() -> Settings:
    """The settings of the current entry point: those installed by `use_settings`, else the
    process's own, built from the environment on first use."""
    s = _installed.get()
    if s is not None:
        return s
    global _process
    with _process_lock:
        if _process is None:
            _process = load_settings()
        return _process


@contextmanager
def use_settings(s: Settings) -> Iterator[Settings]:
    """Install `s` for this context (and flow runs started in it) until the block ends."""
    token = _installed.set(s)
    try:
        yield s
    finally:
        _installed.reset(token)


def forget_process_settings() -> None:
    """Drop the settings built for this process, so the next `settings()` reads the
    environment again. Only for a process that hosts many entry points in turn (the tests)."""
    global _process
    with _process_lock:
        _process = None


def today(s: Settings | None = None) -> date:
    """The business date: the clock override if one is set, else today in Norway."""
    s = s or settings()
    if s.today is not None:
        return s.today
    from datetime import datetime, UTC

    from .domain.calendar import oslo_date

    return oslo_date(datetime.now(UTC))


_business_date = today


def ctx(today_: date | None = None, actor: str | None = None) -> Ctx:
    # Imported here: the configuration (TOML) and the working calendar (holidays) are not
    # needed by read-only commands that take no config, and cost their start-up time.
    from .services.context import config_path, make_ctx

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


@contextmanager
def prefect_run_settings() -> Iterator[str | None]:
    """Prefect's settings for a flow run in this process; yields the API URL (None: a
    temporary server of this process's own).

    Heartbeats are off: they exist to detect crashed long runs, and for a command that ends
    in a fraction of a second the heartbeat thread only adds a second's wait at exit.
    Client retries are bounded (prefect_faults.CLIENT_SETTINGS), so a dead API is reported
    within seconds instead of after a minute of backoff.
    """
    quiet_prefect_env()
    from .prefect_faults import CLIENT_SETTINGS, api_url_in_use, guard_temporary_server

    guard_temporary_server()
    updates: dict[str, object] = {"flows.heartbeat_frequency": None, **CLIENT_SETTINGS}
    auth = prefect_client_auth()
    if auth:
        updates["api.auth_string"] = auth
    with _settings_context(updates):
        yield api_url_in_use()


_RUN_SETTINGS: dict[tuple, tuple[object, object]] = {}
_RUN_SETTINGS_LOCK = threading.Lock()


def _settings_context(updates: dict[str, object]):
    """Prefect's `temporary_settings(updates=…)`, with the new settings object kept for the
    same base settings, updates and PREFECT_* environment: building it (pydantic-settings)
    cost about 0.1 s per command in `serve`, where every write enters the same settings."""
    import prefect.context

    base = prefect.context.get_settings_context()
    key = (id(base.settings), tuple(sorted((k, repr(v)) for k, v in updates.items())),
           tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PREFECT_"))))
    with _RUN_SETTINGS_LOCK:
        hit = _RUN_SETTINGS.get(key)
        if hit is None or hit[0] is not base.settings:  # the id of a settings object gone
            if len(_RUN_SETTINGS) >= 16:
                _RUN_SETTINGS.clear()
            hit = _RUN_SETTINGS[key] = (base.settings,
                                        base.settings.copy_with_update(updates=updates))
    return prefect.context.SettingsContext(profile=base.profile, settings=hit[1])


def run_flow(flow_fn, /, **params):
    """Run a flow in this process as a Prefect flow run. An unreachable Prefect API is
    refused before the flow starts (`prefect_faults.probe`), and one that fails while the
    flow runs becomes a `PrefectUnavailable` with a Norwegian message, never a traceback."""
    from . import prefect_faults as pf

    with prefect_run_settings() as api:
        if api and not pf.probe(api):
            raise pf.unavailable_before(api)
        try:
            return _with_retries(flow_fn, api, params)
        except DomainError:
            raise
        except Exception as e:
            if pf.is_unreachable(e):
                pf.silence_log_shipping()
                raise pf.unavailable_flow(api) from None
            raise


def _with_retries(flow_fn, api: str | None, params: dict, attempts: int = 3):
    """Run the flow; if a request to the API failed but the API still answers, run it again,
    up to `attempts` times in all. A busy server (its SQLite retrying a locked write, a
    keep-alive connection closed mid-request) fails a request now and then; one such failure
    should not fail a user's command or a demo of hundreds of commands. Only for flows a
    re-run cannot apply twice (commands through the inbox, the onboarding loop, the sweep)."""
    import time

    from . import prefect_faults as pf

    for attempt in range(1, attempts + 1):
        try:
            return flow_fn(**params)
        except DomainError:
            raise
        except Exception as e:
            if attempt == attempts or not pf.is_unreachable(e) or not pf.retry_worthwhile(api):
                raise
        time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def prefect_client_auth() -> str | None:
    """The stored credential of the Prefect server `avtaleflyt serve` runs, when
    PREFECT_API_URL points at it and no PREFECT_API_AUTH_STRING is set (prefect_auth.py)."""
    from .prefect_auth import client_auth

    return client_auth(settings().data_dir)


def run_command(kind: str, /, *, key: str | None = None, actor: str | None = None,
                today: date | None = None, **params) -> dict:
    """Store a command in the inbox, then run its flow with the command's id only.

    `kind` names a flow in `flows/commands.py` or `flows/meetings.py` (open_case, add_note,
    add_meeting, …). A key already done returns its first result without a flow run. The
    result carries the command's `idempotency_key`, so a script can retry safely.
    """
    from . import prefect_faults as pf
    from .services import inbox

    key = inbox.check_key(key)
    params["today"] = today or _business_date()
    with prefect_run_settings() as api:
        if api and not pf.probe(api):
            # Before anything is written. A key that is already done needs no Prefect.
            status, result = _command_status(key)
            if status == inbox.DONE:
                return {**result, "idempotency_key": key}
            if status == inbox.APPLIED:
                raise pf.unavailable_during(api, status, key)
            raise pf.unavailable_before(api, key)
        with session() as s:
            sub = inbox.submit(session=s, key=key, kind=kind, actor=actor or settings().user,
                               params=params)
        if sub.result is not None:
            return {**sub.result, "idempotency_key": sub.key}
        from avtaleflyt.flows import commands, meetings

        from prefect import tags

        flow_fn = getattr(commands, kind, None) or getattr(meetings, kind)
        try:
            # County, municipality and action as tags: Prefect's UI filters by them.
            with tags(*commands.tags_for(sub.id)):
                result = _with_retries(flow_fn, api, {"command_id": sub.id})
        except DomainError:
            raise
        except Exception as e:
            if not pf.is_unreachable(e):
                raise
            pf.silence_log_shipping()
            # What the user needs to know: was the change saved? The row says.
            raise pf.unavailable_during(api, _command_status(sub.key)[0], sub.key) from None
        refusal = commands.take_refusal(sub.id)
        if refusal is not None:
            raise refusal
        return {**result, "idempotency_key": sub.key}


def _command_status(key: str) -> tuple[str | None, dict | None]:
    """The inbox row's status and result for `key`, or (None, None)."""
    from sqlmodel import select

    from .models import Command

    try:
        with session() as s:
            cmd = s.exec(select(Command).where(Command.idempotency_key == key)).first()
            return (cmd.status, cmd.result) if cmd is not None else (None, None)
    except Exception:  # noqa: BLE001 - the database may be what failed; then say "unclear"
        return None, None
