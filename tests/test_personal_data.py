"""Personal data (GDPR): contacts corrected and erased everywhere their data was copied,
contact constraints in the database, the access log, private file modes, and `--by`.
Real SQLite and PostgreSQL, a real SMTP server (aiosmtpd), FastAPI's TestClient."""

from __future__ import annotations

import io
import json
import stat
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select
from typer.testing import CliRunner

from avtaleflyt import db, runtime
from avtaleflyt.cli.main import app
from avtaleflyt.domain.errors import Conflict
from avtaleflyt.models import ContactPerson, Digest, Event, Task, load_all
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services import people
from avtaleflyt.services.documents import documents_root, store_document
from avtaleflyt.services.queries import case_detail
from avtaleflyt.services.sweep import run_sweep

from .conftest import ctx_for
from .reminder_support import HookServer, SmtpServer
from .web_support import csrf_of, logged_in, make_user, to_setup, client

runner = CliRunner()
NAME, EMAIL, PHONE = "Kari Hemmelig-Nordmann", "kari.hemmelig@rodoy.example", "+47 912 34 567"
DAY = date(2026, 5, 22)


def cli(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def _add(url, name=NAME, email=EMAIL, phone=PHONE, primary=False, knr="1836", day=DAY):
    with db.session_scope(url) as s:
        return people.add_contact(session=s, kommunenummer=knr, name=name, role="IT-leder",
                                  email=email, phone=phone, primary=primary, ctx=ctx_for(day))


def _contact_id(url, email=EMAIL) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(ContactPerson.id).where(ContactPerson.email == email)).one()


def _everywhere(url: str, values: list[str]) -> list[str]:
    """Every text/JSON column of every table that holds one of `values`."""
    found = []
    with db.get_engine(url).connect() as c:
        load_all()  # every table, not only those this process has used
        for table in SQLModel.metadata.sorted_tables:
            cols = [col for col in table.columns
                    if isinstance(col.type, (sa.String, sa.Text, sa.JSON))]
            for col in cols:
                for (v,) in c.execute(sa.select(sa.cast(col, sa.Text)).where(col.isnot(None))):
                    if any(x.lower() in str(v).lower() for x in values):
                        found.append(f"{table.name}.{col.name}")
    return found


def _in_documents(db_url: str, values: list[str]) -> list[str]:
    """Every stored document content (`document_blob`, also bytes no version refers to any
    more) that holds one of the values, unpacking DOCX; by SHA-256 prefix and kind."""
    from avtaleflyt.models import DocumentBlob

    found = []
    with db.session_scope(db_url) as s:
        for blob in s.exec(select(DocumentBlob)).all():
            data = bytes(blob.content)
            if data[:2] == b"PK":
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
                kind = "docx"
            else:
                text, kind = data.decode("utf-8", "replace"), "html"
            if any(v.lower() in text.lower() for v in values):
                found.append(f"{blob.sha256[:8]} ({kind})")
    return found


def test_erase_removes_the_person_everywhere_and_leaves_a_tombstone(db_url, monkeypatch):
    to_setup(db_url, "1836")
    _add(db_url, "Per Primær", "per@rodoy.example", None, primary=True)
    _add(db_url)
    kari = _contact_id(db_url)
    with db.session_scope(db_url) as s:
        task = s.exec(select(Task).where(Task.key == "setup.email")).one()
        people.assign_task(session=s, task_id=task.id, contact_id=kari, ctx=ctx_for(DAY))
        store_document(session=s, kind="setup_checklist", ctx=ctx_for(DAY),
                       kommunenummer="1836", formats=("html", "docx"))
    assert len(_in_documents(db_url, [NAME])) == 2  # the checklist names her (html and docx)
    smtp, hook = SmtpServer().start(), HookServer().start()
    try:
        targets = TargetBook(coordinator=(hook.url(),), smtp_url=smtp.url)
        with db.session_scope(db_url) as s:
            run_sweep(session=s, ctx=ctx_for(task.due_on), targets=targets)
        assert [EMAIL] in [m[1] for m in smtp.messages]  # her digest went out by SMTP
        sent_before = len(smtp.messages)
        monkeypatch.setenv("AVTALEFLYT_TODAY", task.due_on.isoformat())
        refused = cli("contact", "erase", str(kari), input="n\n")
        assert refused.exit_code == 1 and "ingenting er slettet" in refused.output
        assert _contact_id(db_url) == kari
        done = cli("contact", "erase", str(kari), "--yes")
        assert done.exit_code == 0, done.output
        values = [NAME, EMAIL, PHONE]
        assert _everywhere(db_url, values) == []
        assert _in_documents(db_url, values) == []  # the originals are gone, not orphaned
        if db_url.startswith("sqlite"):  # nor in the file's free pages or write-ahead log
            from pathlib import Path

            dbfile = Path(db_url.removeprefix("sqlite:///"))
            for f in (dbfile, dbfile.with_name(dbfile.name + "-wal")):
                raw = f.read_bytes() if f.exists() else b""
                assert not [v for v in values if v.encode() in raw], f
        # The next day's reminder for her task goes to the primary contact, not to her.
        with db.session_scope(db_url) as s:
            run_sweep(session=s, ctx=ctx_for(date.fromordinal(task.due_on.toordinal() + 1)),
                      targets=targets)
        assert all(EMAIL not in m[1] for m in smtp.messages[sent_before:])
    finally:
        smtp.stop()
        hook.stop()
    with db.session_scope(db_url) as s:
        assert s.exec(select(Task.contact_id).where(Task.id == task.id)).one() is None
        tomb = s.exec(select(Event).where(Event.kind == "contact_erased")).one()
        assert tomb.details == {"contact_id": kari}
        detail = case_detail(s, "1836", task.due_on, with_personal_data=True)
        assert [c["name"] for c in detail["contacts"]] == ["Per Primær"]
    shown = cli("case", "show", "1836")
    assert shown.exit_code == 0 and NAME not in shown.output
    page = logged_in(db_url).get("/sak/1836")
    assert page.status_code == 200 and NAME not in page.text and "Per Primær" in page.text


def test_edit_corrects_the_data_and_refuses_bad_input(db_url):
    from avtaleflyt.cli.main import app as _  # noqa: F401

    to_setup(db_url, "1836")
    _add(db_url, "Per Primær", "per@rodoy.example", None, primary=True)
    _add(db_url)
    kari = _contact_id(db_url)
    r = cli("contact", "edit", str(kari), "--name", "Kari Nordmann", "--email",
            "KARI@rodoy.example", "--phone", "", "--primary")
    assert r.exit_code == 0, r.output
    rows = json.loads(cli("contact", "list", "1836", "--json").stdout)
    assert [(c["name"], c["email"], c["phone"], c["primary"]) for c in rows] == [
        ("Kari Nordmann", "KARI@rodoy.example", None, True),
        ("Per Primær", "per@rodoy.example", None, False)]
    bad = cli("contact", "edit", str(kari), "--email", "PER@rodoy.example")
    assert bad.exit_code == 1 and "«--email»" in bad.output
    bad = cli("contact", "edit", str(kari), "--email", "ikke-en-adresse")
    assert bad.exit_code == 2 and "«--email»" in bad.output
    assert json.loads(cli("contact", "list", "1836", "--json").stdout) == rows


def test_the_dashboard_corrects_and_erases_within_the_users_county(db_url):
    to_setup(db_url, "1836")
    _add(db_url)
    kari = _contact_id(db_url)
    c = logged_in(db_url)
    token = csrf_of(c.get("/sak/1836").text)
    r = c.post(f"/sak/1836/kontakt/{kari}", data={"csrf_token": token, "name": "Kari N",
               "role": "IT-leder", "email": "feil", "phone": ""})
    assert r.status_code == 422 and "er ikke en gyldig e-postadresse" in r.text
    r = c.post(f"/sak/1836/kontakt/{kari}", data={"csrf_token": "x", "name": "Kari N",
               "role": "IT-leder", "email": EMAIL, "phone": ""})
    assert r.status_code in (400, 403)
    r = c.post(f"/sak/1836/kontakt/{kari}", data={"csrf_token": token, "name": "Kari N",
               "role": "IT-leder", "email": EMAIL, "phone": PHONE, "primary": "ja"})
    assert r.status_code == 303
    assert "Kari N</strong>" in c.get("/sak/1836").text
    troms = logged_in(db_url, "tove", county="55")
    ttoken = csrf_of(troms.get("/").text)
    assert troms.post(f"/sak/1836/kontakt/{kari}/slett",
                      data={"csrf_token": ttoken, "confirm": "ja"}).status_code == 404
    assert c.post(f"/sak/1836/kontakt/{kari}/slett",
                  data={"csrf_token": token}).status_code == 422
    assert _contact_id(db_url) == kari
    assert c.post(f"/sak/1836/kontakt/{kari}/slett",
                  data={"csrf_token": token, "confirm": "ja"}).status_code == 303
    assert "Kari N" not in c.get("/sak/1836").text


def test_two_concurrent_adds_of_the_same_contact_leave_one_row(db_url):
    to_setup(db_url, "1836")
    barrier, results = threading.Barrier(2), []

    def add(email):
        barrier.wait()
        try:
            _add(db_url, email=email)
            results.append("ok")
        except Conflict as e:
            results.append(e.worded(lambda f: f"--{f}"))

    threads = [threading.Thread(target=add, args=(e,)) for e in (EMAIL, EMAIL.upper())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and len(results) == 2, results
    assert "«--email»" in next(r for r in results if r != "ok")
    with db.session_scope(db_url) as s:
        assert len(s.exec(select(ContactPerson)).all()) == 1


def test_one_primary_contact_per_municipality_in_the_database(db_url):
    to_setup(db_url, "1836")
    _add(db_url, primary=True)
    with db.get_engine(db_url).begin() as c, pytest.raises(sa.exc.IntegrityError):
        c.execute(sa.text("INSERT INTO contact_person (municipality_id, name, role, email, "
                          "is_primary, created_at) SELECT municipality_id, 'X', 'Y', "
                          "'x@y.example', is_primary, created_at FROM contact_person"))
    _add(db_url, "Per", "per@rodoy.example", None, primary=True)
    rows = json.loads(cli("contact", "list", "1836", "--json").stdout)
    assert [(c["name"], c["primary"]) for c in rows] == [("Per", True), (NAME, False)]


def test_access_log_and_audit(db_url, monkeypatch):
    from avtaleflyt.services import users

    to_setup(db_url, "1836")
    _add(db_url)
    with db.session_scope(db_url) as s:
        store_document(session=s, kind="agreement", ctx=ctx_for(DAY), kommunenummer="1836")
    c = logged_in(db_url)
    with db.session_scope(db_url) as s:
        token = users.issue_feed_token(session=s, username="kari")
    assert c.get("/sak/1836").status_code == 200
    assert c.get("/sak/1836/dokument/agreement/1.html").status_code == 200
    # The feed holds deadlines around its day (30 days back): the day this case is set in.
    monkeypatch.setenv("AVTALEFLYT_TODAY", DAY.isoformat())
    runtime.forget_process_settings()
    assert client().get(f"/kalender/{token}.ics").status_code == 200
    monkeypatch.delenv("AVTALEFLYT_TODAY")
    runtime.forget_process_settings()
    assert logged_in(db_url, "tove", county="55").get("/sak/1836").status_code == 404
    rows = json.loads(cli("audit", "--case", "1836", "--json").stdout)
    assert [(r["username"], r["action"]) for r in rows] == [
        ("tove", "case_page_denied"), ("kari", "feed"), ("kari", "document"),
        ("kari", "case_page")]
    assert rows[2]["object"] == "agreement v1 (html)"
    table = cli("audit", "--case", "1836")
    assert table.exit_code == 0 and "Dokument lastet ned" in table.output
    assert cli("audit", "--case", "18x6").exit_code == 2
    # Retention: the sweep deletes entries older than [privacy] access_log_days.
    cfg = Path(db_url.split("sqlite:///")[-1]).parent / "kort.toml" if "sqlite" in db_url \
        else Path(str(documents_root().parent)) / "kort.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[privacy]\naccess_log_days = 1\n")
    from datetime import datetime, timedelta, UTC

    from avtaleflyt.services.context import make_ctx

    with db.session_scope(db_url) as s:
        ctx = make_ctx(today=DAY, actor="t", config_file=str(cfg))
        run_sweep(session=s, ctx=ctx, targets=TargetBook(),
                  now=datetime.now(UTC) + timedelta(days=2))
    assert json.loads(cli("audit", "--case", "1836", "--json").stdout) == []


def test_private_file_modes(sqlite_url, tmp_path, monkeypatch):
    data = tmp_path / "ny-data"
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(data))
    monkeypatch.delenv("AVTALEFLYT_DATABASE_URL")
    assert cli("init").exit_code == 0
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(data) == 0o700
    dbfile = data / "avtaleflyt.db"
    assert cli("status").exit_code == 0
    assert mode(dbfile) == 0o600
    for extra in ("-wal", "-shm"):
        f = dbfile.with_name(dbfile.name + extra)
        if f.exists():
            assert mode(f) == 0o600
    from avtaleflyt import runtime

    runtime.forget_process_settings()
    url = f"sqlite:///{dbfile}"
    with db.session_scope(url) as s:
        people.add_contact(session=s, kommunenummer="1836", name=NAME, role="r", email=EMAIL,
                           phone=None, primary=True, ctx=ctx_for(DAY))
        from avtaleflyt.services import cases

        cases.open_case(session=s, kommunenummer="1837", opened_on=DAY, ctx=ctx_for(DAY))
        store_document(session=s, kind="agreement", ctx=ctx_for(DAY), kommunenummer="1837")
    # Stored in the (0600) database, not as files; a copy a user asks for is 0600 too.
    assert not (data / "documents").exists()
    copy = tmp_path / "kopi" / "avtale.html"
    got = cli("doc", "get", "1837/agreement-v1.html", "--out", str(copy))
    assert got.exit_code == 0, got.output
    assert mode(copy) == 0o600 and "Meløy" in copy.read_text(encoding="utf-8")


def test_by_is_refused_unless_the_installation_allows_it(sqlite_url, tmp_path, monkeypatch):
    r = cli("--by", "ola", "status")
    assert r.exit_code == 2 and "«--by» er ikke tillatt" in r.output
    cfg = tmp_path / "opplaering.toml"
    cfg.write_text("[cli]\nallow_by = true\n")
    assert cli("--config", str(cfg), "--by", "ola", "status").exit_code == 0
    cfg = tmp_path / "feil.toml"
    cfg.write_text('[cli]\nallow_by = "ja"\n')
    bad = cli("--config", str(cfg), "--by", "ola", "status")
    assert bad.exit_code == 2 and "cli.allow_by" in bad.output
