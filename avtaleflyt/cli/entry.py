"""The `avtaleflyt` command's entry point.

`avtaleflyt status --json` is what scripts and monitoring run, often; it is answered here
without building the Typer application (every command, Typer and Rich are about a third of
that process's CPU time). Any other command line goes to the application, and so does
`status --json` when anything on this path goes wrong: the application then prints the
message and exits with the code it always does (the command only reads, so running it again
changes nothing).

As the JSON API's client (avtaleflyt/client.py) the busiest changes — `case record`, `task
done`, `case open|hold|resume|withdraw` — are sent from here too (cli/fast.py), in their
plain form; and `status --json` then asks the server, not the local database.
"""

from __future__ import annotations

import json
import sys
from typing import Any

STATUS_KEYS = ("kommunenummer", "municipality", "county_code", "county", "stage", "status",
               "next_deadline", "overdue_tasks")


def status_json(rows: list[dict[str, Any]]) -> str:
    """`status --json`: the same keys whatever the data, so a script does not see its input
    change shape when a second county gets its first case."""
    return json.dumps([{k: r[k] for k in STATUS_KEYS} for r in rows], ensure_ascii=False,
                      indent=2, default=str) + "\n"


def _status_json() -> str | None:
    """The output of `avtaleflyt status --json` with no global options, or None when it
    cannot be made here (a settings or database problem: the application reports it)."""
    try:
        from avtaleflyt import runtime
        from avtaleflyt.services.queries import status_rows
        from avtaleflyt.settings import load_settings

        s = load_settings(user=None, config=None)
        with runtime.use_settings(s):
            if s.config is not None:
                runtime.ctx()  # a malformed configuration is refused, as the callback does
            today = runtime.today()
            with runtime.session() as session:
                return status_json(status_rows(session, today))
    except Exception:
        return None


def _client() -> bool:
    """Whether the CLI is a client of the JSON API (then `status --json` asks it)."""
    try:
        from avtaleflyt import client

        return client.target() is not None
    except Exception:
        return True  # the application reports it


def main() -> None:
    if sys.argv[1:] == ["status", "--json"] and not _client():
        out = _status_json()
        if out is not None:
            sys.stdout.write(out)
            return
    from .fast import run

    if run(sys.argv[1:]):
        return
    from .main import main as application

    application()
