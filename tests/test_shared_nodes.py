"""Several dashboard nodes on one database (issue 11): a login, a form's CSRF token and a
flash message from node A are valid on node B, and a document stored through node A
downloads from node B with the same bytes and SHA-256.

Two app instances (two TestClients) with their own data directories, sharing only the
PostgreSQL database and AVTALEFLYT_SESSION_SECRET, as two machines behind a load balancer.
"""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app as cli_app
from avtaleflyt.models import Document
from avtaleflyt.services.reference import load_reference_data
from avtaleflyt.settings import Settings
from avtaleflyt.web.app import create_app

from .conftest import throwaway_pg_database
from .web_support import PASSWORD, csrf_of, make_user, open_case, record

SECRET = "q3K8vX1mZp7RtY2wLs9NbC4dFh6JgE0uAaSs-_Tt"  # 40 random-looking characters


@pytest.fixture
def shared_pg(tmp_path, monkeypatch):
    with throwaway_pg_database("avtaleflyt_nodes") as url:
        db.upgrade(url)
        with db.session_scope(url) as s:
            load_reference_data(s)
        # The flows started by a form read the node's settings; nothing from the environment.
        for name in ("AVTALEFLYT_DATABASE_URL", "AVTALEFLYT_DATA_DIR", "AVTALEFLYT_TODAY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AVTALEFLYT_USER", "testkoordinator")
        yield url


def node(url: str, data_dir, secret: str | None = SECRET) -> TestClient:
    settings = Settings(data_dir=data_dir, database_url=url, session_secret=secret)
    return TestClient(create_app(settings), follow_redirects=False)


def test_login_and_form_tokens_from_one_node_work_on_another(shared_pg, tmp_path):
    a, b = node(shared_pg, tmp_path / "a"), node(shared_pg, tmp_path / "b")
    stranger = node(shared_pg, tmp_path / "c",
                    secret="a-different-key-Zx81Qw27Er63Ty94Ui05OpLk")
    make_user(shared_pg)
    # The login form comes from A (its CSRF token is in A's signed state cookie) and is
    # posted to B: B can read A's cookie only if they share the key.
    token = csrf_of(a.get("/logg-inn").text)
    form = {"username": "kari", "password": PASSWORD, "csrf_token": token, "neste": "/"}
    stranger.cookies.update(a.cookies)
    refused = stranger.post("/logg-inn", data=form)
    assert refused.status_code != 303 and "avtaleflyt_session" not in refused.cookies
    b.cookies.update(a.cookies)
    r = b.post("/logg-inn", data=form)
    assert r.status_code == 303, r.text
    # The session (a row in the database) is valid on A too.
    a.cookies.update(b.cookies)
    board = a.get("/")
    assert board.status_code == 200 and "kari" in board.text
    assert not list((tmp_path / "a").glob("session_secret"))  # the setting, not a file
    # Logging out on A ends the session everywhere.
    token = csrf_of(board.text)
    assert a.post("/logg-ut", data={"csrf_token": token}).status_code == 303
    b.cookies.update(a.cookies)
    assert b.get("/").status_code in (302, 303, 307)


@pytest.mark.prefect
def test_a_document_stored_through_one_node_downloads_from_another(shared_pg, tmp_path,
                                                                   prefect_server):
    a, b = node(shared_pg, tmp_path / "a"), node(shared_pg, tmp_path / "b")
    make_user(shared_pg)
    token = csrf_of(a.get("/logg-inn").text)
    assert a.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                     "csrf_token": token, "neste": "/"}).status_code == 303
    b.cookies.update(a.cookies)
    open_case(shared_pg, "1836", date(2026, 3, 2))
    record(shared_pg, "1836", "meeting-held", date(2026, 3, 10))
    record(shared_pg, "1836", "needs-assessed", date(2026, 3, 12))
    # The fact that enters political approval, through A's form: A's flow run stores the
    # saksframlegg (HTML and DOCX).
    token = csrf_of(a.get("/sak/1836").text)
    r = a.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "intent-confirmed"})
    assert r.status_code == 303
    # A's flash message (in A's signed state cookie) shows on B.
    b.cookies.update(a.cookies)
    assert 'class="flash"' in b.get("/sak/1836").text
    with db.session_scope(shared_pg) as s:
        docs = s.exec(select(Document).order_by(Document.format)).all()
    assert [(d.kind, d.format, d.version) for d in docs] == [
        ("saksframlegg", "docx", 1), ("saksframlegg", "html", 1), ("saksframlegg", "pdf", 1)]
    for d in docs:
        path = f"/sak/1836/dokument/saksframlegg/1.{d.format}"
        from_b, from_a = b.get(path), a.get(path)
        assert from_b.status_code == 200, from_b.text
        assert hashlib.sha256(from_b.content).hexdigest() == d.sha256
        assert len(from_b.content) == d.size and from_b.content == from_a.content
        assert f'filename="saksframlegg-v1.{d.format}"' in from_b.headers["content-disposition"]
    assert "Rødøy kommune" in b.get("/sak/1836/dokument/saksframlegg/1.html").text
    # Neither node wrote a documents folder.
    assert not (tmp_path / "a" / "documents").exists()
    assert not (tmp_path / "b" / "documents").exists()


# --- the setting itself -------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize("value, words", [
    ("kort-nokkel", "er for kort (11 tegn; minst 32)"),
    ("changethis-changethis-changethis-changethis", "ser ut som en plassholder"),
    ("a" * 40, "ser ut som en plassholder"),
])
def test_a_weak_session_secret_is_refused_and_never_shown(sqlite_url, monkeypatch, value,
                                                          words):
    monkeypatch.setenv("AVTALEFLYT_SESSION_SECRET", value)
    r = runner.invoke(cli_app, ["status"])
    assert r.exit_code == 2
    assert "AVTALEFLYT_SESSION_SECRET" in r.output and words in r.output
    assert value not in r.output
    with pytest.raises(ValueError) as e:
        Settings(session_secret=value)
    assert value not in str(e.value) and value not in repr(e.value)


def test_the_secret_is_never_in_the_settings_repr(tmp_path):
    s = Settings(data_dir=tmp_path, session_secret=SECRET)
    assert SECRET not in repr(s) and SECRET not in str(s)
    # `serve` hands it to the processes it starts, like the other settings.
    assert s.as_environment()["AVTALEFLYT_SESSION_SECRET"] == SECRET


def test_without_the_setting_one_node_generates_its_key(sqlite_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "d", database_url=sqlite_url)
    TestClient(create_app(settings))
    assert len((tmp_path / "d" / "session_secret").read_text()) >= 40
