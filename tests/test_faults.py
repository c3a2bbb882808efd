"""Faults a user can run into, each answered in Norwegian without a traceback and without a
half-written file: a full disk or a read-only file system while writing a document, and a
server error on the dashboard (here: its database is gone), which shows a reference that the
log carries too. The full and read-only disks are real: a 64 KiB tmpfs mounted for the test
(the machine's root user may mount; under CI=true the test must not skip)."""

from __future__ import annotations

import logging
import re
import subprocess
import uuid
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from avtaleflyt import runtime
from avtaleflyt.cli.main import app
from avtaleflyt.settings import load_settings
from avtaleflyt.web.app import create_app

from .conftest import IN_CI
from .test_bad_input import fingerprint
from .web_support import PASSWORD, csrf_of, make_user, open_case

runner = CliRunner()


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 64 KiB file system, filled up to all but ~4 KiB."""
    mount = tmp_path / "liten-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs under CI=true: {done.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr}")
    try:
        filler = mount / "fyll"
        with filler.open("wb") as f:
            try:
                f.write(b"\0" * (60 * 1024))
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_a_full_disk_leaves_no_half_written_document(db_url, tiny_disk):
    open_case(db_url, "1836", date(2026, 3, 2))
    before_files, before_db = _files(tiny_disk), fingerprint(db_url)
    out = tiny_disk / "avtale.docx"
    result = runner.invoke(app, ["--today", "2026-03-20", "doc", "render", "1836", "agreement",
                                 "--format", "docx", "--out", str(out)])
    assert result.exit_code != 0
    assert "disken er full" in result.output and "Traceback" not in result.output
    assert _files(tiny_disk) == before_files  # no partial file, no temporary file
    assert fingerprint(db_url) == before_db
    # Stored versions live in the database (migration 0010), not in the data directory: a
    # full data directory no longer stops one, and nothing is written to it.
    result = runner.invoke(app, ["--today", "2026-03-20", "doc", "render", "1836", "agreement",
                                 "--format", "docx"],
                           env={"AVTALEFLYT_DATA_DIR": str(tiny_disk)})
    assert result.exit_code == 0, result.output
    assert "Lagret 1836/agreement-v1.docx" in result.output
    assert _files(tiny_disk) == before_files


def test_a_read_only_file_system_is_named(db_url, tiny_disk):
    open_case(db_url, "1836", date(2026, 3, 2))
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    before = fingerprint(db_url)
    result = runner.invoke(app, ["--today", "2026-03-20", "report", "experience", "--out",
                                 str(tiny_disk / "rapport.html")])
    assert result.exit_code != 0
    assert "skrivebeskyttet" in result.output and "Traceback" not in result.output
    assert fingerprint(db_url) == before


def test_a_server_error_shows_a_reference_that_the_log_has_too(db_url, tmp_path, caplog):
    """The dashboard's database disappears (a PostgreSQL database that does not exist): the
    login fails with a Norwegian page and a reference, never 'Internal Server Error'."""
    make_user(db_url)
    gone = f"postgresql+psycopg://postgres@127.0.0.1:5432/borte_{uuid.uuid4().hex[:8]}"
    settings = load_settings(database_url=gone, data_dir=tmp_path / "data")
    with runtime.use_settings(settings):
        client = TestClient(create_app(settings), raise_server_exceptions=False,
                            follow_redirects=False)
        token = csrf_of(client.get("/logg-inn").text)
        with caplog.at_level(logging.ERROR, logger="avtaleflyt.web"):
            r = client.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                               "csrf_token": token, "neste": "/"})
    assert r.status_code == 500
    assert "Internal Server Error" not in r.text and "Traceback" not in r.text
    assert "Noe gikk galt" in r.text and 'lang="nb"' in r.text
    ref = re.search(r"referansen ([0-9A-F]{8})", r.text)
    assert ref, r.text
    logged = [rec for rec in caplog.records if ref.group(1) in rec.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert PASSWORD not in caplog.text
