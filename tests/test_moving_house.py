"""An installation with a year of data: migrations keep every row (issue 15), and
`avtaleflyt db copy` moves it from SQLite to PostgreSQL intact (issue 11).

The data comes from `avtaleflyt demo` (a year in Nordland through the real flows: cases in
every stage, events, tasks, notes, contacts, reminders, stored documents), run once for
the module into a SQLite file that each test copies.

Migrations with data: filling the database at each old revision would mean running the
demo against old code, which no longer exists. Instead the filled database is taken from
head DOWN to each revision r and back UP to head, and every row of every table that exists
at r is compared, on the columns that exist at r. That exercises every upgrade step with
real data in it (each step runs on a database filled by the steps below it), and the
downgrades too. Tables and columns created after r are empty after such a round trip by
design (a downgrade drops them), so they are not compared for that r.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app

from .conftest import throwaway_pg_database

TODAY = "2026-11-26"
REVISIONS = ["0009", "0008", "0007", "0006", "0005", "0004", "0003", "0002", "0001"]
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """A SQLite file filled by `avtaleflyt demo` (a subprocess, as a user runs it)."""
    data = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVTALEFLYT_")}
    env |= {"AVTALEFLYT_DATA_DIR": str(data), "AVTALEFLYT_TODAY": TODAY, "COLUMNS": "200"}
    exe = Path(sys.executable).with_name("avtaleflyt")
    done = subprocess.run([str(exe), "demo"], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return data / "demo.db"


@pytest.fixture
def filled(demo_db, tmp_path, monkeypatch) -> str:
    """A copy of the demo database, as this test's installation."""
    path = tmp_path / "avtaleflyt.db"
    shutil.copy(demo_db, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("AVTALEFLYT_DATABASE_URL", url)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY)
    monkeypatch.setenv("AVTALEFLYT_USER", "testkoordinator")
    return url


def snapshot(url: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table (but alembic's): its columns and its rows, sorted."""
    engine = db.get_engine(url)
    out = {}
    with engine.connect() as c:
        insp = sa.inspect(c)
        for t in insp.get_table_names():
            if t == "alembic_version":
                continue
            cols = [col["name"] for col in insp.get_columns(t)]
            rows = c.execute(sa.text(f'SELECT {", ".join(cols)} FROM "{t}"')).all()
            out[t] = (cols, sorted((tuple(r) for r in rows), key=repr))
    return out


def project(snap, table: str, cols: list[str]) -> list[tuple]:
    have, rows = snap[table]
    idx = [have.index(c) for c in cols]
    return sorted((tuple(r[i] for i in idx) for r in rows), key=repr)


# --- migrations with data -----------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_database_is_worth_migrating(filled):
    snap = snapshot(filled)
    counts = {t: len(rows) for t, (_, rows) in snap.items()}
    for t in ("onboarding_case", "event", "task", "experience_note", "document",
              "document_blob", "contact_person", "personal_text", "command"):
        assert counts[t] > 0, t
    assert db.current_revision(filled) == db.head_revision()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled_any(request, filled):
    """The demo's data on each backend: on PostgreSQL copied there with `db copy`."""
    if request.param == "sqlite":
        yield filled
        return
    from avtaleflyt import dbcopy

    with throwaway_pg_database("avtaleflyt_roundtrip") as pg:
        dbcopy.copy_database(filled, pg)
        yield pg


@pytest.mark.slow
@pytest.mark.parametrize("revision", REVISIONS)
def test_down_to_each_revision_and_up_again_keeps_every_row(filled_any, tmp_path, revision):
    filled = filled_any
    before = snapshot(filled)
    files = tmp_path / "documents"
    db.downgrade(filled, revision, documents_dir=files)
    at_r = {t: cols for t, (cols, _) in snapshot(filled).items()}
    if "document" in at_r:  # the documents went back to files, with their hashes
        with db.get_engine(filled).connect() as c:
            for path, digest in c.execute(sa.text("SELECT path, sha256 FROM document")):
                assert hashlib.sha256((files / path).read_bytes()).hexdigest() == digest
    db.upgrade(filled, documents_dir=files)
    after = snapshot(filled)
    assert db.current_revision(filled) == db.head_revision()
    assert set(after) == set(before)
    compared = 0
    for table, cols in at_r.items():
        shared = [c for c in cols if c in before[table][0]]
        assert project(after, table, shared) == project(before, table, shared), table
        compared += len(before[table][1])
    assert compared > 500  # 0001's tables hold ~700 of the demo's rows
    if "document" in at_r:  # the files the downgrade wrote are back in the database only
        assert not files.exists() or not any(p.is_file() for p in files.rglob("*"))


def _rebuild(conn, table: str) -> None:
    ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
    with ops.batch_alter_table(table, recreate="always"):
        pass  # copy, drop, rename: what any batch change to a SQLite table does


@pytest.mark.slow
def test_rebuilding_a_parent_table_keeps_its_children(filled, tmp_path):
    """A future migration that batch-rebuilds `municipality` (parent of cases, contacts,
    documents, events) on a filled database."""
    unguarded = tmp_path / "unguarded.db"
    shutil.copy(filled.removeprefix("sqlite:///"), unguarded)
    # What migrations did before: with SQLite's foreign-key checks on, dropping the old
    # parent table fails.
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY constraint failed"):
        with db.get_engine(f"sqlite:///{unguarded}").begin() as conn:
            _rebuild(conn, "municipality")

    before = snapshot(filled)
    with db.migration_connection(filled) as conn:
        _rebuild(conn, "municipality")
        _rebuild(conn, "onboarding_case")
    assert snapshot(filled) == before
    with db.get_engine(filled).connect() as c:  # the checks are back on for the app
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0 and len(json.loads(status.stdout)) == 10


@pytest.mark.slow
def test_a_migration_that_breaks_a_foreign_key_changes_nothing(filled):
    before = snapshot(filled)
    with pytest.raises(db.MigrationFailed) as e:
        with db.migration_connection(filled) as conn:
            _rebuild(conn, "municipality")
            conn.exec_driver_sql("UPDATE task SET case_id = 999999 "
                                 "WHERE id = (SELECT min(id) FROM task)")
    assert "ingenting er endret" in e.value.message
    assert "tabell task" in e.value.message and "onboarding_case" in e.value.message
    assert snapshot(filled) == before


@pytest.mark.slow
def test_moving_documents_in_refuses_a_missing_or_changed_file(filled, tmp_path):
    """Migration 0010 on an installation whose files are not what the rows say."""
    files = tmp_path / "documents"
    db.downgrade(filled, "0009", documents_dir=files)
    before = snapshot(filled)
    with db.get_engine(filled).connect() as c:
        (first, _), (second, _) = c.execute(sa.text(
            "SELECT path, sha256 FROM document ORDER BY id LIMIT 2")).all()
    (files / first).unlink()
    (files / second).write_bytes(b"endret etterpa")
    r = runner.invoke(app, ["init"], env={"AVTALEFLYT_DATA_DIR": str(tmp_path)})
    assert r.exit_code == 1
    out = " ".join(r.stderr.split())  # rich wraps long lines
    assert "ingenting er endret" in out and "mangler" in out and "er endret etter" in out
    assert first.split("/")[-1] in out and second.split("/")[-1] in out
    assert snapshot(filled) == before and db.current_revision(filled) == "0009"
    assert (files / second).read_bytes() == b"endret etterpa"  # nothing deleted either


# --- moving to PostgreSQL -----------------------------------------------------------------


def _cli(*args: str, db_url: str | None = None):
    pre = ["--db", db_url] if db_url else []
    return runner.invoke(app, [*pre, *args])


@pytest.mark.slow
@pytest.mark.postgres
def test_db_copy_moves_a_demo_installation_to_postgresql(filled):
    with throwaway_pg_database("avtaleflyt_copy") as pg:
        bad = _cli("db", "copy", "--to", "mysql://x/y")
        assert bad.exit_code == 2 and "«--to»" in bad.stderr

        r = _cli("db", "copy", "--to", pg, "--json")
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        source = snapshot(filled)
        assert summary["verified"] is True
        assert summary["tables"] == {t: len(rows) for t, (_, rows) in source.items()}
        assert summary["documents"] == len(source["document"][1]) > 0
        assert "event: " in r.stderr  # progress per table

        # Identical to a user: the status and every document with its hash and bytes.
        for args in (("status", "--json"), ("doc", "list", "1836", "--json"),
                     ("report", "list", "--json"), ("case", "show", "1836", "--json")):
            mine, theirs = _cli(*args), _cli(*args, db_url=pg)
            assert mine.exit_code == theirs.exit_code == 0, (args, theirs.output)
            assert json.loads(theirs.stdout) == json.loads(mine.stdout), args
        with db.get_engine(filled).connect() as a, db.get_engine(pg).connect() as b:
            q = sa.text("SELECT d.path, d.sha256, b.content FROM document d "
                        "JOIN document_blob b ON b.sha256 = d.sha256 ORDER BY d.path")
            theirs = [(p, h, bytes(c)) for p, h, c in b.execute(q)]
            assert theirs == [(p, h, bytes(c)) for p, h, c in a.execute(q)]
            assert all(hashlib.sha256(c).hexdigest() == h for _, h, c in theirs)
        copy = tmp_copy = snapshot(pg)
        assert {t: len(r) for t, (_, r) in copy.items()} == \
            {t: len(r) for t, (_, r) in source.items()}

        # The sequences continue after the copied ids: the app can add rows at once.
        from avtaleflyt.services.context import make_ctx
        from avtaleflyt.services.people import add_contact
        from datetime import date

        with db.session_scope(pg) as s:
            add_contact(session=s, kommunenummer="1837", name="Ny Person", role="Rådgiver",
                        email="ny@meloy.example", phone=None, primary=False,
                        ctx=make_ctx(today=date(2026, 11, 26), actor="t"))
        # The append-only history stays append-only.
        with pytest.raises(sa.exc.DBAPIError):
            with db.get_engine(pg).begin() as c:
                c.execute(sa.text("UPDATE event SET kind = 'x'"))

        # A second copy into the now non-empty database is refused and writes nothing.
        again = _cli("db", "copy", "--to", pg)
        assert again.exit_code == 1
        assert "Måldatabasen er ikke tom" in " ".join(again.stderr.split())
        assert {t: len(r) for t, (_, r) in snapshot(pg).items()} == \
            {t: len(r) + (t in ("contact_person", "event")) for t, (_, r) in tmp_copy.items()}
