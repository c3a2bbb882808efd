"""Users and calendar feed tokens: services on both backends, and the `user` commands."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt.cli.main import app
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.services import users
from avtaleflyt.models import FeedToken, User

from .cli_support import run_isolated

runner = CliRunner()


def test_password_is_hashed_and_checked(session):
    users.create_user(session=session, username="kari", password="et langt passord",
                      county="18")
    row = session.exec(select(User)).one()
    assert "et langt passord" not in row.password_hash
    assert row.password_hash.startswith("$argon2")
    assert users.authenticate(session=session, username="kari", password="et langt passord")
    assert users.authenticate(session=session, username="kari", password="feil passord!") is None
    assert users.authenticate(session=session, username="ola", password="et langt passord") is None


def test_inactive_user_cannot_log_in(session):
    u = users.create_user(session=session, username="kari", password="et langt passord",
                      county="18")
    row = session.get(User, u.id)
    row.active = False
    session.add(row)
    session.commit()
    assert users.authenticate(session=session, username="kari", password="et langt passord") is None
    assert users.active_user(session=session, user_id=u.id) is None


@pytest.mark.parametrize("name,password,field", [
    ("k", "et langt passord", "username"),
    ("kari <script>", "et langt passord", "username"),
    ("kari", "kort", "password"),
])
def test_bad_user_input_is_refused_and_nothing_written(session, name, password, field):
    with pytest.raises(InvalidInput) as e:
        users.create_user(session=session, username=name, password=password, county="18")
    assert e.value.field == field
    assert session.exec(select(User)).all() == []


def test_duplicate_username_is_a_conflict(session):
    users.create_user(session=session, username="kari", password="et langt passord",
                      county="18")
    with pytest.raises(Conflict):
        users.create_user(session=session, username="kari", password="et annet passord",
                          county="18")


def test_feed_token_stored_as_hash_and_revocable(session):
    users.create_user(session=session, username="kari", password="et langt passord",
                      county="18")
    token = users.issue_feed_token(session=session, username="kari")
    stored = session.exec(select(FeedToken)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    assert users.user_for_feed_token(session=session, token=token).username == "kari"
    second = users.issue_feed_token(session=session, username="kari")
    assert users.user_for_feed_token(session=session, token=token) is None  # replaced
    assert users.user_for_feed_token(session=session, token=second) is not None
    assert users.revoke_feed_tokens(session=session, username="kari") == 1
    assert users.user_for_feed_token(session=session, token=second) is None
    with pytest.raises(NotFound):
        users.issue_feed_token(session=session, username="ola")


def test_user_commands(db_url):
    r = runner.invoke(app, ["user", "add", "kari", "--county", "18", "--password-stdin"],
                      input="et langt passord\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "add", "kari", "--county", "18", "--password-stdin"],
                      input="et langt passord\n")
    assert r.exit_code != 0 and "finnes allerede" in r.output
    r = runner.invoke(app, ["user", "add", "ola", "--national"],
                      input="hemmelig-passord\nhemmelig-passord\n")
    assert r.exit_code == 0, r.output
    assert "hemmelig-passord" not in r.output  # the prompt hides it
    r = runner.invoke(app, ["user", "feed-token", "kari"])
    assert r.exit_code == 0
    url = next(line for line in r.output.splitlines() if "/kalender/" in line)
    assert url.startswith("http://127.0.0.1:8080/kalender/") and url.endswith(".ics?ansvar=all")
    listed = json.loads(runner.invoke(app, ["user", "list", "--json"]).stdout)
    assert [(u["username"], u["calendar_feed"]) for u in listed] == [("kari", True),
                                                                    ("ola", False)]
    assert runner.invoke(app, ["user", "revoke-feed", "kari"]).exit_code == 0
    assert runner.invoke(app, ["user", "revoke-feed", "kari"]).exit_code != 0


def test_user_list_does_not_import_prefect(sqlite_url):
    run = run_isolated([["user", "list"]], dict(os.environ))
    assert not run.prefect_loaded


def test_a_user_belongs_to_one_county_or_is_national(db_url):
    """Nobody becomes national by leaving out an option; a county can be corrected later."""
    def add(*args):
        return runner.invoke(app, ["user", "add", *args, "--password-stdin"],
                             input="et langt passord\n")

    missing = add("kari")
    assert missing.exit_code == 2 and "--county" in missing.output
    both = add("kari", "--county", "18", "--national")
    assert both.exit_code == 2 and "ikke begge" in both.output
    unknown = add("kari", "--county", "77")
    assert unknown.exit_code == 2 and "«77»" in unknown.output
    assert json.loads(runner.invoke(app, ["user", "list", "--json"]).stdout) == []
    assert add("kari", "--county", "18").exit_code == 0
    assert add("tove", "--county", "55").exit_code == 0
    assert add("nina", "--national").exit_code == 0
    listed = {u["username"]: u["county"]
              for u in json.loads(runner.invoke(app, ["user", "list", "--json"]).stdout)}
    assert listed == {"kari": "18", "tove": "55", "nina": None}
    moved = runner.invoke(app, ["user", "set", "kari", "--county", "55"])
    assert moved.exit_code == 0 and "Troms" in moved.output
    assert runner.invoke(app, ["user", "set", "nina", "--county", "18"]).exit_code == 0
    listed = {u["username"]: u["county"]
              for u in json.loads(runner.invoke(app, ["user", "list", "--json"]).stdout)}
    assert listed == {"kari": "55", "tove": "55", "nina": "18"}
