"""The CLI as the API's client stays light: a command sent to the server imports neither
Prefect, SQLAlchemy/SQLModel nor the dashboard (FastAPI) — the whole point of client mode
is not to pay for them (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .client_support import api_server, cli_env, make_token

HEAVY = ("prefect", "sqlalchemy", "sqlmodel", "fastapi", "starlette", "alembic", "uvicorn")
# A refusal of the busiest commands (cli/fast.py) loads not even Typer (nor pydantic,
# which Typer loads). Rich is loaded by httpx itself (its command line), in the floor too.
FRAMEWORK = ("typer", "pydantic")

# Run the console script's entry point, then name the heavy packages it loaded.
_SCRIPT = """
import atexit, json, sys
heavy = set(sys.argv.pop(1).split(","))
atexit.register(lambda: sys.stderr.write("\\nLOADED " + json.dumps(sorted(
    {m.split(".")[0] for m in sys.modules} & heavy)) + "\\n"))
from avtaleflyt.cli.entry import main
main()
"""


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str, list[str]]:
    r = subprocess.run([sys.executable, "-c", _SCRIPT, ",".join(HEAVY + FRAMEWORK), *args],
                       env=env,
                       capture_output=True, text=True, timeout=120)
    loaded = json.loads(r.stderr.rsplit("LOADED ", 1)[1])
    return r.returncode, r.stdout, r.stderr.rsplit("\nLOADED ", 1)[0], loaded


@pytest.mark.parametrize("args", [
    ["status", "--json"],
    ["status"],
    ["case", "record", "1836", "meeting-held"],  # refused: no case for 1836
    ["task", "done", "999999"],  # refused: no such task
    ["case", "show", "9999"],  # refused: no such municipality
    ["doc", "list", "9999"],  # refused: no such municipality
])
def test_a_command_sent_to_the_api_loads_no_prefect_sqlalchemy_or_dashboard(sqlite_url, args):
    token = make_token(sqlite_url)
    with api_server() as origin:
        env = cli_env(AVTALEFLYT_URL=origin, AVTALEFLYT_TOKEN=token)
        code, out, err, loaded = _run(args, env)
    assert "Traceback" not in err, err
    assert not set(loaded) & set(HEAVY), f"{args} loaded {loaded}"
    if tuple(args[:2]) in (("case", "record"), ("task", "done")):
        assert loaded == [], f"{args} loaded {loaded}"
    if args[0] == "status":
        assert code == 0, err
        assert (json.loads(out) == []) if "--json" in args else "Ingen saker ennå" in out
    else:
        assert code == 1, (out, err)
        assert err.startswith("Feil: "), err


def test_without_a_server_the_same_command_runs_in_process(sqlite_url):
    """The check above can fail: in-process, `case show` does load SQLAlchemy."""
    code, out, err, loaded = _run(["case", "show", "9999"], cli_env())
    assert code == 1 and "Feil:" in err
    assert "sqlalchemy" in loaded
