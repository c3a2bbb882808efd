"""When the Prefect API is unreachable or dies during a command.

A command that changes a case is stored in the inbox, then run as a Prefect flow run in this
process (`runtime.run_command`). If the Prefect API cannot be reached the user must learn,
quickly and in Norwegian, whether the change was saved:

- before anything is written, `probe` asks `<api>/health` with a short timeout; an API that
  does not answer refuses the command (nothing saved);
- if the API dies while the flow runs, Prefect's client gives up after a bounded number of
  retries (`CLIENT_SETTINGS`), and `is_unreachable` recognises what it raised; the command
  row's status then says whether the service's change was committed (`applied`/`done`) or
  not (`pending`).

Either way a retry with the same idempotency key is safe: the inbox never applies a command
twice. This module does not import Prefect.
"""

from __future__ import annotations

import threading
from typing import Any

from avtaleflyt.domain.errors import DomainError

# Prefect's client retries a failed request 5 times with exponential backoff (2 + 4 + 8 +
# 16 + 32 s) once it has reached the API: a command whose server died would hang for more
# than a minute, and even one retry per request costs 2 s for each of the several calls
# the engine makes after a failure. So requests are not retried; instead a command whose
# flow fails on a dropped request while the API still answers its health check is run again
# as a whole, up to three times in all (`retry_worthwhile`, `runtime._with_retries`), which
# the inbox makes safe (a command is never
# applied twice). That covers what Prefect's retries are for: a busy server's 503 and
# uvicorn closing a keep-alive connection just as a request is sent.
CLIENT_SETTINGS: dict[str, object] = {"client.max_retries": 0}
PROBE_TIMEOUT = 3.0  # seconds for `<api>/health`


class PrefectUnavailable(DomainError):
    """The Prefect API did not answer. The CLI exits with `exit_code` (3); the dashboard
    shows the message next to the form like any refusal. `saved` says whether the change was
    committed (None: unknown)."""

    exit_code = 3

    def __init__(self, message: str, *, saved: bool | None = None):
        super().__init__(message)
        self.saved = saved


def probe(api_url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the Prefect API at `api_url` answers its health check (no credential needed)."""
    import httpx

    try:
        r = httpx.get(api_url.rstrip("/") + "/health", timeout=timeout)
    except (httpx.HTTPError, OSError):
        return False
    return r.status_code == 200


def retry_worthwhile(api_url: str | None) -> bool:
    """After a failed request: run the flow again only if the API still answers (a
    temporary server of this process's own is assumed to, if it was not killed)."""
    return probe(api_url) if api_url else True


def silence_log_shipping() -> None:
    """The API is gone: Prefect's log worker would print «--- Error logging to API ---» for
    every batch it cannot send until the process ends. The user has our message instead."""
    import logging

    logging.raiseExceptions = False


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) means the Prefect API could not be reached or
    failed: a refused or dropped connection, a timeout, a server error, or Prefect's own
    "Failed to reach API" / ephemeral server start-up errors."""
    import httpx

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, httpx.TransportError | ConnectionError):
            return True
        if isinstance(e, httpx.HTTPStatusError) and e.response.status_code >= 500:
            return True
        if isinstance(e, RuntimeError) and ("Failed to reach API" in str(e)
                                            or "ephemeral Prefect API server" in str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False


def where(api_url: str | None) -> str:
    return f"Prefect-serveren på {api_url}" if api_url else "Den midlertidige Prefect-serveren"


def unavailable_before(api_url: str | None, key: str | None = None) -> PrefectUnavailable:
    """Nothing was written: the API did not answer before the command started."""
    retry = (f" Prøv igjen når den svarer, gjerne med «--idempotency-key {key}»." if key
             else " Prøv igjen når den svarer.")
    return PrefectUnavailable(f"{where(api_url)} svarer ikke. Ingenting ble lagret.{retry}",
                              saved=False)


def unavailable_during(api_url: str | None, status: str | None, key: str) -> PrefectUnavailable:
    """The API failed while the command ran; `status` is the command row's status after the
    failure (None if the row is gone or unreadable)."""
    again = (f"Kjør samme kommando igjen med «--idempotency-key {key}» når Prefect svarer; "
             "den registreres ikke to ganger.")
    if status == "done":
        return PrefectUnavailable(
            f"{where(api_url)} sluttet å svare da kommandoen var ferdig. Endringen er lagret "
            f"og fullført; bare Prefects logg over kjøringen mangler. (Nøkkel: {key}.)",
            saved=True)
    if status == "applied":
        return PrefectUnavailable(
            f"{where(api_url)} sluttet å svare underveis. Endringen er lagret, men saken er "
            f"ikke ferdig behandlet (den kan ha en fase å gå videre). {again}", saved=True)
    if status == "pending":
        return PrefectUnavailable(
            f"{where(api_url)} sluttet å svare før endringen ble lagret. Ingenting ble lagret. "
            f"{again}", saved=False)
    return PrefectUnavailable(
        f"{where(api_url)} sluttet å svare underveis, og det er uklart om endringen ble "
        f"lagret; se «avtaleflyt case show». {again}", saved=None)


def unavailable_flow(api_url: str | None) -> PrefectUnavailable:
    """A flow run without a command row (`case advance`, the sweep) lost its API."""
    return PrefectUnavailable(
        f"{where(api_url)} sluttet å svare underveis. Det som ble lagret før det, er lagret "
        "(hver sak endres i én transaksjon); kjør kommandoen igjen når Prefect svarer.",
        saved=None)


def api_url_in_use() -> Any:
    """The API URL Prefect's client uses (its settings: environment or profile), or None
    for a temporary server of this process. Imports Prefect: only for flow-running paths."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


# --- the temporary server dies with its command ------------------------------------------

_PR_SET_PDEATHSIG = 1
_guard_lock = threading.Lock()


def _die_with_parent() -> None:  # runs in the forked child, before exec
    import ctypes
    import signal as _signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, _signal.SIGTERM, 0, 0, 0)


def guard_temporary_server() -> None:
    """Make the temporary Prefect server that a command starts die with the command, even
    when the command is killed with SIGKILL (no Python code runs then, so neither Prefect's
    atexit nor our SIGTERM handler can stop it).

    Linux's PR_SET_PDEATHSIG, set in the server process between fork and exec, sends it
    SIGTERM when the thread that started it ends; Prefect starts it from the thread that
    first needs the API — the command's main thread for an in-process flow run — so that is
    when the command ends. Prefect's own `_run_uvicorn_command` builds the command line; only
    the `subprocess.Popen` it calls gets the hook, for that one call, under a lock. On other
    systems nothing changes (Prefect's atexit and our SIGTERM handler remain)."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    from prefect.server.api import server as prefect_server

    cls = prefect_server.SubprocessASGIServer
    if getattr(cls._run_uvicorn_command, "_avtaleflyt_guarded", False):
        return
    original = cls._run_uvicorn_command
    import ctypes  # noqa: F401  (loaded before any fork: the child must not import)

    def guarded(self):
        import subprocess

        with _guard_lock:
            real = subprocess.Popen

            def popen(*args, **kwargs):
                argv = kwargs.get("args", args[0] if args else ())
                if "uvicorn" in list(argv):  # only the server, never another thread's child
                    kwargs.setdefault("preexec_fn", _die_with_parent)
                return real(*args, **kwargs)

            subprocess.Popen = popen
            try:
                return original(self)
            finally:
                subprocess.Popen = real

    guarded._avtaleflyt_guarded = True  # type: ignore[attr-defined]
    cls._run_uvicorn_command = guarded
