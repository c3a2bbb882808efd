"""The CLI as a user runs it: real commands, a real database, real Prefect flow runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avtaleflyt.cli.main import app

from .cli_support import run_isolated

runner = CliRunner()


def cli(*args: str, today: str | None = None):
    argv = (["--today", today] if today else []) + list(args)
    return runner.invoke(app, argv, catch_exceptions=False)


def show(knr: str = "1836", today: str = "2026-09-01") -> dict:
    result = cli("case", "show", knr, "--json", today=today)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


pytestmark = pytest.mark.prefect


def test_full_path_with_cli_commands_only(db_url, prefect_server):
    steps = [
        ("2026-03-02", ["case", "open", "1836"]),
        ("2026-03-10", ["case", "record", "1836", "meeting-held"]),
        ("2026-03-12", ["case", "record", "1836", "needs-assessed"]),
        ("2026-03-19", ["case", "record", "1836", "intent-confirmed"]),
        # Norwegian values (and a Norwegian name for the fact); English keys stay valid.
        ("2026-04-23", ["case", "record", "1836", "kommunestyrevedtak", "--outcome", "vedtatt",
                        "--ref", "PS 21/20"]),
        ("2026-05-05", ["case", "record", "1836", "county-decision", "--outcome", "approved"]),
        ("2026-05-11", ["case", "record", "1836", "terms-set", "--start", "01.09.2026",
                        "--years", "3", "--notice-months", "6", "--price", "120 000",
                        "--position-share", "20"]),
        ("2026-05-20", ["case", "record", "1836", "signed", "--party", "kommunen"]),
        ("2026-05-22", ["case", "record", "1836", "signed", "--party", "county"]),
    ]
    for today, args in steps:
        result = cli(*args, today=today)
        assert result.exit_code == 0, (args, result.output)
    assert show(today="2026-05-22")["stage"] == "system_setup"
    setup = [t for t in show(today="2026-08-14")["tasks"] if t["stage"] == "system_setup"]
    assert len(setup) == 7
    for t in setup:
        assert cli("task", "done", str(t["id"]), "--date", "2026-08-14",
                   today="2026-08-14").exit_code == 0
    assert show(today="2026-08-14")["stage"] == "system_setup"  # waits for the start date
    assert cli("note", "add", "1836", "--theme", "Engasjement", "Godt møte",
               today="2026-08-31").exit_code == 0
    assert show(today="2026-08-31")["stage"] == "system_setup"
    advanced = cli("case", "advance", "1836", today="2026-09-01")
    assert advanced.exit_code == 0 and "Drift" in advanced.stdout
    d = show(today="2026-09-01")
    assert (d["stage"], d["status"]) == ("running_operation", "active")
    status = json.loads(cli("status", "--json", today="2026-09-01").stdout)
    assert status == [{"kommunenummer": "1836", "municipality": "Rødøy",
                       "county_code": "18", "county": "Nordland fylkeskommune",
                       "stage": "running_operation", "status": "active",
                       "next_deadline": status[0]["next_deadline"], "overdue_tasks": 0}]


BAD_COMMANDS = [
    (["case", "record", "1836", "signed", "--party", "county"], "Avtaleinngåelse"),
    (["case", "record", "1836", "needs-assessed", "--date", "2026-03-01"], "før"),
    (["case", "record", "1836", "needs-assessed", "--date", "31.02.2026"], "finnes ikke"),
    (["case", "record", "1836", "needs-assessed", "--date", "i går"], "dato"),
    (["case", "record", "1836", "council-decision", "--outcome", "kanskje"],
     "«--outcome»: «kanskje» er ikke et gyldig valg. Velg en av: vedtatt, avslått, utsatt."),
    (["case", "record", "1836", "teleported"], "Ukjent hendelse"),
    (["case", "record", "9999", "meeting-held"], "9999"),
    (["case", "record", "18366", "meeting-held"], "fire siffer"),
    (["case", "open", "1836"], "åpen sak"),
    (["case", "resume", "1836"], "ikke satt på vent"),
    (["task", "done", "99999"], "99999"),
    (["note", "add", "1836", "--theme", "gossip", "x"], "theme"),
    (["case", "record", "1836", "meeting-held", "--date", "2026-03-11"], "allerede registrert"),
]


def test_refused_commands_fail_clearly_and_change_nothing(db_url, prefect_server):
    assert cli("case", "open", "1836", today="2026-03-02").exit_code == 0
    assert cli("case", "record", "1836", "meeting-held", today="2026-03-10").exit_code == 0
    before = show(today="2026-03-20")
    for args, expected in BAD_COMMANDS:
        result = cli(*args, today="2026-03-20")
        assert result.exit_code != 0, args
        if "kanskje" in args:
            assert result.exit_code == 2  # a malformed value, before anything runs
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert show(today="2026-03-20") == before


def test_rerunning_a_command_changes_nothing(db_url, prefect_server):
    assert cli("case", "open", "1836", today="2026-03-02").exit_code == 0
    first = cli("case", "record", "1836", "meeting-held", "--date", "2026-03-10",
                today="2026-03-12")
    before = show(today="2026-03-12")
    again = cli("case", "record", "1836", "meeting-held", "--date", "2026-03-10",
                today="2026-03-12")
    assert first.exit_code == again.exit_code == 0
    assert "ingen endring" in again.stdout
    assert show(today="2026-03-12") == before


def test_read_only_commands_never_import_prefect(db_url):
    env = {**os.environ, "AVTALEFLYT_DATABASE_URL": db_url}
    run = run_isolated([["status", "--json"], ["municipality", "list", "--json"], ["status"]],
                       env)
    assert not run.prefect_loaded


def test_every_county_and_municipality_of_norway_is_loaded(db_url):
    counties = json.loads(cli("county", "list", "--json").stdout)
    assert len(counties) == 15
    by_code = {c["code"]: c for c in counties}
    assert by_code["18"]["municipalities"] == 41 and by_code["55"]["municipalities"] == 21
    assert sum(c["municipalities"] for c in counties) == 357
    rows = json.loads(cli("municipality", "list", "--json").stdout)
    assert len(rows) == 357
    nordland = json.loads(cli("municipality", "list", "--county", "18", "--json").stdout)
    assert len(nordland) == 41 and {r["county_code"] for r in nordland} == {"18"}
    assert {"kommunenummer": "1836", "name": "Rødøy", "county_code": "18",
            "county": "Nordland fylkeskommune", "stage": None, "status": None} in nordland
    troms = {r["kommunenummer"]: r["name"] for r in json.loads(
        cli("municipality", "list", "--county", "55", "--json").stdout)}
    assert troms["5501"] == "Tromsø" and troms["5544"] == "Nordreisa - Ráisa - Raisi"


def test_an_unknown_county_is_refused_by_name(db_url):
    result = cli("municipality", "list", "--county", "77")
    assert result.exit_code == 2
    assert "«77»" in result.output and "fylke" in result.output.lower()


def test_init_creates_the_default_sqlite_database_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("AVTALEFLYT_DATABASE_URL", raising=False)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "avtaleflyt.db").exists()
    assert str(tmp_path / "data" / "avtaleflyt.db") in result.stdout.replace("\n", "")
    assert "15 fylker og 357 kommuner" in result.stdout
    again = cli("init")  # upgrading an up-to-date database is harmless
    assert again.exit_code == 0 and "kommuner" not in again.stdout


def test_database_password_is_never_printed(monkeypatch, tmp_path):
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path))
    result = cli("--db", "postgresql://avtale:hemmelig-passord@127.0.0.1:1/nope", "init")
    assert result.exit_code != 0
    assert "hemmelig-passord" not in result.output


def test_commands_on_an_uninitialised_database_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = cli("status")
    assert result.exit_code == 1 and "avtaleflyt init" in result.stderr


def test_bad_settings_fail_fast(monkeypatch):
    result = cli("--db", "mysql://x", "status")
    assert result.exit_code == 2 and "--db" in result.stderr
    result = cli("--today", "2026-13-01", "status")
    assert result.exit_code == 2 and "--today" in result.stderr


@pytest.mark.slow
def test_demo_drives_a_year_and_prints_the_status(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVTALEFLYT_")}
    env |= {"AVTALEFLYT_DATA_DIR": str(tmp_path), "AVTALEFLYT_TODAY": "2026-11-26",
            "COLUMNS": "200"}
    exe = Path(sys.executable).with_name("avtaleflyt")
    result = subprocess.run([str(exe), "demo"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    demo_db = tmp_path / "demo.db"
    status = json.loads(subprocess.run(
        [str(exe), "--db", f"sqlite:///{demo_db}", "status", "--json"], env=env,
        capture_output=True, text=True, check=True).stdout)
    by_knr = {r["kommunenummer"]: r for r in status}
    assert by_knr["1836"]["stage"] == "running_operation"
    assert by_knr["1839"]["status"] == "rejected"
    assert by_knr["1856"]["status"] == "on_hold"
    reached = {r["stage"] for r in status if r["status"] == "active"}
    assert reached == {"first_contact", "political_approval", "contract_signing",
                       "system_setup", "running_operation"}
    assert "Rødøy" in result.stdout and "Drift" in result.stdout
    # It ends with the one command that opens the dashboard on the demo data, and a login
    # that works there.
    assert f"avtaleflyt --db sqlite:///{demo_db} serve" in result.stdout
    password = re.search(r"logg inn som «demo» med passordet «([^»]+)»", result.stdout)[1]
    from avtaleflyt import db as avtaleflyt_db
    from avtaleflyt.services.users import authenticate

    with avtaleflyt_db.session_scope(f"sqlite:///{demo_db}") as s:
        user = authenticate(session=s, username="demo", password=password)
        assert user is not None and user.county_code == "18"
    # Its documents are in demo.db: nothing was written to (or read from) a documents folder.
    assert not (tmp_path / "documents").exists() and not (tmp_path / "demo-documents").exists()


def test_a_refused_command_never_starts_prefect(db_url):
    """Preflight checks the domain's rules before a flow starts, so a mistake is refused
    at once instead of after Prefect's start-up."""
    env = {**os.environ, "AVTALEFLYT_DATABASE_URL": db_url, "AVTALEFLYT_TODAY": "2026-03-20"}
    run = run_isolated([["case", "record", "1836", "meeting-held"], ["case", "open", "9999"],
                        ["case", "hold", "1836"], ["note", "add", "1836", "Et notat"],
                        ["task", "done", "99999"]], env, succeed=False)
    assert not run.prefect_loaded
    assert "har ingen sak" in run.stderr and "9999" in run.stderr
