"""`avtaleflyt doc …` and `report experience` as a user runs them, and the stage flow's hook."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import date
from pathlib import Path

import docx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt import db, runtime
from avtaleflyt.cli.main import app
from avtaleflyt.services import documents
from avtaleflyt.models import Document

from .doc_support import stored_documents
from .test_document_store import to_political_approval

from .cli_support import run_isolated

runner = CliRunner()


def cli(*args: str, today: str = "2026-03-20"):
    return runner.invoke(app, ["--today", today, *args], catch_exceptions=False)


def stored(db_url) -> list[Document]:
    with db.session_scope(db_url) as s:
        return list(s.exec(select(Document).order_by(Document.id)).all())


def test_render_list_and_report(session, db_url, tmp_path):
    to_political_approval(session)

    result = cli("doc", "render", "1836", "agreement", "--format", "docx")
    assert result.exit_code == 0, result.output
    assert "Lagret 1836/agreement-v1.docx (versjon 1" in result.stdout
    # Stored in the database, not as a file; `doc get` writes a copy with the same bytes.
    assert not documents.documents_root().exists()
    copy = tmp_path / "kopi" / "avtale.docx"
    result = cli("doc", "get", "1836/agreement-v1.docx", "--out", str(copy))
    assert result.exit_code == 0, result.output
    assert docx.Document(str(copy)).paragraphs[0].text.startswith("Samarbeidsavtale")
    [row] = [r for r in stored(db_url) if r.kind == "agreement"]
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == row.sha256
    result = cli("doc", "get", "1836/agreement-v9.docx", "--out", str(tmp_path / "x.docx"))
    assert result.exit_code == 1 and "Fant ikke dokumentet «1836/agreement-v9.docx»" in \
        result.stderr
    assert not (tmp_path / "x.docx").exists()

    out = tmp_path / "ut" / "saksframlegg.html"
    out.parent.mkdir()
    before = len(stored(db_url))
    result = cli("doc", "render", "1836", "saksframlegg", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Saksframlegg" in out.read_text(encoding="utf-8")
    assert len(stored(db_url)) == before  # --out writes a file, it stores no version

    listing = json.loads(cli("doc", "list", "1836", "--json").stdout)
    assert [(d["kind"], d["format"], d["version"]) for d in listing] == [
        ("agreement", "docx", 1), ("saksframlegg", "docx", 1), ("saksframlegg", "html", 1),
        ("saksframlegg", "pdf", 1)]
    for d in listing:
        data = (stored_documents() / d["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == d["sha256"]
    table = cli("doc", "list", "1836")
    assert "agreement-v1.docx" in table.stdout and "saksframlegg-v1.html" in table.stdout

    figures = json.loads(cli("report", "experience", "--json").stdout)
    fc = next(s for s in figures["stages"] if s["stage"] == "first_contact")
    assert (fc["entered"], fc["completed"], fc["median_days"]) == (1, 1, 17)  # 2 → 19 March

    assert "Ingen rapporter" in cli("report", "list").stdout
    result = cli("report", "experience", "--format", "docx")
    assert result.exit_code == 0, result.output
    assert "Lagret fylke-18/experience_report-v1.docx" in result.stdout
    reports = json.loads(cli("report", "list", "--json").stdout)
    assert [(r["kind"], r["format"], r["version"], r["path"]) for r in reports] == [
        ("experience_report", "docx", 1, "fylke-18/experience_report-v1.docx")]
    assert "experience_report-v1.docx" in cli("report", "list").stdout


def test_pdf_and_the_data_processing_agreement_from_the_command_line(session, db_url,
                                                                     tmp_path):
    import pypdf

    to_political_approval(session)
    result = cli("doc", "render", "1836", "databehandleravtale", "--format", "pdf")
    assert result.exit_code == 0, result.output
    assert "Lagret 1836/databehandleravtale-v1.pdf (versjon 1" in result.stdout
    reader = pypdf.PdfReader(io.BytesIO(
        (stored_documents() / "1836/databehandleravtale-v1.pdf").read_bytes()))
    assert reader.metadata.title == "Databehandleravtale – Rødøy kommune og Nordland fylkeskommune"
    assert reader.metadata.author == "Nordland fylkeskommune"
    assert 'pdfaid:part="3"' in reader.xmp_metadata.rdf_root.toxml()
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Behandlingsansvarlig: Rødøy kommune" in text
    assert "Databehandler: Nordland fylkeskommune" in text

    out = tmp_path / "avtale.pdf"
    result = cli("doc", "render", "1836", "agreement", "--format", "pdf", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    listing = json.loads(cli("doc", "list", "1836", "--json").stdout)
    assert ("databehandleravtale", "pdf", 1) in [(d["kind"], d["format"], d["version"])
                                                 for d in listing]
    table = cli("doc", "list", "1836").stdout  # 80 columns, as in a terminal
    assert "databehandleravtale-v1.pdf" in table and "Databehandler" in table, table


def test_refusals_exit_non_zero_and_write_nothing(session, db_url, tmp_path):
    to_political_approval(session)
    before = len(stored(db_url))
    folder = tmp_path / "ut"
    folder.mkdir()
    for args, code, words in (
            (("doc", "render", "1836", "kontrakt"), 2, "Ukjent dokumenttype «kontrakt»"),
            (("doc", "render", "1836", "agreement", "--format", "odt"), 2, "«--format»"),
            (("doc", "render", "1836", "yearly_report", "--year", "2026"), 1, "ikke i drift"),
            (("doc", "render", "1839", "agreement"), 1, "har ingen sak"),
            (("doc", "list", "18x6"), 2, "fire siffer"),
            (("doc", "render", "1836", "agreement", "--out", str(folder)), 2, "er en mappe")):
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert words in result.stderr, (args, result.stderr)
    assert len(stored(db_url)) == before
    assert list(folder.iterdir()) == []
    assert sorted(stored_documents().names()) == [
        "1836/saksframlegg-v1.docx", "1836/saksframlegg-v1.html", "1836/saksframlegg-v1.pdf"]


def test_document_commands_never_import_prefect(db_url, tmp_path):
    env = {**os.environ, "AVTALEFLYT_DATABASE_URL": db_url, "AVTALEFLYT_TODAY": "2026-03-20"}
    out = tmp_path / "erfaring.html"
    run = run_isolated([["doc", "list", "1836", "--json"], ["doc", "list", "1836"],
                        ["report", "list"], ["report", "experience", "--json"],
                        ["report", "experience", "--out", str(out)],
                        ["report", "experience", "--format", "docx"],
                        ["doc", "get", "landet/experience_comparison-v1.docx", "--out",
                         str(tmp_path / "kopi.docx")]], env)
    assert not run.prefect_loaded
    assert out.exists() and (tmp_path / "kopi.docx").exists()


@pytest.mark.prefect
def test_record_fact_flow_stores_the_saksframlegg(db_url, prefect_server):
    today = date(2026, 3, 19)
    runtime.run_command("open_case", kommunenummer="1836", opened_on=date(2026, 3, 2),
                        today=today)
    for fact, on in (("meeting-held", date(2026, 3, 10)), ("needs-assessed", date(2026, 3, 12))):
        runtime.run_command("record_fact", kommunenummer="1836", fact=fact, occurred_on=on,
                            today=today)
    assert stored(db_url) == []
    result = runtime.run_command("record_fact", kommunenummer="1836",
                                 fact="intent-confirmed", occurred_on=today, today=today)
    assert result["stage"] == "political_approval"

    rows = stored(db_url)
    assert [(r.kind, r.format, r.version, r.created_on) for r in rows] == [
        ("saksframlegg", "html", 1, today), ("saksframlegg", "docx", 1, today),
        ("saksframlegg", "pdf", 1, today)]
    for r in rows:
        data = (stored_documents() / r.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256
    html = (stored_documents() / rows[0].path).read_text(encoding="utf-8")
    assert "Rødøy kommune" in html and "kr 120 000" in html and "19. mars 2026" in html


def test_render_help_names_every_document_kind_it_accepts():
    """The help lists the kinds `doc render` accepts, from the same table the check uses
    (the data processing agreement was once missing from a hand-written list)."""
    result = runner.invoke(app, ["doc", "render", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for kind in documents.CASE_KINDS:
        assert kind in result.output
    assert "databehandleravtale" in result.output
