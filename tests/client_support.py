"""The real application served by uvicorn on a free port (in a thread of the test process),
and the CLI run as a user runs it (a new process), in-process or as the API's client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from avtaleflyt import db
from avtaleflyt.services import tokens

from .web_support import make_user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_server() -> Iterator[str]:
    """`create_app()` under uvicorn on 127.0.0.1, with this process's settings (the test's
    AVTALEFLYT_* environment); yields its origin."""
    import httpx
    import uvicorn

    from avtaleflyt.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(origin + "/api/v1/openapi.json", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield origin
    finally:
        server.should_exit = True
        thread.join(30)


def make_token(url: str, username: str = "testkoordinator", county: str | None = None,
               name: str = "klient") -> str:
    """A token for `username`, made first (national unless `county`)."""
    with db.session_scope(url) as s:
        from avtaleflyt.services.users import find_user

        try:
            find_user(s, username)
        except Exception:  # noqa: BLE001 - NotFound: make the user
            s.rollback()
            exists = False
        else:
            exists = True
    if not exists:
        make_user(url, username, county)
    with db.session_scope(url) as s:
        return tokens.create_token(session=s, name=name, username=username)[1]


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli_env(**extra: str | None) -> dict[str, str]:
    """This process's environment for a CLI process (plain output, no colour), with `extra`
    set (None removes a variable)."""
    env = dict(os.environ) | {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def avtaleflyt(*args: str, env: dict[str, str], timeout: float = 300) -> Run:
    """`avtaleflyt ARGS…` as a new process (the console script's entry point)."""
    r = subprocess.run([sys.executable, "-c", "from avtaleflyt.cli.entry import main; main()",
                        *args], env=env, capture_output=True, text=True, timeout=timeout)
    return Run(r.returncode, r.stdout, r.stderr)
