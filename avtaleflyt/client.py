"""The CLI as a client of the JSON API (`/api/v1`, docs/api.md).

Where the CLI sends a command, first match wins:
1. `AVTALEFLYT_URL` and `AVTALEFLYT_TOKEN` (scripts);
2. the login file that `avtaleflyt login` writes (`login.json` in the user's config
   directory, mode 0600);
3. the address a running `serve` wrote into the data directory (`serve.json`, mode 0600,
   with a local token only the OS user can read; removed when serve stops). A stale file
   (serve gone) is ignored: the command then runs in-process, as without any of these.

This module is the client's whole import path: it imports neither Prefect nor SQLAlchemy,
SQLModel nor the dashboard (tests/test_client_imports.py checks that), and httpx only when a
request is made.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_URL = "AVTALEFLYT_URL"
ENV_TOKEN = "AVTALEFLYT_TOKEN"
LOGIN_FILE = "login.json"
SERVE_FILE = "serve.json"
TIMEOUT = 300.0  # a write is a flow run; a busy machine takes a while


@dataclass(frozen=True)
class Target:
    url: str  # the server's origin, e.g. http://127.0.0.1:8080
    token: str
    source: str  # "env" | "login" | "serve"

    def endpoint(self, path: str) -> str:
        return self.url.rstrip("/") + "/api/v1" + path


class ApiError(Exception):
    """A refusal from the API (problem+json), or a server that cannot be reached."""

    def __init__(self, detail: str, exit_code: int = 1, *, status: int | None = None,
                 field: str | None = None, error: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.exit_code, self.status = detail, exit_code, status
        self.field, self.error = field, error


class Unreachable(ApiError):
    """No connection was made: nothing was sent, so nothing can have been written."""


# -- where to -----------------------------------------------------------------------------

def config_dir() -> Path:
    import platformdirs

    return platformdirs.user_config_path("avtaleflyt")


def login_path() -> Path:
    return config_dir() / LOGIN_FILE


def data_dir() -> Path:
    """The data directory as settings.py chooses it, without loading the settings."""
    given = os.environ.get("AVTALEFLYT_DATA_DIR")
    if given:
        return Path(given).expanduser()
    import platformdirs

    return platformdirs.user_data_path("avtaleflyt")


def serve_path(data: Path | None = None) -> Path:
    return (data or data_dir()) / SERVE_FILE


def normalise_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    url = url.removesuffix("/api/v1").rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) < 10:
        raise ApiError(f"«--url»: «{url}» er ikke en adresse (http://… eller https://…).", 2,
                       field="url")
    if url.startswith("http://") and not _loopback(url):
        # The token goes with every request: never in clear text across a network.
        raise ApiError(f"«--url»: {url} er ikke kryptert; bruk https:// (http:// bare til "
                       "denne maskinen, 127.0.0.1 eller localhost).", 2, field="url")
    return url


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def target() -> Target | None:
    """Where commands go, or None: in-process."""
    url, token = os.environ.get(ENV_URL, "").strip(), os.environ.get(ENV_TOKEN, "").strip()
    if url or token:
        if not (url and token):
            missing = ENV_TOKEN if url else ENV_URL
            raise ApiError(f"{missing} mangler: {ENV_URL} og {ENV_TOKEN} brukes sammen.", 2)
        return Target(normalise_url(url), token, "env")
    saved = _read(login_path())
    if saved:
        return Target(saved["url"], saved["token"], "login")
    found = _read(serve_path())
    if found and _alive(found.get("pid")) and same_installation(found.get("settings")):
        return Target(found["url"], found["token"], "serve")
    return None


# What must agree between `serve` and a command for the command to go to it: the database,
# the business date and the configuration (and the author, when the command sets one).
SERVE_KEYS = ("DATABASE_URL", "TODAY", "CONFIG")


def _digest(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()  # a database URL may hold a password


def serve_fingerprint(values: dict[str, str | None]) -> dict[str, str]:
    """`serve`'s settings as serve.json records them (hashed)."""
    return {k: _digest(values.get(k) or "") for k in (*SERVE_KEYS, "USER")}


def same_installation(recorded: Any) -> bool:
    """Whether this process's AVTALEFLYT_* settings are the ones `serve` runs with. Any
    doubt (a URL written differently, an older file) means no: the command runs here."""
    if not isinstance(recorded, dict):
        return False
    for key in SERVE_KEYS:
        if recorded.get(key) != _digest(os.environ.get("AVTALEFLYT_" + key, "")):
            return False
    user = os.environ.get("AVTALEFLYT_USER")
    return not user or recorded.get("USER") == _digest(user)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) \
            or not isinstance(data.get("token"), str):
        return None
    return data


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` as 0600 (its folder 0700), replacing it atomically: a reader
    never sees half a token, and nobody else ever sees one."""
    from avtaleflyt.filemodes import FILE_MODE, private_dir

    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def save_login(url: str, token: str) -> Path:
    path = login_path()
    write_private_json(path, {"url": url, "token": token})
    return path


def forget_login() -> bool:
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


# -- requests -----------------------------------------------------------------------------

def call(t: Target, method: str, path: str, body: dict[str, Any] | None = None, *,
         params: dict[str, Any] | None = None, files: dict[str, Any] | None = None,
         data: dict[str, Any] | None = None, key: str | None = None, raw: bool = False
         ) -> Any:
    """One request; the JSON answer (or the bytes when `raw`), or ApiError with the
    problem's detail and the exit code the CLI uses for it."""
    import httpx

    headers = {"Authorization": f"Bearer {t.token}", "Accept": "application/json"}
    if key and method != "GET":
        headers["Idempotency-Key"] = key
    try:
        r = httpx.request(method, t.endpoint(path), json=body, params=_clean(params),
                          files=files, data=data, headers=headers, timeout=TIMEOUT)
    except httpx.ConnectError:
        raise Unreachable(f"Får ikke kontakt med avtaleflyt på {t.url}. Kjører serveren?"
                          ) from None
    except httpx.TimeoutException:
        raise ApiError(f"Avtaleflyt på {t.url} svarte ikke innen {TIMEOUT:.0f} sekunder. "
                       "Se «case show» før du prøver igjen (samme --idempotency-key "
                       "registrerer ingenting to ganger).") from None
    except httpx.HTTPError as e:
        raise ApiError(f"Forespørselen til {t.url} feilet: {type(e).__name__}.") from None
    if r.status_code >= 400:
        raise _problem(t, r)
    if raw:
        return r.content
    return r.json()


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _problem(t: Target, r: Any) -> ApiError:
    try:
        p = r.json()
    except ValueError:
        p = {}
    if not isinstance(p, dict):
        p = {}
    detail = p.get("detail") if isinstance(p.get("detail"), str) else None
    code = p.get("exit_code") if isinstance(p.get("exit_code"), int) else None
    if r.status_code == 401:
        how = {"env": f"Lag et nytt med «avtaleflyt token create» og sett {ENV_TOKEN}.",
               "login": "Logg inn på nytt med «avtaleflyt login --url "
                        f"{t.url}», eller logg ut med «avtaleflyt logout».",
               "serve": "Start «avtaleflyt serve» på nytt."}[t.source]
        return ApiError(f"Tokenet ble avvist av {t.url} (ukjent, utløpt eller trukket "
                        f"tilbake). {how}", code or 1, status=401, error="Unauthorized")
    if detail is None:
        detail = f"Serveren svarte {r.status_code} {p.get('title') or r.reason_phrase}."
    return ApiError(detail, code or (2 if r.status_code == 422 else 1), status=r.status_code,
                    field=p.get("field"), error=p.get("error"))
