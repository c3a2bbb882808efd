"""`avtaleflyt status --json` is answered by the entry point without building the Typer
application (bench P1). A script must not be able to tell: the same output, and on a problem
the same message and exit code as the application gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

from .scale_support import open_cases

_APPLICATION = ("import sys\nsys.argv = ['avtaleflyt', *sys.argv[1:]]\n"
                "from avtaleflyt.cli.main import main\nmain()")


def _both(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess, ...]:
    full_env = {**os.environ, **env}
    entry = subprocess.run([sys.executable, "-m", "avtaleflyt", *args], env=full_env,
                           capture_output=True, text=True, timeout=120)
    application = subprocess.run([sys.executable, "-c", _APPLICATION, *args], env=full_env,
                                 capture_output=True, text=True, timeout=120)
    return entry, application


def test_status_json_is_the_applications(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-03-20")
    knrs = open_cases(db_url, 3, date(2026, 1, 5), county="18")
    entry, application = _both(["status", "--json"])
    assert entry.returncode == application.returncode == 0, entry.stderr
    assert entry.stdout == application.stdout
    rows = json.loads(entry.stdout)
    assert [r["kommunenummer"] for r in rows] == knrs
    assert rows[0]["overdue_tasks"] > 0 and rows[0]["stage"] == "first_contact"


def test_status_json_problems_are_the_applications(tmp_path):
    empty = f"sqlite:///{tmp_path / 'tom.db'}"  # never initialised
    for env in ({"AVTALEFLYT_DATABASE_URL": empty},
                {"AVTALEFLYT_DATABASE_URL": empty, "AVTALEFLYT_TODAY": "31.02.2026"}):
        entry, application = _both(["status", "--json"], AVTALEFLYT_DATA_DIR=str(tmp_path),
                                   **env)
        assert entry.returncode == application.returncode != 0
        assert entry.stdout == application.stdout == ""
        assert entry.stderr == application.stderr
        assert "Feil:" in entry.stderr
