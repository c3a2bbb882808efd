"""Shared fixtures: real SQLite and the machine's real PostgreSQL, a real Prefect server.

Under CI=true a test that needs PostgreSQL fails when the server is unreachable instead of
skipping, so a green CI run always includes them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from avtaleflyt import db
from avtaleflyt.services.context import Ctx, make_ctx
from avtaleflyt.services.reference import load_reference_data

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Not AVTALEFLYT_*: the program refuses AVTALEFLYT_ variables it does not know.
PG_ADMIN_URL = os.environ.get("TEST_AVTALEFLYT_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _fresh_process_settings() -> Iterator[None]:
    """Each test is a new entry point: settings built by an earlier test's runtime calls
    (from that test's environment) must not carry over."""
    from avtaleflyt import runtime

    runtime.forget_process_settings()
    yield
    runtime.forget_process_settings()


def _pg_available() -> str | None:
    try:
        with sa.create_engine(PG_ADMIN_URL).connect() as c:
            c.execute(sa.text("select 1"))
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "not reachable"
        return str(e).splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied per test: migrations run once, tests stay isolated."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    with db.session_scope(url) as s:
        load_reference_data(s)
    db.get_engine(url).dispose()
    return path


@contextmanager
def throwaway_pg_database(prefix: str = "avtaleflyt_test") -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped afterwards. Unreachable PostgreSQL
    skips the test, except under CI=true, where it fails."""
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        db.get_engine(url).dispose()
        db.get_engine.cache_clear()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with throwaway_pg_database() as url:
        db.upgrade(url)
        yield url


def _reset_pg(url: str) -> None:
    engine = db.get_engine(url)
    with engine.begin() as c:
        tables = [r[0] for r in c.execute(sa.text(
            "select tablename from pg_tables where schemaname='public' "
            "and tablename <> 'alembic_version'"))]
        if tables:
            # TRUNCATE does not fire the append-only row triggers on event.
            c.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
    with db.session_scope(url) as s:
        load_reference_data(s)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, monkeypatch) -> str:
    """A migrated database with reference data, on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "avtaleflyt.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _reset_pg(url)
    monkeypatch.setenv("AVTALEFLYT_DATABASE_URL", url)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AVTALEFLYT_USER", "testkoordinator")
    monkeypatch.delenv("AVTALEFLYT_TODAY", raising=False)
    monkeypatch.delenv("AVTALEFLYT_CONFIG", raising=False)
    return url


@pytest.fixture
def sqlite_url(request, tmp_path, monkeypatch) -> str:
    """SQLite only, for tests whose subject is not the backend."""
    path = tmp_path / "avtaleflyt.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("AVTALEFLYT_DATABASE_URL", url)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AVTALEFLYT_USER", "testkoordinator")
    monkeypatch.delenv("AVTALEFLYT_TODAY", raising=False)
    return url


@pytest.fixture
def session(db_url):
    with db.session_scope(db_url) as s:
        yield s


def ctx_for(today: date, actor: str = "testkoordinator") -> Ctx:
    return make_ctx(today=today, actor=actor)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for the whole session, heartbeats off, quiet."""
    from avtaleflyt.runtime import quiet_prefect_env

    quiet_prefect_env()
    from prefect.settings import temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        with prefect_test_harness(server_startup_timeout=60):
            yield


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped test is a failure: a skip there means a part did not really run."""
    if not IN_CI or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run.",
                            red=True)
        session.exitstatus = 1
