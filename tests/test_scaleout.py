"""Scale-out pieces that need no Prefect server of their own: `init` twice at once, the
database check a worker's run makes, `/helse`, the installation's names, `serve`'s choices.
(The whole layout — Prefect server, workers, two dashboard nodes — is tests/test_e2e_scaleout.py.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from avtaleflyt import db, installation
from avtaleflyt.settings import Settings

from .conftest import throwaway_pg_database


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVTALEFLYT_", "PREFECT_"))}
    return env | extra


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _init_twice(env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "avtaleflyt", "init"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    return [subprocess.CompletedProcess(cmd, p.wait(300), *p.communicate()) for p in procs]


@pytest.mark.postgres
def test_two_inits_at_once_on_an_empty_postgres_database_both_succeed(tmp_path):
    with throwaway_pg_database("avtaleflyt_init") as url:
        results = _init_twice(_env(AVTALEFLYT_DATABASE_URL=url,
                                   AVTALEFLYT_DATA_DIR=str(tmp_path / "data")))
        for r in results:
            assert r.returncode == 0, r.stderr
            assert "Traceback" not in r.stderr and "Databasen er klar" in r.stdout
        # Exactly one of them loaded the reference data; the other found it there.
        loaded = [r for r in results if "La inn" in r.stdout]
        assert len(loaded) == 1
        assert db.current_revision(url) == db.head_revision()
        with db.get_engine(url).connect() as c:
            assert c.execute(sa.text("select count(*) from county")).scalar() == 15
        db.get_engine(url).dispose()


def test_two_inits_at_once_on_a_new_sqlite_file_both_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'avtaleflyt.db'}"
    results = _init_twice(_env(AVTALEFLYT_DATABASE_URL=url,
                               AVTALEFLYT_DATA_DIR=str(tmp_path / "data")))
    for r in results:
        assert r.returncode == 0, r.stderr
    assert len([r for r in results if "La inn" in r.stdout]) == 1
    assert db.current_revision(url) == db.head_revision()


# --- what a worker's run checks before it works ----------------------------------------

def test_a_missing_sqlite_database_is_named_and_never_created(tmp_path):
    s = Settings(data_dir=tmp_path / "worker")
    with pytest.raises(installation.NotReady) as e:
        installation.check_database(s)
    assert "AVTALEFLYT_DATABASE_URL" in e.value.message and "finnes ikke" in e.value.message
    assert not (tmp_path / "worker" / "avtaleflyt.db").exists()
    assert not (tmp_path / "worker").exists()


def test_an_unreachable_postgres_database_is_named_without_its_password(tmp_path):
    url = f"postgresql://avtaleflyt:hemmelig-passord@127.0.0.1:{_closed_port()}/x"
    s = Settings(data_dir=tmp_path, database_url=url)
    with pytest.raises(installation.NotReady) as e:
        installation.check_database(s)
    assert "AVTALEFLYT_DATABASE_URL" in e.value.message and "kontakt" in e.value.message
    assert "hemmelig-passord" not in e.value.message
    db.get_engine(s.effective_database_url).dispose()


def test_an_older_schema_is_named(sqlite_url, tmp_path):
    from alembic import command

    command.downgrade(db.alembic_config(sqlite_url), "0008")
    s = Settings(data_dir=tmp_path, database_url=sqlite_url)
    with pytest.raises(installation.NotReady) as e:
        installation.check_database(s)
    assert e.value.part == "schema" and "0008" in e.value.message
    assert "avtaleflyt init" in e.value.message
    db.upgrade(sqlite_url)
    assert installation.check_database(s) == db.head_revision()


# --- /helse ------------------------------------------------------------------------------

@pytest.mark.prefect
def test_helse_answers_503_when_the_database_or_prefect_is_down(sqlite_url, tmp_path,
                                                                monkeypatch, prefect_server):
    from prefect.settings import PREFECT_API_URL

    from avtaleflyt import runtime
    from avtaleflyt.web.app import create_app

    api = PREFECT_API_URL.value()  # the session's real temporary Prefect server
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    client = TestClient(create_app())
    r = client.get("/helse")
    assert r.status_code == 200 and r.text.startswith("ok"), r.text

    # Prefect gone (nothing listens on the port any more).
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{_closed_port()}/api")
    r = client.get("/helse")
    assert r.status_code == 503 and "prefect: svarer ikke" in r.text

    # The database gone: the node's SQLite file removed; nothing is created in its place.
    monkeypatch.setenv("PREFECT_API_URL", api)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    db.get_engine(sqlite_url).dispose()
    path.rename(path.with_suffix(".borte"))
    runtime.forget_process_settings()
    r = client.get("/helse")
    assert r.status_code == 503 and "database: svarer ikke eller finnes ikke" in r.text
    assert not path.exists()
    assert "sqlite" not in r.text and str(tmp_path) not in r.text  # no path, no URL


# --- installation names ------------------------------------------------------------------

def test_deployment_and_pool_names_carry_the_installation():
    from avtaleflyt.web import scheduler

    deps = scheduler.deployments(installation="nordland")
    names = [d["name"] for d in deps]
    assert names == ["deadline-sweep-nordland", "prefect-retention-nordland"]
    assert {d["work_pool"]["name"] for d in deps} == {"avtaleflyt-nordland"}
    assert "installasjon:nordland" in deps[0]["tags"]
    assert installation.sweep_deployment("nordland") == "deadline-sweep/deadline-sweep-nordland"


def test_a_bad_installation_name_is_refused_naming_the_setting(tmp_path):
    r = subprocess.run([sys.executable, "-m", "avtaleflyt", "deadlines"], text=True,
                       capture_output=True, timeout=120,
                       env=_env(AVTALEFLYT_INSTALLATION="Nord Land!",
                                AVTALEFLYT_DATA_DIR=str(tmp_path)))
    assert r.returncode != 0 and "AVTALEFLYT_INSTALLATION" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, env, message", [
    (["--scheduler", "cron"], {}, "«--scheduler»"),
    (["--dashboard-only"], {}, "PREFECT_API_URL"),
])
def test_serve_refuses_a_wrong_choice_before_starting_anything(sqlite_url, tmp_path, args,
                                                               env, message):
    r = subprocess.run([sys.executable, "-m", "avtaleflyt", "serve", *args], text=True,
                       capture_output=True, timeout=120,
                       env=_env(AVTALEFLYT_DATABASE_URL=sqlite_url,
                                AVTALEFLYT_DATA_DIR=str(tmp_path / "data"), **env))
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr + r.stdout and "Traceback" not in r.stderr
    assert not (tmp_path / "data" / "prefect").exists()  # no Prefect server was started


@pytest.mark.prefect
def test_a_sweep_run_without_its_database_fails_at_once_and_creates_nothing(
        tmp_path, monkeypatch, prefect_server):
    """What a worker started without AVTALEFLYT_DATABASE_URL does: the run fails with the
    setting's name (in Prefect's log too), and no empty SQLite file appears."""
    from avtaleflyt import runtime
    from avtaleflyt.flows.sweep import SweepRefused, deadline_sweep

    monkeypatch.delenv("AVTALEFLYT_DATABASE_URL", raising=False)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "worker"))
    with runtime.use_settings(Settings(data_dir=tmp_path / "worker")):
        with pytest.raises(SweepRefused) as e:
            deadline_sweep(county="18")
    assert "AVTALEFLYT_DATABASE_URL" in str(e.value) and "finnes ikke" in str(e.value)
    assert not (tmp_path / "worker").exists()


@pytest.mark.prefect
def test_a_sweep_for_an_unknown_county_is_refused(sqlite_url, tmp_path, prefect_server):
    from avtaleflyt import runtime
    from avtaleflyt.flows.sweep import SweepRefused, deadline_sweep

    with runtime.use_settings(Settings(data_dir=tmp_path, database_url=sqlite_url)):
        with pytest.raises(SweepRefused, match="county: «54» er ikke et fylkesnummer"):
            deadline_sweep(county="54")
