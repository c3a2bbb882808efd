"""Server-side dashboard sessions, account commands, case-insensitive names and the login
throttle: over HTTP (TestClient) and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app as cli
from avtaleflyt.domain.errors import Conflict
from avtaleflyt.models import LoginAttempt, UserSession, utcnow
from avtaleflyt.settings import load_settings
from avtaleflyt.web.app import create_app
from avtaleflyt.web.auth import SESSION_COOKIE

from .cli_support import run_isolated
from .test_migrations import _upgrade, empty_url  # noqa: F401  (fixture)
from .web_support import PASSWORD, client, csrf_of, logged_in, make_user

runner = CliRunner()
NOTE = {"theme": "other", "text": "Skal ikke lagres."}


def copy_of(c: TestClient, address: str = "testclient") -> TestClient:
    """Another browser (optionally on another address) holding a copy of c's session cookie."""
    other = node(address)
    other.cookies.set(SESSION_COOKIE, c.cookies[SESSION_COOKIE])
    return other


def node(address: str = "testclient") -> TestClient:
    """A browser at `address` talking to a dashboard node started now, with the settings
    the environment has now."""
    return TestClient(create_app(load_settings()), follow_redirects=False,
                      client=(address, 50001))


def login(c: TestClient, username: str, password: str = PASSWORD):
    token = csrf_of(c.get("/logg-inn").text)
    return c.post("/logg-inn", data={"username": username, "password": password,
                                     "csrf_token": token, "neste": "/"})


def refused(c: TestClient) -> bool:
    """The session no longer works: pages redirect to the login, forms answer 401."""
    page = c.get("/")
    post = c.post("/sak/1836/notat", data={**NOTE, "csrf_token": "x"})
    assert page.status_code in (200, 303) and post.status_code in (401, 403, 303, 422)
    return (page.status_code == 303 and page.headers["location"].startswith("/logg-inn")
            and post.status_code == 401)


def move_sessions(url: str, **delta: timedelta) -> None:
    with db.session_scope(url) as s:
        for row in s.exec(select(UserSession)).all():
            for field, d in delta.items():
                setattr(row, field, getattr(row, field) - d)
            s.add(row)
        s.commit()


def test_a_copied_cookie_works_until_logout_and_never_after(db_url):
    c = logged_in(db_url)
    stolen = copy_of(c)
    assert stolen.get("/").status_code == 200  # a copy is as good as the original ...
    token = csrf_of(c.get("/").text)
    assert c.post("/logg-ut", data={"csrf_token": token}).status_code == 303
    assert refused(stolen)  # ... until the owner logs out: the server ended the session
    assert refused(c)
    # The cookie holds a random token only; the database only its SHA-256.
    with db.session_scope(db_url) as s:
        row = s.exec(select(UserSession)).one()
    assert row.revoked_at is not None and stolen.cookies[SESSION_COOKIE] not in row.token_hash


def test_an_idle_session_ends_after_the_configured_minutes(db_url, tmp_path, monkeypatch):
    c = logged_in(db_url)
    move_sessions(db_url, last_seen_at=timedelta(minutes=40), created_at=timedelta(minutes=40))
    assert c.get("/").status_code == 200  # 40 idle minutes are within the default hour
    with db.session_scope(db_url) as s:  # ... and that request counts as activity
        assert utcnow() - s.exec(select(UserSession)).one().last_seen_at < timedelta(minutes=1)
    config = tmp_path / "kort.toml"
    config.write_text("[dashboard]\nsession_idle_minutes = 5\n")
    monkeypatch.setenv("AVTALEFLYT_CONFIG", str(config))
    short = copy_of(c)  # a dashboard started with the shorter idle timeout
    assert short.get("/").status_code == 200
    move_sessions(db_url, last_seen_at=timedelta(minutes=6))
    assert refused(short)


def test_a_session_ends_at_its_absolute_lifetime_even_when_in_use(db_url):
    c = logged_in(db_url)
    with db.session_scope(db_url) as s:
        row = s.exec(select(UserSession)).one()
        assert timedelta(hours=11, minutes=59) < row.expires_at - row.created_at \
            <= timedelta(hours=12)
    move_sessions(db_url, expires_at=timedelta(hours=12, seconds=1))
    assert refused(c)


def test_disabling_a_user_ends_their_session_at_once(db_url):
    c = logged_in(db_url)
    r = runner.invoke(cli, ["user", "disable", "kari"])
    assert r.exit_code == 0 and "stengt" in r.output, r.output
    assert refused(c)
    assert login(client(), "kari").status_code == 401
    listed = json.loads(runner.invoke(cli, ["user", "list", "--json"]).stdout)
    assert listed[0]["active"] is False
    assert runner.invoke(cli, ["user", "enable", "kari"]).exit_code == 0
    assert refused(c)  # enabling revives no old session
    assert login(client(), "kari").status_code == 303
    r = runner.invoke(cli, ["user", "disable", "ola"])
    assert r.exit_code == 1 and "Fant ingen bruker «ola»" in r.output


def test_a_new_password_ends_the_sessions_and_works(db_url):
    a = logged_in(db_url)
    b = client()
    assert login(b, "kari").status_code == 303
    r = runner.invoke(cli, ["user", "password", "kari", "--password-stdin"], input="kort\n")
    assert r.exit_code == 2 and "«passord»" in r.output  # refused, nothing changed
    assert a.get("/").status_code == 200 and b.get("/").status_code == 200
    r = runner.invoke(cli, ["user", "password", "kari"],
                      input="et helt nytt passord\net helt nytt passord\n")
    assert r.exit_code == 0 and "2 innlogginger er avsluttet" in r.output, r.output
    assert "et helt nytt passord" not in r.output  # the prompt hides it
    assert refused(a) and refused(b)
    assert login(client(), "kari", PASSWORD).status_code == 401
    assert login(client(), "kari", "et helt nytt passord").status_code == 303


def test_user_sessions_lists_and_revokes(db_url):
    a = logged_in(db_url)
    b = client()
    assert login(b, "kari").status_code == 303
    r = runner.invoke(cli, ["user", "sessions", "kari", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert len(listed) == 2
    assert set(listed[0]) == {"created_at", "last_seen_at", "expires_at", "address",
                              "user_agent"}
    with db.session_scope(db_url) as s:
        hashes = [row.token_hash for row in s.exec(select(UserSession)).all()]
    for secret in [a.cookies[SESSION_COOKIE], b.cookies[SESSION_COOKIE], *hashes]:
        assert secret not in r.output
    table = runner.invoke(cli, ["user", "sessions", "kari"])
    assert table.exit_code == 0 and "Aktive innlogginger" in table.output
    r = runner.invoke(cli, ["user", "sessions", "kari", "--revoke"])
    assert r.exit_code == 0 and "2 innlogginger er avsluttet" in r.output
    assert refused(a) and refused(b)
    assert json.loads(runner.invoke(cli, ["user", "sessions", "kari", "--json"]).stdout) == []
    r = runner.invoke(cli, ["user", "sessions", "ola"])
    assert r.exit_code == 1 and "Fant ingen bruker «ola»" in r.output


def test_user_sessions_does_not_import_prefect(sqlite_url):
    make_user(sqlite_url)
    run = run_isolated([["user", "sessions", "kari", "--json"]], dict(os.environ))
    assert json.loads(run.outputs[0]) == [] and not run.prefect_loaded


def test_user_names_are_one_regardless_of_case(db_url):
    make_user(db_url, "kari")
    r = runner.invoke(cli, ["user", "add", "Kari", "--county", "18", "--password-stdin"],
                      input="et annet langt passord\n")
    assert r.exit_code == 1 and "«kari» finnes allerede" in r.output, r.output
    listed = json.loads(runner.invoke(cli, ["user", "list", "--json"]).stdout)
    assert [u["username"] for u in listed] == ["kari"]
    # The database itself refuses a second spelling, whoever writes it.
    with pytest.raises(sa.exc.IntegrityError), db.get_engine(db_url).begin() as conn:
        conn.execute(sa.text("INSERT INTO app_user (username, password_hash, active, "
                             "created_at) VALUES ('KARI', 'x', true, '2026-01-01 00:00:00')"))
    c = client()
    assert login(c, "KARI").status_code == 303
    assert "kari" in c.get("/").text
    assert len(json.loads(runner.invoke(cli, ["user", "sessions", "Kari", "--json"]).stdout)) == 1


def test_upgrade_is_refused_while_two_names_differ_only_by_case(empty_url):  # noqa: F811
    _upgrade(empty_url, "0006")
    with db.get_engine(empty_url).begin() as c:
        for name in ("kari", "Kari", "ola"):
            c.execute(sa.text("INSERT INTO app_user (username, password_hash, active, "
                              f"created_at) VALUES ('{name}', 'x', true, "
                              "'2026-01-01 00:00:00+00:00')"))
    with pytest.raises(Conflict) as e:
        db.upgrade(empty_url)
    assert "«kari» (id 1) og «Kari» (id 2)" in e.value.message and "ola" not in e.value.message
    assert db.current_revision(empty_url) == "0006"  # nothing changed
    with db.get_engine(empty_url).begin() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM app_user")).scalar_one() == 3
        c.execute(sa.text("UPDATE app_user SET username = 'kari2' WHERE id = 2"))
    db.upgrade(empty_url)
    assert db.current_revision(empty_url) == db.head_revision()


def test_bad_logins_are_throttled_for_a_name_without_checking_the_password(db_url, caplog):
    make_user(db_url)
    caplog.set_level(logging.INFO, logger="avtaleflyt.auth")
    c = client()
    codes = [login(c, "kari", f"feil passord {i}").status_code for i in range(20)]
    assert codes == [401] * 5 + [429] * 15
    right = login(c, "kari")  # even the right password is refused while throttled
    assert right.status_code == 429 and SESSION_COOKIE not in right.cookies
    assert "For mange mislykkede innlogginger. Prøv igjen kl." in right.text
    assert "om 15 minutter" in right.text and 800 < int(right.headers["retry-after"]) <= 900
    # From another address, and on another dashboard node: the name is still throttled.
    assert login(node("10.0.0.9"),
                 "KARI").status_code == 429
    # The log: every attempt with name, address and outcome; never a password.
    lines = [r.getMessage() for r in caplog.records if r.name == "avtaleflyt.auth"]
    assert lines[0] == "login failure: username='kari' address=testclient"
    assert lines.count("login throttled: username='kari' address=testclient") == 16
    assert PASSWORD not in caplog.text and "feil passord" not in caplog.text
    # Once the failures are older than the window, the right password works (and is logged).
    with db.session_scope(db_url) as s:
        for row in s.exec(select(LoginAttempt)).all():
            row.attempted_at -= timedelta(minutes=16)
            s.add(row)
        s.commit()
    caplog.clear()
    assert login(c, "kari").status_code == 303
    assert [r.getMessage() for r in caplog.records if r.name == "avtaleflyt.auth"] == \
        ["login success: username='kari' address=testclient"]


def test_the_wait_grows_with_each_run_of_failures(db_url):
    """Five failures wait 15 minutes; five more after that wait 30, then 60."""
    make_user(db_url)
    c = client()

    def run_of_failures() -> int:
        codes = [login(c, "kari", f"feil {i}").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        return int(login(c, "kari", "feil igjen").headers["retry-after"])

    def wait_it_out(minutes: int) -> None:
        with db.session_scope(db_url) as s:
            for row in s.exec(select(LoginAttempt)).all():
                row.attempted_at -= timedelta(minutes=minutes)
                s.add(row)
            s.commit()

    waits = []
    for minutes in (16, 31, 61):
        waits.append(run_of_failures())
        wait_it_out(minutes)
    assert 800 < waits[0] <= 900 and 1700 < waits[1] <= 1800 and 3500 < waits[2] <= 3600


def test_bad_logins_from_one_address_are_throttled_across_names(db_url):
    make_user(db_url, "kari")
    make_user(db_url, "tove", "55")
    c = node("10.0.0.7")
    for name in ("ola", "per", "kari", "nina", "tove"):
        assert login(c, name, "feil passord").status_code == 401
    assert login(c, "tove").status_code == 429  # another name, the right password
    # Somebody else, elsewhere, is not affected.
    assert login(node("10.0.0.8"),
                 "tove").status_code == 303


def test_a_bad_dashboard_setting_is_refused_naming_it(db_url, tmp_path, monkeypatch):
    make_user(db_url)
    config = tmp_path / "feil.toml"
    config.write_text("[dashboard]\nsession_idle_minutes = 0\n")
    monkeypatch.setenv("AVTALEFLYT_CONFIG", str(config))
    r = runner.invoke(cli, ["user", "sessions", "kari"])
    assert r.exit_code == 2 and "«dashboard.session_idle_minutes»" in r.output
