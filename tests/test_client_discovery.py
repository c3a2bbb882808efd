"""Where the CLI sends its commands (avtaleflyt/client.py): `login`/`logout`, and serve
discovery — a running `serve` on the same data directory is used by itself, a stale
`serve.json` is ignored quietly, and a command whose settings differ from serve's runs
in-process. Which way a command went is seen from the outside: through the API it loads
no SQLAlchemy, and the token's `last_used_at` is set."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import date

import pytest

from avtaleflyt import client, db
from avtaleflyt.services import tokens

from .client_support import api_server, avtaleflyt, cli_env, make_token
from .web_support import open_case

_WHICH_WAY = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nSQLALCHEMY " + str("sqlalchemy" in sys.modules)))
from avtaleflyt.cli.entry import main
main()
"""


def _run(env, *args):
    r = subprocess.run([sys.executable, "-c", _WHICH_WAY, *args], env=env,
                       capture_output=True, text=True, timeout=120)
    err, loaded = r.stderr.rsplit("\nSQLALCHEMY ", 1)
    return r.returncode, r.stdout, err, loaded.strip() == "True"


def _serve_json(data_dir, origin, token, pid, **settings):
    client.write_private_json(data_dir / "serve.json", {
        "url": origin, "token": token, "pid": pid,
        "settings": client.serve_fingerprint(settings)})


@pytest.fixture
def world(sqlite_url, tmp_path, monkeypatch):
    open_case(sqlite_url, "1836", date.today())
    token = make_token(sqlite_url)
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    env = cli_env(AVTALEFLYT_URL=None, AVTALEFLYT_TOKEN=None, AVTALEFLYT_TODAY=None,
                  AVTALEFLYT_CONFIG=None, XDG_CONFIG_HOME=str(tmp_path / "config"))
    with api_server() as origin:
        yield sqlite_url, token, data_dir, env, origin


def test_a_running_serve_on_the_same_data_directory_is_used(world):
    url, token, data_dir, env, origin = world
    _serve_json(data_dir, origin, token, os.getpid(), DATABASE_URL=url,
                USER="testkoordinator")
    code, out, err, loaded = _run(env, "case", "show", "1836", "--json")
    assert code == 0, err
    assert json.loads(out)["kommunenummer"] == "1836"
    assert not loaded  # through the API
    with db.session_scope(url) as s:
        [view] = tokens.list_tokens(session=s)
    assert view.last_used_at is not None


def test_a_stale_or_foreign_serve_file_is_ignored_quietly(world, tmp_path):
    url, token, data_dir, env, origin = world
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _serve_json(data_dir, origin, token, dead.pid, DATABASE_URL=url,
                USER="testkoordinator")
    code, out, err, loaded = _run(env, "case", "show", "1836", "--json")
    assert code == 0 and err == "" and loaded  # in-process, without a word
    # serve alive, but on another business date: this command's date must win.
    _serve_json(data_dir, origin, token, os.getpid(), DATABASE_URL=url,
                USER="testkoordinator")
    code, out, err, loaded = _run(env | {"AVTALEFLYT_TODAY": date.today().isoformat()},
                                  "case", "show", "1836", "--json")
    assert code == 0 and loaded
    # --today (or --db, --by, --config) keeps a command local as well.
    code, out, err, loaded = _run(env, "--today", date.today().isoformat(), "case", "show",
                                  "1836", "--json")
    assert code == 0 and loaded
    # serve alive but gone from its address: in-process, quietly.
    _serve_json(data_dir, "http://127.0.0.1:9", token, os.getpid(), DATABASE_URL=url,
                USER="testkoordinator")
    code, out, err, loaded = _run(env, "case", "show", "1836", "--json")
    assert code == 0 and err == "" and loaded
    assert json.loads(out)["kommunenummer"] == "1836"


def test_login_stores_a_checked_token_privately_and_logout_forgets_it(world, tmp_path):
    url, token, data_dir, env, origin = world
    r = subprocess.run([sys.executable, "-c", "from avtaleflyt.cli.entry import main; main()",
                        "login", "--url", origin + "/"], input="avt_wrong\n", env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Tokenet ble avvist" in r.stderr
    saved = tmp_path / "config" / "avtaleflyt" / "login.json"
    assert not saved.exists()
    r = subprocess.run([sys.executable, "-c", "from avtaleflyt.cli.entry import main; main()",
                        "login", "--url", origin + "/"], input=token + "\n", env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Logget inn på" in r.stdout and "testkoordinator" in r.stdout
    assert token not in r.stdout + r.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": origin, "token": token}
    # A command now goes to the server, even with a database of its own configured.
    code, out, err, loaded = _run(env | {"AVTALEFLYT_DATABASE_URL": "sqlite:////nonexistent"},
                                  "status", "--json")
    assert code == 0 and not loaded, err
    assert [row["kommunenummer"] for row in json.loads(out)] == ["1836"]
    r = avtaleflyt("logout", env=env)
    assert r.code == 0 and "Logget ut" in r.out and not saved.exists()
    code, out, err, loaded = _run(env, "status", "--json")
    assert code == 0 and loaded


def test_half_a_configuration_is_refused(tmp_path):
    env = cli_env(AVTALEFLYT_URL="http://127.0.0.1:8080", AVTALEFLYT_TOKEN=None,
                  AVTALEFLYT_DATA_DIR=str(tmp_path))
    r = avtaleflyt("case", "show", "1836", env=env)
    assert r.code == 2
    assert r.err.startswith("Feil: AVTALEFLYT_TOKEN mangler"), r.err


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_serve_announces_itself_with_a_local_token_and_withdraws_both(sqlite_url, tmp_path):
    from .client_support import free_port

    data_dir = tmp_path / "data"
    env = cli_env(AVTALEFLYT_URL=None, AVTALEFLYT_TOKEN=None, AVTALEFLYT_TODAY=None,
                  AVTALEFLYT_USER="koordinator",
                  PREFECT_API_URL=None, XDG_CONFIG_HOME=str(tmp_path / "config"))
    open_case(sqlite_url, "1836", date.today())
    proc = subprocess.Popen(
        [sys.executable, "-c", "from avtaleflyt.cli.entry import main; main()", "serve",
         "--port", str(free_port()), "--prefect-port", str(free_port()), "--scheduler",
         "workers"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    found = data_dir / "serve.json"
    try:
        deadline = time.monotonic() + 300
        while not found.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "serve.json never appeared"
            time.sleep(0.5)
        assert stat.S_IMODE(found.stat().st_mode) == 0o600
        d = json.loads(found.read_text())
        assert d["pid"] == proc.pid and d["token"].startswith("avt_")
        deadline = time.monotonic() + 60
        while True:  # the dashboard starts listening just after the file is written
            code, out, err, loaded = _run(env, "status", "--json")
            if code == 0 and not loaded or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 0 and not loaded, err
        assert [row["kommunenummer"] for row in json.loads(out)] == ["1836"]
        with db.session_scope(sqlite_url) as s:
            [view] = tokens.list_tokens(session=s)
        assert view.username == "koordinator" and view.state(view.created_at) == "active"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=120)[0]
    assert not found.exists(), out
    with db.session_scope(sqlite_url) as s:
        [view] = tokens.list_tokens(session=s)
    assert view.revoked_at is not None
    assert "Opprettet brukeren «koordinator» for kommandolinjen" in out
    assert d["token"] not in out


def test_a_command_without_an_api_route_is_not_run_against_a_local_database(tmp_path):
    """Logged in to a server (or AVTALEFLYT_URL), a command the API does not offer is
    refused with what to do; the installation's own commands still run here."""
    env = cli_env(AVTALEFLYT_URL="http://127.0.0.1:9", AVTALEFLYT_TOKEN="avt_x",
                  AVTALEFLYT_DATA_DIR=str(tmp_path))
    r = avtaleflyt("case", "split", "show", "1836", env=env)
    assert r.code == 2
    assert r.err.startswith("Feil: «avtaleflyt case split» går ikke gjennom API-et."), r.err
    assert "AVTALEFLYT_URL" in r.err
    r = avtaleflyt("token", "list", env=env)  # about this installation: runs here
    assert "går ikke gjennom API-et" not in r.err
    assert "Ukjent miljøvariabel" not in r.err  # AVTALEFLYT_URL/TOKEN are known names


def test_a_token_is_never_sent_in_clear_text_across_a_network(tmp_path):
    env = cli_env(AVTALEFLYT_URL="http://avtaleflyt.example.no", AVTALEFLYT_TOKEN="avt_x",
                  AVTALEFLYT_DATA_DIR=str(tmp_path))
    r = avtaleflyt("case", "show", "1836", env=env)
    assert r.code == 2
    assert "ikke kryptert; bruk https://" in r.err
    r = avtaleflyt("login", "--url", "http://10.0.0.5:8080", "--token", "avt_x", env=env)
    assert r.code == 2 and "ikke kryptert" in r.err


def test_through_serve_the_cli_sees_every_note_as_in_process(sqlite_url, tmp_path):
    """serve's local token stands in for the CLI on its machine: `case show` lists the
    county's unshared notes as the in-process CLI does; an ordinary national token (a
    national dashboard user's) sees only the shared ones, as on the case page."""
    import httpx

    from avtaleflyt.domain.facts import Theme
    from avtaleflyt.services import local_token, people

    from .conftest import ctx_for

    open_case(sqlite_url, "1836", date(2026, 3, 2))
    with db.session_scope(sqlite_url) as s:
        for text, shared in (("Bare for fylket", False), ("Delt med alle", True)):
            people.add_note(session=s, kommunenummer="1836", theme=Theme.ENGAGEMENT,
                            on=date(2026, 3, 3), ctx=ctx_for(date(2026, 3, 3)), text=text,
                            shared=shared)
        local, _ = local_token.issue(session=s, username="driftsbruker")
    national = make_token(sqlite_url, username="leder")
    with api_server() as origin:
        def notes(token):
            r = httpx.get(f"{origin}/api/v1/cases/1836", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            return sorted(n["text"] for n in r.json()["notes"])
        assert notes(local) == ["Bare for fylket", "Delt med alle"]
        assert notes(national) == ["Delt med alle"]

