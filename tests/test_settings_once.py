"""Settings are built once per entry point and passed on: the CLI's options reach the flow
runs it starts without passing through the environment, and a misspelt AVTALEFLYT_*
variable stops the program instead of being ignored."""

from __future__ import annotations

import json
import os
from avtaleflyt.settings import load_settings
import shutil
from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt import db, runtime
from avtaleflyt.models import Event, OnboardingCase

from .test_cli import cli


def test_a_misspelt_variable_stops_the_cli_and_names_the_right_one(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.delenv("AVTALEFLYT_DATABASE_URL", raising=False)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(data))
    monkeypatch.setenv("AVTALEFLYT_DATABSE_URL", f"sqlite:///{tmp_path / 'meant.db'}")
    result = cli("status")
    assert result.exit_code == 2, result.output
    assert "AVTALEFLYT_DATABSE_URL" in result.stderr
    assert "AVTALEFLYT_DATABASE_URL" in result.stderr.replace("AVTALEFLYT_DATABSE_URL", "")
    assert "Traceback" not in result.output
    assert not data.exists() or not any(data.iterdir())  # no new, empty database
    assert not (tmp_path / "meant.db").exists()


def test_per_county_recipients_and_known_names_are_accepted(sqlite_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS_55", "json://127.0.0.1:1/x")
    monkeypatch.setenv("AVTALEFLYT_LEADER_URLS_18", "json://127.0.0.1:1/y")
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS", "json://127.0.0.1:1/z")
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    for wrong in ("AVTALEFLYT_NOTIFY_URLS_X", "AVTALEFLYT_NOTIFY_URLS_5",
                  "AVTALEFLYT_NOTIFY_URLS_54",  # Troms og Finnmark before 2024
                  "AVTALEFLYT_COUNTY_NOTIFY_URLS"):
        monkeypatch.setenv(wrong, "json://127.0.0.1:1/x")
        result = cli("status", "--json")
        assert result.exit_code == 2 and wrong in result.stderr, wrong
        monkeypatch.delenv(wrong)


def test_a_flow_run_outside_the_cli_refuses_a_misspelt_variable(tmp_path, monkeypatch):
    """An entry point nobody installed settings for (a scheduled flow run) checks too."""
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AVTALEFLYT_TEMPLATEDIR", str(tmp_path))
    with pytest.raises(ValueError, match="AVTALEFLYT_TEMPLATE_DIR"):
        runtime.settings()


@pytest.mark.prefect
def test_db_and_today_options_reach_the_flow_run_without_touching_the_environment(
        db_url, tmp_path, sqlite_template, prefect_server):
    other = tmp_path / "other.db"
    shutil.copy(sqlite_template, other)
    other_url = f"sqlite:///{other}"
    # --by is refused unless the installation allows it ([cli] allow_by, e.g. training).
    refused = cli("--db", other_url, "--by", "ola", "case", "open", "1836")
    assert refused.exit_code == 2 and "«--by»" in refused.output
    allows = tmp_path / "opplaering.toml"
    allows.write_text("[cli]\nallow_by = true\n")
    environ = dict(os.environ)
    opened = cli("--db", other_url, "--today", "02.03.2026", "--config", str(allows),
                 "--by", "ola", "case", "open", "1836")
    assert opened.exit_code == 0, opened.output
    assert dict(os.environ) == environ
    status = json.loads(cli("--db", other_url, "--today", "2026-03-02",
                            "status", "--json").stdout)
    assert [r["kommunenummer"] for r in status] == ["1836"]
    with db.session_scope(other_url) as s:
        case = s.exec(select(OnboardingCase)).one()
        assert case.opened_on == date(2026, 3, 2)
        assert {e.recorded_by for e in s.exec(select(Event))} == {"ola"}
    # The database in the environment (the fixture's) was not touched.
    assert json.loads(cli("status", "--json").stdout) == []
    assert dict(os.environ) == environ


def test_settings_installed_for_a_command_end_with_it(db_url, tmp_path, sqlite_template):
    other = tmp_path / "other.db"
    shutil.copy(sqlite_template, other)
    assert cli("--db", f"sqlite:///{other}", "--today", "2026-03-02", "status").exit_code == 0
    assert runtime.settings().effective_database_url == db_url
    assert runtime.settings().today is None


@pytest.mark.slow
@pytest.mark.prefect
def test_the_demo_switches_database_without_leaking_it(sqlite_url, tmp_path, monkeypatch,
                                                       prefect_server):
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-11-26")
    environ = dict(os.environ)
    result = cli("demo")
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == environ
    demo_db = tmp_path / "data" / "demo.db"
    assert demo_db.exists()
    with db.session_scope(f"sqlite:///{demo_db}") as s:
        assert s.exec(select(OnboardingCase)).first() is not None
    # The database of the environment is still the one in use, and still has no cases.
    assert runtime.settings().effective_database_url == sqlite_url
    assert json.loads(cli("status", "--json").stdout) == []


def test_the_cli_user_is_the_os_account_not_a_variable_anyone_can_set(monkeypatch):
    """$LOGNAME and $USER are one command's environment; the history records the account
    from the password database (AVTALEFLYT_USER is the installation's own setting)."""
    import pwd

    monkeypatch.delenv("AVTALEFLYT_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "eve")
    monkeypatch.setenv("USER", "eve")
    assert load_settings().user == pwd.getpwuid(os.getuid()).pw_name != "eve"
