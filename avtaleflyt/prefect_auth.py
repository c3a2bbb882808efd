"""The credential of the Prefect server `avtaleflyt serve` starts.

`serve` starts its Prefect server with Prefect's own basic authentication
(`server.api.auth_string`): every API call without the credential gets 401. The credential
is made once (`avtaleflyt:<random token>`) and kept in the data directory with mode 0600,
like the dashboard's session secret. It travels to the processes that need it through their
environment (`PREFECT_API_AUTH_STRING`), never through a command line, a log or an error.

While `serve` runs, it records its API URL next to the credential. A CLI command whose
PREFECT_API_URL is that URL (and that has no PREFECT_API_AUTH_STRING of its own) sends the
stored credential, so `avtaleflyt case open` works against the running server; any other
URL never gets it.

This module does not import Prefect: read-only commands stay Prefect-free.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

CREDENTIAL_FILE = "prefect_auth"
SERVER_FILE = "prefect_server_url"
USERNAME = "avtaleflyt"
# Prefect's client setting; the server's is PREFECT_SERVER_API_AUTH_STRING.
CLIENT_ENV = "PREFECT_API_AUTH_STRING"
SERVER_ENV = "PREFECT_SERVER_API_AUTH_STRING"


def credential_path(data_dir: Path) -> Path:
    return data_dir / CREDENTIAL_FILE


def server_credential(data_dir: Path) -> str:
    """The local server's credential: made on first use, then read. Mode 0600 always."""
    path = credential_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # someone loosened it: tighten before reading
        value = path.read_text(encoding="ascii").strip()
        user, _, token = value.partition(":")
        if not user or len(token) < 32:
            # The message names the file, never its content.
            raise RuntimeError(f"{path} er ikke en gyldig Prefect-nøkkel; slett filen, så "
                               "lages en ny ved neste «avtaleflyt serve».") from None
        return value
    value = f"{USERNAME}:{secrets.token_urlsafe(32)}"
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value)
    return value


def _normal(url: str) -> str:
    parts = urlsplit(url.strip().rstrip("/"))
    host = (parts.hostname or "").lower()
    if host in ("localhost", "::1"):
        host = "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path}"


def record_server(data_dir: Path, api_url: str) -> None:
    """Note which API URL the local server answers on, while `serve` runs."""
    path = data_dir / SERVER_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(api_url)


def forget_server(data_dir: Path) -> None:
    (data_dir / SERVER_FILE).unlink(missing_ok=True)


def credential_for(api_url: str | None, data_dir: Path) -> str | None:
    """The stored credential if `api_url` is the server this data directory's `serve` runs,
    else None (an external server's credential is the operator's PREFECT_API_AUTH_STRING)."""
    if not api_url:
        return None
    try:
        recorded = (data_dir / SERVER_FILE).read_text(encoding="ascii").strip()
        if _normal(recorded) != _normal(api_url):
            return None
        return credential_path(data_dir).read_text(encoding="ascii").strip() or None
    except (OSError, ValueError):
        return None


def client_auth(data_dir: Path, environ: dict[str, str] | None = None) -> str | None:
    """What a flow-running process should send: nothing if the operator set
    PREFECT_API_AUTH_STRING (Prefect reads it itself) or no PREFECT_API_URL is set (then a
    temporary server of the process's own runs without authentication)."""
    env = os.environ if environ is None else environ
    if env.get(CLIENT_ENV):
        return None
    return credential_for(env.get("PREFECT_API_URL"), data_dir)
