"""The CLI as the API's client (issue 10): the same commands, run as a user runs them (new
processes), once in-process against database A and once through the API of a real server
(uvicorn on a free port) holding database B. Both start from the same state, so the output
and the exit codes must be identical — that is the promise of client mode."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from avtaleflyt import db
from avtaleflyt.services import tokens

from .client_support import api_server, avtaleflyt, cli_env, make_token
from .web_support import open_case, record

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

TODAY = date.today()


def _setup(url: str) -> None:
    """Rødøy in political approval, Meløy in system setup (through the services,
    identically in A and B)."""
    open_case(url, "1836", TODAY - timedelta(20))
    for fact in ("meeting-held", "needs-assessed", "intent-confirmed"):
        record(url, "1836", fact, TODAY - timedelta(10))
    # Meløy in system setup, whose checklist the coordinator ticks off (`task done`).
    on = TODAY - timedelta(8)
    open_case(url, "1837", on)
    for fact, options in SETUP:
        record(url, "1837", fact, on, **options)


SETUP = [("meeting-held", {}), ("needs-assessed", {}), ("intent-confirmed", {}),
         ("council-decision", {"outcome": "approved"}),
         ("county-decision", {"outcome": "approved"}),
         ("terms-set", {"start": (TODAY + timedelta(90)).isoformat(), "years": "3",
                        "notice_months": "6"}),
         ("signed", {"party": "municipality"}), ("signed", {"party": "county"})]


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
    # Nordland's coordinator, named as AVTALEFLYT_USER: the same author, and every note of
    # the county's cases shown (a national user sees only shared notes, as on the dashboard).
    token = make_token(url_b, county="18")
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


_WHEN = re.compile(r'"(recorded_at|created_at|at)": "[^"]+"')
# A DOCX or PDF carries the moment it was made: its SHA-256 (and size) differ in A and B.
_MADE = re.compile(r'(?<="sha256": ")[0-9a-f]{64}|(?<="size": )\d+|\b[0-9a-f]{7,12}(?=…)')


def _same(local, remote, *args):
    """Both ways print the same and exit the same (the clock's time of a row aside)."""
    a, b = local(*args), remote(*args)
    assert "Traceback" not in a.err + b.err, (a.err, b.err)
    a.out, b.out = _WHEN.sub(r'"\1": "…"', a.out), _WHEN.sub(r'"\1": "…"', b.out)
    if args[0] in ("doc", "report"):
        a.out, b.out = _MADE.sub("0", a.out), _MADE.sub("0", b.out)
    if (b.code, b.out, b.err) != (a.code, a.out, a.err):
        import difflib

        diff = "\n".join(difflib.unified_diff((a.out + a.err).splitlines(),
                                               (b.out + b.err).splitlines(), "in-process",
                                               "client", lineterm=""))
        pytest.fail(f"{args}: exit {a.code} / {b.code}\n{diff}")
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
    _same(local, remote, "case", "show", "1836", "--json")
    detail = json.loads(_same(local, remote, "case", "show", "1837", "--json").out)
    # The first open task a coordinator may mark done (some close with a fact): refused
    # tasks write nothing, so A and B stay alike.
    for task in (t["id"] for t in detail["tasks"] if not t["done_on"]):
        if local("task", "done", str(task)).code == 0:
            break
    else:
        pytest.fail("no open task can be marked done")
    r = remote("task", "done", str(task))
    assert r.code == 0 and "gjort" in r.out, r.err
    r = _same(local, remote, "task", "done", str(task))  # again: nothing changes, alike
    assert r.code == 0 and "allerede gjort" in r.out
    r = _same(local, remote, "task", "done", "999999")
    assert r.code == 1 and "999999" in r.err
    r = _same(local, remote, "note", "add", "1836", "Godt møte med rådmannen.", "--theme",
              "Engasjement")
    assert r.code == 0
    r = _same(local, remote, "note", "add", "9999", "Finnes ikke.")
    assert r.code == 1
    # A meeting plan uploaded (the file is read by the client), contacts (no flow run).
    plan = str(Path(__file__).resolve().parent.parent / "examples" / "moteplan.csv")
    r = _same(local, remote, "meeting", "import", plan)
    assert r.code == 0 and "Importerte" in r.out and "moteplan.csv" in r.out
    _same(local, remote, "meeting", "list", "--json")
    r = _same(local, remote, "contact", "add", "1836", "--name", "Kari Nordmann", "--role",
              "kommunedirektør", "--email", "kari@example.org", "--primary")
    assert r.code == 0
    _same(local, remote, "contact", "list", "1836")
    _same(local, remote, "case", "show", "1836", "--json")
    _same(local, remote, "status")

    # A revoked token: a clear message, exit 1, nothing run in-process instead.
    with db.session_scope(url_b) as s:
        tokens.revoke_token(session=s, which="klient")
    r = remote("case", "show", "1836")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("Feil: Tokenet ble avvist av http://127.0.0.1:"), r.err
    assert "AVTALEFLYT_TOKEN" in r.err


def test_documents_reports_and_reminders_through_the_api_as_in_process(both, tmp_path):
    local, remote, url_b, token, env = both
    _same(local, remote, "doc", "list", "1836")
    # A stored version: the same name and line; then listed alike, and fetched alike.
    r = _same(local, remote, "doc", "render", "1836", "agreement", "--format", "docx")
    assert r.code == 0 and r.out.startswith("Lagret 1836/agreement-v"), r.out
    name = r.out.split()[1]
    r = _same(local, remote, "doc", "list", "1836", "--json")
    assert name in {d["path"] for d in json.loads(r.out)}
    _same(local, remote, "doc", "list", "1836")
    copy = tmp_path / "ut" / "avtale.docx"
    r = _same(local, remote, "doc", "get", name, "--out", str(copy))
    assert r.code == 0 and f"{name} → {copy}" in r.out
    assert copy.read_bytes()[:2] == b"PK"  # the client wrote the server's bytes
    copy.unlink()
    # --out: the file only, written here (no version stored, in A nor in B).
    page = tmp_path / "saksframlegg.html"
    r = _same(local, remote, "doc", "render", "1836", "saksframlegg", "--out", str(page))
    assert r.code == 0 and r.out.strip() == str(page)
    assert "Rødøy" in page.read_text(encoding="utf-8")
    _same(local, remote, "doc", "list", "1836", "--json")
    # Refusals: an unknown kind (exit 2), an unknown municipality or name (exit 1).
    r = _same(local, remote, "doc", "render", "1836", "brev")
    assert r.code == 2 and r.err.startswith("Feil: ")
    r = _same(local, remote, "doc", "list", "9999")
    assert r.code == 1 and "9999" in r.err
    r = _same(local, remote, "doc", "get", "1836/agreement-v99.docx", "--out", str(copy))
    assert r.code == 1 and not copy.exists()
    # The experience report: figures, a stored version, the list of reports.
    r = _same(local, remote, "report", "experience", "--json")
    assert json.loads(r.out)["county_code"] == "18"
    r = _same(local, remote, "report", "list")
    assert "Ingen rapporter" in r.out
    r = _same(local, remote, "report", "experience")
    assert r.code == 0 and r.out.startswith("Lagret "), r.out
    _same(local, remote, "report", "list", "--json")
    _same(local, remote, "report", "list")
    report = tmp_path / "erfaringer.html"
    r = _same(local, remote, "report", "experience", "--out", str(report))
    assert r.code == 0 and report.stat().st_size > 0
    _same(local, remote, "reminders", "list")
    _same(local, remote, "reminders", "list", "--json", "--days", "365")


def test_a_server_that_is_not_there_is_named_not_bypassed(tmp_path):
    env = cli_env(AVTALEFLYT_URL="http://127.0.0.1:9", AVTALEFLYT_TOKEN="avt_x",
                  AVTALEFLYT_DATA_DIR=str(tmp_path))
    r = avtaleflyt("case", "show", "1836", env=env)
    assert r.code == 1
    assert r.err.startswith("Feil: Får ikke kontakt med avtaleflyt på http://127.0.0.1:9")
    r = avtaleflyt("status", "--json", env=env)
    assert r.code == 1 and "Får ikke kontakt" in r.err
