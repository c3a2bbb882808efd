"""The JSON API's tokens and authentication: only a valid token of an active user gets in,
and every refusal is a 401 problem+json (never the dashboard's HTML or its login redirect)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.models import ApiToken, utcnow
from avtaleflyt.services import tokens, users
from sqlmodel import select

from .web_support import client, logged_in, make_user

runner = CliRunner()


def _token(url: str, username: str = "kari", **kw) -> str:
    with db.session_scope(url) as s:
        return tokens.create_token(session=s, name=kw.pop("name", "skript"),
                                   username=username, **kw)[1]


def _ping(c, token: str | None = None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return c.post("/api/v1/ping", headers=headers)


def _assert_401(r) -> dict:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    assert body["status"] == 401 and body["error"] == "Unauthorized"
    assert body["title"] and body["detail"] and body["exit_code"] == 1
    return body


def test_ping_answers_the_tokens_user(sqlite_url):
    make_user(sqlite_url)
    token = _token(sqlite_url)
    assert token.startswith("avt_")
    r = _ping(client(), token)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "user": "kari"}
    with db.session_scope(sqlite_url) as s:  # only a hash is stored; the use is recorded
        row = s.exec(select(ApiToken)).one()
        assert row.token_hash != token and token not in row.token_hash
        assert row.last_used_at is not None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer avt_unknown-token",
                                    "Bearer not-even-our-prefix", "Basic a2FyaTpwYXNz"])
def test_missing_malformed_or_unknown_token_is_401(sqlite_url, header):
    make_user(sqlite_url)
    _token(sqlite_url)
    headers = {} if header is None else {"Authorization": header}
    body = _assert_401(client().post("/api/v1/ping", headers=headers))
    if header is None:
        assert "Authorization: Bearer" in body["detail"]


def test_revoked_token_is_401_at_once(db_url):
    make_user(db_url)
    token = _token(db_url)
    c = client()
    assert _ping(c, token).status_code == 200
    with db.session_scope(db_url) as s:
        tokens.revoke_token(session=s, which="skript")
    _assert_401(_ping(c, token))


def test_expired_token_is_401(sqlite_url):
    make_user(sqlite_url)
    old = _token(sqlite_url, name="gammel", expires_days=1, now=utcnow() - timedelta(days=2))
    fresh = _token(sqlite_url, name="ny", expires_days=1)
    c = client()
    _assert_401(_ping(c, old))
    assert _ping(c, fresh).status_code == 200


def test_a_disabled_users_token_stops_working(sqlite_url):
    make_user(sqlite_url)
    token = _token(sqlite_url)
    c = client()
    with db.session_scope(sqlite_url) as s:
        users.set_active(session=s, username="kari", active=False)
    _assert_401(_ping(c, token))
    with db.session_scope(sqlite_url) as s:
        users.set_active(session=s, username="kari", active=True)
    assert _ping(c, token).status_code == 200


def test_a_dashboard_login_does_not_authenticate_api_writes(sqlite_url):
    """The session cookie is sent by the browser on its own, so it must not write through
    the API (no CSRF check there); a token must be sent explicitly."""
    c = logged_in(sqlite_url)
    _assert_401(c.post("/api/v1/ping"))


def test_api_errors_are_problems_not_the_dashboards_pages(sqlite_url):
    make_user(sqlite_url)
    token = _token(sqlite_url)
    c = client()
    r = c.get("/api/v1/finnes-ikke", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404 and "<html" not in r.text
    r = c.get("/api/v1/ping", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 405 and r.json()["status"] == 405
    r = _ping(c, token, **{"Idempotency-Key": "kort"})
    assert r.status_code == 200  # ping does not read the key …
    # … and a dashboard page still gets its HTML page
    assert "text/html" in c.get("/finnes-ikke").headers["content-type"]


def test_token_service_refuses_bad_input(sqlite_url):
    make_user(sqlite_url)
    with db.session_scope(sqlite_url) as s:
        with pytest.raises(NotFound):
            tokens.create_token(session=s, name="x", username="ukjent")
        with pytest.raises(InvalidInput) as e:
            tokens.create_token(session=s, name="  ", username="kari")
        assert e.value.field == "name"
        with pytest.raises(InvalidInput):
            tokens.create_token(session=s, name="x", username="kari", expires_days=0)
        tokens.create_token(session=s, name="x", username="kari")
        with pytest.raises(Conflict):
            tokens.create_token(session=s, name="x", username="kari")
        assert len(s.exec(select(ApiToken)).all()) == 1
        with pytest.raises(NotFound):
            tokens.revoke_token(session=s, which="y")


def test_token_commands(sqlite_url):
    make_user(sqlite_url)
    make_user(sqlite_url, "ola", county=None)
    r = runner.invoke(app, ["token", "create", "arkiv", "--user", "kari", "--expires", "30"])
    assert r.exit_code == 0, r.output
    plain = r.stdout.strip().splitlines()[-1]
    assert plain.startswith("avt_") and "vises bare nå" in r.stdout
    assert _ping(client(), plain).json()["user"] == "kari"
    r = runner.invoke(app, ["token", "create", "arkiv", "--user", "ola"])
    assert r.exit_code == 0, r.output
    listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)
    assert [(t["name"], t["user"], t["state"]) for t in listed] == [
        ("arkiv", "kari", "active"), ("arkiv", "ola", "active")]
    assert listed[0]["expires_at"] and listed[1]["expires_at"] is None
    assert plain not in runner.invoke(app, ["token", "list"]).stdout
    r = runner.invoke(app, ["token", "revoke", "arkiv"])  # two of that name: which?
    assert r.exit_code == 1 and "Flere token" in r.output
    r = runner.invoke(app, ["token", "revoke", "arkiv", "--user", "kari"])
    assert r.exit_code == 0, r.output
    _assert_401(_ping(client(), plain))
    r = runner.invoke(app, ["token", "create", "x", "--user", "kari", "--expires", "-1"])
    assert r.exit_code == 2 and "--expires" in r.output
    r = runner.invoke(app, ["token", "revoke", str(listed[1]["id"])])
    assert r.exit_code == 0
    states = [t["state"] for t in json.loads(runner.invoke(app, ["token", "list", "--json"])
                                             .stdout)]
    assert states == ["revoked", "revoked"]


def test_token_commands_do_not_import_prefect(sqlite_url):
    import os

    from .cli_support import run_isolated

    make_user(sqlite_url)
    run = run_isolated([["token", "create", "skript", "--user", "kari"], ["token", "list"],
                        ["token", "revoke", "skript"]], dict(os.environ))
    assert not run.prefect_loaded
    assert "trukket tilbake" in run.outputs[2]
