"""The command inbox (flows get only a command id), idempotency keys, and redaction of
free text that may name people — on SQLite and PostgreSQL, with a real Prefect server."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, func, select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import Command, Event, ExperienceNote, PersonalText, load_all

from .web_support import csrf_of, logged_in

pytestmark = pytest.mark.prefect
runner = CliRunner()
TODAY = "2026-03-20"


def cli(*args: str, by: str | None = None):
    """`by` is the login name the command runs as (the OS user; `--by` is off by default)."""
    argv = ["--today", TODAY] + list(args)
    return runner.invoke(app, argv, catch_exceptions=False,
                         env={"AVTALEFLYT_USER": by} if by else None)


def _flow_runs(names: list[str]):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    # Newest first: the server is shared by the whole session.
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=names)),
                                     sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)


def _all_text(url: str) -> str:
    """Every string, text and JSON column of every table, as one string."""
    parts = []
    with db.get_engine(url).connect() as c:
        load_all()  # every table, not only those this process has used
        for table in SQLModel.metadata.sorted_tables:
            cols = [col for col in table.columns
                    if isinstance(col.type, (sa.String, sa.Text, sa.JSON))]
            if cols:
                for row in c.execute(sa.select(*cols)):
                    parts.extend(json.dumps(v, ensure_ascii=False) if not isinstance(v, str)
                                 else v for v in row if v is not None)
    return "\n".join(parts)


def _open_case(by: str) -> None:
    r = cli("case", "open", "1836", "--date", "02.03.2026", by=by)
    assert r.exit_code == 0, r.output


def test_note_text_reason_and_login_never_reach_prefect_or_the_event_table(db_url,
                                                                            prefect_server):
    login = f"ola.{uuid.uuid4().hex[:6]}"
    note = f"Ordfører Per Hansen var skeptisk {uuid.uuid4().hex[:6]}"
    reason = f"Kommunedirektør Kari Berg er sykmeldt {uuid.uuid4().hex[:6]}"
    _open_case(login)
    assert cli("note", "add", "1836", note, "--theme", "engagement", by=login).exit_code == 0
    assert cli("case", "hold", "1836", "--reason", reason, by=login).exit_code == 0
    # A form post from the dashboard, as the logged-in user «kari».
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    web_note = f"Notat fra skjemaet om Nils Nilsen {uuid.uuid4().hex[:6]}"
    r = c.post("/sak/1836/notat", data={"csrf_token": csrf_of(page), "theme": "other",
                                        "text": web_note})
    assert r.status_code == 303

    runs = _flow_runs(["open-case", "add-note", "change-case-status"])
    with db.session_scope(db_url) as s:
        commands = s.exec(select(Command)).all()
        mine = {cmd.id for cmd in commands}
        assert {cmd.actor for cmd in commands} == {login, "kari"}
        events = s.exec(select(Event)).all()
    ours = [r for r in runs if r.parameters.get("command_id") in mine]
    assert len(ours) >= 4
    for secret in (note, reason, web_note, login, "kari"):
        for r in runs:
            assert secret not in json.dumps(r.parameters, default=str), r.name
            assert secret not in r.name
        # The event history refers to the text by id and never holds it.
        assert all(secret not in json.dumps(e.details, ensure_ascii=False) for e in events)
    hold = next(e for e in events if e.kind == "case_on_hold")
    assert set(hold.details) == {"reason_text_id"}
    # The operator still sees the reason and the notes in `case show`, with their text ids.
    shown = cli("case", "show", "1836").output
    assert note in shown and web_note in shown and "(tekst " in shown
    d = json.loads(cli("case", "show", "1836", "--json").stdout)
    held = next(h for h in d["history"] if h["kind"] == "case_on_hold")
    assert reason in held["label"] and held["text_id"] == hold.details["reason_text_id"]
    assert f"(tekst {held['text_id']})" in held["label"]


def test_a_retried_cli_command_with_the_same_key_records_once(db_url, prefect_server):
    _open_case("anna")
    key = uuid.uuid4().hex
    args = ("--idempotency-key", key, "note", "add", "1836", "Kontakt via rådmannen",
            "--json")
    first = cli(*args)
    second = cli(*args)
    assert first.exit_code == second.exit_code == 0, second.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    with db.session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(ExperienceNote)).one() == 1
        assert len(s.exec(select(Event).where(Event.kind == "note_added")).all()) == 1
        cmd = s.exec(select(Command).where(Command.idempotency_key == key)).one()
        assert cmd.status == "done"
    # A re-run of the flow for a command that is done returns the stored result.
    from avtaleflyt import runtime
    from avtaleflyt.flows import commands

    again = runtime.run_flow(commands.add_note, command_id=cmd.id)
    assert again == cmd.result
    with db.session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(ExperienceNote)).one() == 1
    # The same key for another command is refused, naming the field; nothing is written.
    before = _all_text(db_url)
    r = cli("--idempotency-key", key, "case", "hold", "1836")
    assert r.exit_code != 0 and "«--idempotency-key»" in r.output
    r = cli("--idempotency-key", "kort", "note", "add", "1836", "x")
    assert r.exit_code == 2 and "«--idempotency-key»" in r.output
    assert _all_text(db_url) == before


def test_a_double_submitted_form_records_one_note(db_url, prefect_server):
    _open_case("anna")
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    form = re.search(r'action="/sak/1836/notat".*?</form>', page, re.S).group(0)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    data = {"csrf_token": csrf_of(page), "idempotency_key": key, "theme": "engagement",
            "text": "Sendt to ganger"}
    assert c.post("/sak/1836/notat", data=data).status_code == 303
    assert c.post("/sak/1836/notat", data=data).status_code == 303
    with db.session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(ExperienceNote)).one() == 1
    # A new rendering of the page is a new form with a new key.
    assert key not in c.get("/sak/1836").text


def _stored_bytes(url: str) -> list[bytes]:
    """Every stored document content (also bytes no version refers to any more), DOCX
    unpacked."""
    import io

    from avtaleflyt.models import DocumentBlob

    out = []
    with db.session_scope(url) as s:
        for blob in s.exec(select(DocumentBlob)).all():
            data = bytes(blob.content)
            if data[:2] == b"PK":
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    out.extend(z.read(n) for n in z.namelist())
            else:
                out.append(data)
    return out


def test_redaction_leaves_a_marker_everywhere_and_the_text_nowhere(db_url, tmp_path,
                                                                   prefect_server):
    import hashlib

    from avtaleflyt.models import Document
    from avtaleflyt.services import document_store

    secret = "Rådmann Jens Olsen motarbeidet avtalen"
    _open_case("anna")
    assert cli("note", "add", "1836", secret, "--theme", "engagement").exit_code == 0
    assert cli("note", "add", "1836", "Biblioteket var godt forberedt").exit_code == 0
    # A stored experience report (HTML and DOCX) that contains the note.
    r = cli("report", "experience", "--county", "18", "--format", "html",
            "--out", str(tmp_path / "before.html"))
    assert r.exit_code == 0, r.output
    from avtaleflyt import runtime
    from avtaleflyt.services import documents

    with runtime.session() as s:
        documents.store_document(session=s, kind="experience_report", county="18",
                                 formats=("html", "docx"), ctx=runtime.ctx(date(2026, 3, 20)))
    secret_bytes = secret.encode()
    assert any(secret_bytes in b for b in _stored_bytes(db_url))

    listed = json.loads(cli("redact", "--list", "1836", "--json").stdout)
    text_id = next(t["id"] for t in listed if t["text"] == secret)
    # Bad input: no reason → refused naming the field, nothing changes.
    before = _all_text(db_url)
    r = cli("redact", str(text_id))
    assert r.exit_code == 2 and "«--reason»" in r.output
    assert _all_text(db_url) == before
    r = cli("redact", str(text_id), "--reason", "Krav om sletting fra den registrerte",
            by="driftsansvarlig")
    assert r.exit_code == 0, r.output

    shown = cli("case", "show", "1836").output
    assert "[sladdet]" in shown and secret not in shown
    assert "Biblioteket var godt forberedt" in shown
    page = logged_in(db_url).get("/sak/1836").text
    assert "[sladdet]" in page and secret not in page
    r = cli("report", "experience", "--county", "18", "--format", "html",
            "--out", str(tmp_path / "after.html"))
    report = (tmp_path / "after.html").read_text(encoding="utf-8")
    assert "[sladdet]" in report and secret not in report
    with db.session_scope(db_url) as s:
        event = s.exec(select(Event).where(Event.kind == "text_redacted")).one()
        assert event.recorded_by == "driftsansvarlig"
        assert event.details["text_id"] == text_id
        assert s.get(PersonalText, text_id).redacted_by == "driftsansvarlig"
        for d in s.exec(select(Document)).all():  # the stored bytes still match their hash
            data = document_store.content(s, d)
            assert hashlib.sha256(data).hexdigest() == d.sha256
    assert secret not in _all_text(db_url)
    assert not any(secret_bytes in b for b in _stored_bytes(db_url))
    assert any(b"[sladdet]" in b for b in _stored_bytes(db_url))
    assert "Tekst" in cli("case", "show", "1836").output  # «Tekst N sladdet» in the history
    # Redacting again is refused.
    r = cli("redact", str(text_id), "--reason", "igjen")
    assert r.exit_code != 0 and "allerede sladdet" in r.output


def test_a_redacted_hold_reason_shows_the_marker(db_url, prefect_server):
    reason = "Venter på at Berit Hansen kommer tilbake"
    _open_case("anna")
    assert cli("case", "hold", "1836", "--reason", reason).exit_code == 0
    d = json.loads(cli("case", "show", "1836", "--json").stdout)
    held = next(h for h in d["history"] if h["kind"] == "case_on_hold")
    assert reason in held["label"]
    assert cli("redact", str(held["text_id"]), "--reason", "Personopplysning").exit_code == 0
    d = json.loads(cli("case", "show", "1836", "--json").stdout)
    held = next(h for h in d["history"] if h["kind"] == "case_on_hold")
    assert "[sladdet]" in held["label"] and reason not in json.dumps(d, ensure_ascii=False)
    assert reason not in _all_text(db_url)


def test_listing_texts_to_redact_is_read_only_and_does_not_start_prefect(sqlite_url):
    import os

    from .cli_support import run_isolated

    run = run_isolated([["redact", "--list", "1836", "--json"]], dict(os.environ))
    assert json.loads(run.outputs[0]) == [] and not run.prefect_loaded


def test_a_refusal_that_quotes_the_users_input_stays_out_of_prefect(db_url, tmp_path,
                                                                     prefect_server):
    """A meeting plan whose bad row names a person: the user is told, with the row quoted,
    before any flow run (services/preflight.py). Should the flow still refuse it (a change
    in between), Prefect's flow run completes as refused, and neither its state message nor
    its logs quote the input."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from avtaleflyt import runtime
    from avtaleflyt.domain.errors import InvalidInput

    plan = tmp_path / "plan.csv"
    plan.write_text("kommunenummer;organ;dato\n1836;Ragnhild Organfeil;18.06.2026\n",
                    encoding="utf-8")
    before = {r.id for r in _flow_runs(["import-meetings"])}
    result = cli("meeting", "import", str(plan))
    assert result.exit_code == 2 and "Ragnhild Organfeil" in result.stderr
    assert {r.id for r in _flow_runs(["import-meetings"])} == before  # no flow run started
    with pytest.raises(InvalidInput, match="Ragnhild Organfeil"):  # the flow's own check
        runtime.run_command("import_meetings", path=str(plan), kommunenummer=None, body=None,
                            county=None)
    runs = [r for r in _flow_runs(["import-meetings"])
            if r.parameters.get("command_id") is not None and r.id not in before][:1]
    assert runs and runs[0].state.is_completed()
    assert "Ragnhild" not in (runs[0].state.message or "")
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[runs[0].id])))
    assert not any("Ragnhild" in log.message for log in logs)
    with db.session_scope(db_url) as s:
        assert s.exec(select(Command)).all() == []  # a refused command leaves no row
