"""The CLI as the API's client (issue 10): the same commands, run as a user runs them (new
processes), once in-process against database A and once through the API of a real server
(uvicorn on a free port) holding database B. Both start from the same state, so the output
and the exit codes must be identical — that is the promise of client mode."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import pytest

from avtaleflyt import db
from avtaleflyt.services import tokens

from .client_support import api_server, avtaleflyt, cli_env, make_token
from .web_support import open_case, record

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

TODAY = date.today()


def _setup(url: str) -> None:
    """Rødøy in political approval (through the services, identically in A and B)."""
    open_case(url, "1836", TODAY - timedelta(20))
    for fact in ("meeting-held", "needs-assessed", "intent-confirmed"):
        record(url, "1836", fact, TODAY - timedelta(10))


@pytest.fixture
def both(sqlite_url, sqlite_template, tmp_path, monkeypatch, prefect_server):
    """(run_local, run_remote, url_b, token): A is in-process, B behind the server."""
    from prefect.settings import PREFECT_API_URL

    url_a = sqlite_url
    path_b = tmp_path / "b.db"
    shutil.copy(sqlite_template, path_b)
    url_b = f"sqlite:///{path_b}"
    for url in (url_a, url_b):
        _setup(url)
    token = make_token(url_b)  # national, named as AVTALEFLYT_USER: the same author
    base = cli_env(PREFECT_API_URL=PREFECT_API_URL.value(), AVTALEFLYT_URL=None,
                   AVTALEFLYT_TOKEN=None)
    local_env = base | {"AVTALEFLYT_DATABASE_URL": url_a,
                        "AVTALEFLYT_DATA_DIR": str(tmp_path / "data-a")}
    monkeypatch.setenv("AVTALEFLYT_DATABASE_URL", url_b)  # the server's settings
    with api_server() as origin:
        remote_env = base | {"AVTALEFLYT_URL": origin, "AVTALEFLYT_TOKEN": token,
                             # not used by a client: proves nothing reads it
                             "AVTALEFLYT_DATABASE_URL": "sqlite:////nonexistent/x.db",
                             "AVTALEFLYT_DATA_DIR": str(tmp_path / "data-client")}
        yield (lambda *a: avtaleflyt(*a, env=local_env),
               lambda *a: avtaleflyt(*a, env=remote_env), url_b, token, remote_env)


def _same(local, remote, *args):
    a, b = local(*args), remote(*args)
    assert "Traceback" not in a.err + b.err, (a.err, b.err)
    assert (b.code, b.out, b.err) == (a.code, a.out, a.err), args
    return b


def test_commands_through_the_api_print_and_exit_as_in_process(both):
    local, remote, url_b, token, env = both
    r = _same(local, remote, "status", "--json")
    assert json.loads(r.out)[0]["stage"] == "political_approval"
    # A Norwegian value, through the API's own parsing.
    r = _same(local, remote, "case", "record", "1836", "council-decision", "--outcome",
              "vedtatt", "--ref", "PS 12/27")
    assert r.code == 0 and "registrert: vedtatt" in r.out
    # Refused: a value that is not a choice (exit 2), and a fact out of order (exit 1).
    r = _same(local, remote, "case", "record", "1836", "county-decision", "--outcome",
              "kanskje")
    assert r.code == 2 and r.err.startswith("Feil: ") and "--outcome" in r.err
    r = _same(local, remote, "case", "record", "1836", "signed", "--party", "kommunen")
    assert r.code == 1 and r.err.startswith("Feil: ")
    r = _same(local, remote, "case", "open", "1836")
    assert r.code == 1
    r = _same(local, remote, "case", "show", "1836", "--json")
    detail = json.loads(r.out)
    task = next(t["id"] for t in detail["tasks"] if not t["done_on"])
    r = _same(local, remote, "task", "done", str(task))
    assert r.code == 0
    r = _same(local, remote, "task", "done", "999999")
    assert r.code == 1 and "999999" in r.err
    r = _same(local, remote, "note", "add", "1836", "Godt møte med rådmannen.", "--theme",
              "Engasjement")
    assert r.code == 0
    r = _same(local, remote, "note", "add", "9999", "Finnes ikke.")
    assert r.code == 1
    _same(local, remote, "case", "show", "1836", "--json")
    _same(local, remote, "status")

    # A revoked token: a clear message, exit 1, nothing run in-process instead.
    with db.session_scope(url_b) as s:
        tokens.revoke_token(session=s, which="klient")
    r = remote("case", "show", "1836")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("Feil: Tokenet ble avvist av http://127.0.0.1:"), r.err
    assert "AVTALEFLYT_TOKEN" in r.err


def test_a_server_that_is_not_there_is_named_not_bypassed(tmp_path):
    env = cli_env(AVTALEFLYT_URL="http://127.0.0.1:9", AVTALEFLYT_TOKEN="avt_x",
                  AVTALEFLYT_DATA_DIR=str(tmp_path))
    r = avtaleflyt("case", "show", "1836", env=env)
    assert r.code == 1
    assert r.err.startswith("Feil: Får ikke kontakt med avtaleflyt på http://127.0.0.1:9")
    r = avtaleflyt("status", "--json", env=env)
    assert r.code == 1 and "Får ikke kontakt" in r.err
