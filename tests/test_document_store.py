"""Documents made by the process and stored with their checksums, on SQLite and PostgreSQL.

Cases are driven through the services (no Prefect) the way `flows.onboarding` drives them:
after each stage's run, `ensure_stage_documents`.
"""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import date
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from avtaleflyt import db, runtime
from avtaleflyt.documents.render import DocumentError
from avtaleflyt.domain.kinds import TaskFamily, task_family
from avtaleflyt.domain.stages import Stage
from avtaleflyt.services import cases, documents, facts
from avtaleflyt.services.store import get_case, load_terms
from avtaleflyt.settings import Settings, load_settings
from avtaleflyt.models import Document, Task

from .conftest import ctx_for

KNR = "1836"


def advance(session, today, knr=KNR):
    """What the `onboarding` flow does, without Prefect."""
    made = []

    def run(stage):
        done = cases.run_stage(session=session, kommunenummer=knr, stage=stage,
                               ctx=ctx_for(today))
        made.extend(documents.ensure_stage_documents(session=session, kommunenummer=knr,
                                                     ctx=ctx_for(today)))
        return done

    cases.advance(session=session, kommunenummer=knr, ctx=ctx_for(today), run=run)
    return made


def record(session, kind, on, knr=KNR, **options):
    ctx = ctx_for(on)
    cases.record_fact(session=session, kommunenummer=knr,
                      fact=facts.build_fact(kind, on, options, ctx), ctx=ctx)
    return advance(session, on, knr)


def to_political_approval(session, knr=KNR, opened=date(2026, 3, 2)):
    cases.open_case(session=session, kommunenummer=knr, opened_on=opened, ctx=ctx_for(opened))
    record(session, "meeting-held", date(2026, 3, 10), knr)
    record(session, "needs-assessed", date(2026, 3, 12), knr)
    return record(session, "intent-confirmed", date(2026, 3, 19), knr)


def to_system_setup(session):
    to_political_approval(session)
    record(session, "council-decision", date(2026, 4, 23), outcome="approved", reference="26/14")
    record(session, "county-decision", date(2026, 5, 5), outcome="approved")
    record(session, "terms-set", date(2026, 5, 11), start="2026-09-01", years="3",
           notice_months="6", price="kr 150 000", position_share="25", site_visits="6")
    record(session, "signed", date(2026, 5, 20), party="municipality")
    return record(session, "signed", date(2026, 5, 22), party="county")


def root():
    """The stored documents, by name, as the database holds them."""
    from .doc_support import stored_documents

    return stored_documents()


def rows(session, kind=None):
    q = select(Document).order_by(Document.kind, Document.format, Document.version)
    if kind:
        q = q.where(Document.kind == kind)
    return session.exec(q).all()


def assert_intact(row: Document):
    data = (root() / row.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == row.sha256
    assert len(data) == row.size


def test_entering_stages_stores_drafts_with_matching_checksums(session, db_url):
    made = to_political_approval(session)
    assert made == ["1836/saksframlegg-v1.html", "1836/saksframlegg-v1.docx",
                    "1836/saksframlegg-v1.pdf"]
    to_system_setup_rest = [
        record(session, "council-decision", date(2026, 4, 23), outcome="approved"),
        record(session, "county-decision", date(2026, 5, 5), outcome="approved"),
    ]
    # The data processing agreement is drafted together with the cooperation agreement.
    assert to_system_setup_rest[-1] == [
        "1836/agreement-v1.html", "1836/agreement-v1.docx", "1836/agreement-v1.pdf",
        "1836/databehandleravtale-v1.html", "1836/databehandleravtale-v1.docx",
        "1836/databehandleravtale-v1.pdf"]
    record(session, "terms-set", date(2026, 5, 11), start="2026-09-01", years="3",
           notice_months="6")
    record(session, "signed", date(2026, 5, 20), party="municipality")
    assert record(session, "signed", date(2026, 5, 22), party="county") == [
        "1836/setup_checklist-v1.html", "1836/setup_checklist-v1.docx",
        "1836/setup_checklist-v1.pdf"]

    stored = rows(session)
    assert [(r.kind, r.format, r.version) for r in stored] == [
        (kind, fmt, 1) for kind in ("agreement", "databehandleravtale", "saksframlegg",
                                    "setup_checklist")
        for fmt in ("docx", "html", "pdf")]
    _, case = get_case(session, KNR)
    for r in stored:
        assert_intact(r)
        assert r.case_id == case.id and r.created_at.tzinfo is not None
    entered = {r.kind: r.created_on for r in stored}
    assert entered == {"saksframlegg": date(2026, 3, 19), "agreement": date(2026, 5, 5),
                       "databehandleravtale": date(2026, 5, 5),
                       "setup_checklist": date(2026, 5, 22)}

    # Running the stage again (a retried flow) makes nothing new.
    assert advance(session, date(2026, 5, 23)) == []
    assert len(rows(session)) == 12

    # The checklist lists the stored setup tasks with their due dates.
    html = (root() / "1836/setup_checklist-v1.html").read_text(encoding="utf-8")
    table = BeautifulSoup(html, "html.parser").find("table", class_="checklist")
    titles = [tr.find("td").get_text(strip=True) for tr in table.tbody.find_all("tr")]
    tasks = session.exec(select(Task).where(Task.case_id == case.id,
                                            Task.stage == "system_setup")
                         .order_by(Task.id)).all()
    assert titles == [t.title for t in tasks] and len(titles) == 7


def test_new_versions_never_overwrite_old_ones(session, db_url):
    to_political_approval(session)
    [first] = rows(session, "saksframlegg")[1:2]  # the html v1 (after docx, before pdf)
    assert (first.format, first.version) == ("html", 1)
    before = (root() / first.path).read_bytes()

    record(session, "council-decision", date(2026, 4, 1), outcome="postponed", reference="26/9")
    [v2] = documents.store_document(session=session, kind="saksframlegg", kommunenummer=KNR,
                                    ctx=ctx_for(date(2026, 4, 2)))
    [v3] = documents.store_document(session=session, kind="saksframlegg", kommunenummer=KNR,
                                    ctx=ctx_for(date(2026, 4, 3)))
    assert (v2.version, v3.version) == (2, 3)
    assert (root() / first.path).read_bytes() == before
    assert "26/9" in (root() / v2.path).read_text(encoding="utf-8")
    assert "26/9" not in before.decode("utf-8")
    for r in rows(session, "saksframlegg"):
        assert_intact(r)


def test_documents_live_in_the_database_and_identical_bytes_once(session, db_url):
    """Nothing is written to the data directory; two versions with the same bytes share one
    stored copy, each still its own version."""
    to_political_approval(session)
    [v1] = documents.store_document(session=session, kind="agreement", kommunenummer=KNR,
                                    ctx=ctx_for(date(2026, 3, 20)))
    [v2] = documents.store_document(session=session, kind="agreement", kommunenummer=KNR,
                                    ctx=ctx_for(date(2026, 3, 20)))
    assert (v1.path, v2.path) == ("1836/agreement-v1.html", "1836/agreement-v2.html")
    assert v1.sha256 == v2.sha256
    assert not documents.documents_root().exists()
    from avtaleflyt.models import DocumentBlob

    blobs = session.exec(select(DocumentBlob).where(DocumentBlob.sha256 == v1.sha256)).all()
    assert len(blobs) == 1
    assert_intact(v1)
    assert_intact(v2)


def test_concurrent_writers_get_distinct_versions(session, db_url):
    to_political_approval(session)
    writers = 4
    barrier = threading.Barrier(writers)
    results, errors = [], []

    def write():
        try:
            with db.session_scope(db_url) as s:
                barrier.wait()
                [r] = documents.store_document(session=s, kind="saksframlegg",
                                               kommunenummer=KNR,
                                               ctx=ctx_for(date(2026, 3, 20)))
                results.append(r.version)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [2, 3, 4, 5]  # v1 is the draft made on stage entry
    html = [r for r in rows(session, "saksframlegg") if r.format == "html"]
    assert [r.version for r in html] == [1, 2, 3, 4, 5]
    for r in html:
        assert_intact(r)


def test_docx_agreement_matches_the_recorded_terms(session, db_url):
    to_system_setup(session)
    [row] = documents.store_document(session=session, kind="agreement", kommunenummer=KNR,
                                     formats=("docx",), ctx=ctx_for(date(2026, 5, 25)))
    assert row.version == 2  # the draft from entering contract signing is version 1
    assert_intact(row)
    document = docx.Document(io.BytesIO((root() / row.path).read_bytes()))

    _, case = get_case(session, KNR)
    _, terms = load_terms(session, case.id)
    [table] = [t for t in document.tables if t.rows[0].cells[0].text == "Oppgave"]
    got = [tuple(c.text for c in r.cells) for r in table.rows[1:]]
    assert got == [(r.task, "Fylkeskommunen" if r.responsible == "county" else "Kommunen")
                   for r in terms.split]
    assert len(got) == 12

    text = "\n".join(p.text for p in document.paragraphs)
    # Worked out by hand: 3 years from 1 Sep 2026, six months' notice, kr 150 000 a year.
    assert "fra og med 1. september 2026 til og med 31. august 2029 (3 år)" in text
    assert "senest 28. februar 2029" in text
    assert "kr 150 000 per år, til sammen kr 450 000" in text
    assert "25 % stilling" in text and "6 ganger per år" in text
    assert "Utkast" not in text

    draft = docx.Document(io.BytesIO((root() / "1836/agreement-v1.docx").read_bytes()))
    draft_text = "\n".join(p.text for p in draft.paragraphs)
    assert "Utkast" in draft_text and "kr 120 000 per år" in draft_text


def test_hostile_text_survives_literally(session, db_url):
    from avtaleflyt.domain.stages import Theme
    from avtaleflyt.services import people

    hostile = '<script>alert(1)</script> & "x" {{ 7*7 }} {% if 1 %}'
    to_political_approval(session)
    record(session, "council-decision", date(2026, 4, 1), outcome="postponed",
           reference='<b>26/9</b> & {{ 7*7 }}')
    people.add_note(session=session, kommunenummer=KNR, theme=Theme.ENGAGEMENT, text=hostile,
                    on=date(2026, 4, 2), ctx=ctx_for(date(2026, 4, 2)))
    saks = documents.store_document(session=session, kind="saksframlegg", kommunenummer=KNR,
                                    formats=("html", "docx"), ctx=ctx_for(date(2026, 4, 2)))
    html = (root() / saks[0].path).read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None and soup.find("b") is None
    assert "Saksnummer: <b>26/9</b> & {{ 7*7 }}" in soup.get_text()
    word = docx.Document(io.BytesIO((root() / saks[1].path).read_bytes()))
    assert any("<b>26/9</b> & {{ 7*7 }}" in p.text for p in word.paragraphs)

    report = documents.store_document(session=session, kind="experience_report",
                                      formats=("html", "docx"), ctx=ctx_for(date(2026, 4, 2)))
    soup = BeautifulSoup((root() / report[0].path).read_text(encoding="utf-8"), "html.parser")
    assert soup.find("script") is None
    assert hostile in soup.get_text()
    word = docx.Document(io.BytesIO((root() / report[1].path).read_bytes()))
    assert any(hostile in p.text for p in word.paragraphs)


BROKEN = """{% extends "base.html.j2" %}
{% block content %}
<h1>{{ doc.municipality.nickname }}</h1>
{% endblock %}
"""


def test_broken_override_template_names_file_and_line_and_writes_nothing(
        session, db_url, tmp_path, monkeypatch):
    to_political_approval(session)
    before = {p for p in root().rglob("*")}
    count = len(rows(session))
    overrides = tmp_path / "maler"
    overrides.mkdir()
    (overrides / "agreement.html.j2").write_text(BROKEN, encoding="utf-8")
    (overrides / "saksframlegg.html.j2").write_text("<h1>{% if %}</h1>\n", encoding="utf-8")

    with pytest.raises(DocumentError) as e:
        documents.store_document(session=session, kind="agreement", kommunenummer=KNR,
                                 formats=("html", "docx"), ctx=ctx_for(date(2026, 3, 20)),
                                 settings=Settings(template_dir=overrides))
    assert "«agreement.html.j2», linje 3" in e.value.message
    with pytest.raises(DocumentError) as e:
        documents.store_document(session=session, kind="saksframlegg", kommunenummer=KNR,
                                 ctx=ctx_for(date(2026, 3, 20)),
                                 settings=Settings(template_dir=overrides))
    assert "«saksframlegg.html.j2», linje 1" in e.value.message

    # The stage hook reads the entry point's settings (here from AVTALEFLYT_TEMPLATE_DIR,
    # as a scheduled flow run would), and fails the same way.
    monkeypatch.setenv("AVTALEFLYT_TEMPLATE_DIR", str(overrides))
    with runtime.use_settings(load_settings()):
        record(session, "council-decision", date(2026, 4, 23), outcome="approved")
        with pytest.raises(DocumentError, match="agreement.html.j2") as e:
            record(session, "county-decision", date(2026, 5, 5), outcome="approved")
        assert "avtaleflyt case advance 1836" in e.value.message
        assert cases.current_stage(session=session, kommunenummer=KNR) is Stage.CONTRACT_SIGNING

        assert {p for p in root().rglob("*")} == before
        assert len(rows(session)) == count

        # Once the override is fixed, the next run of the stage writes the missing draft.
        (overrides / "agreement.html.j2").write_text(
            BROKEN.replace("nickname", "name"), encoding="utf-8")
        assert advance(session, date(2026, 5, 6)) == [
            "1836/agreement-v1.html", "1836/agreement-v1.docx", "1836/agreement-v1.pdf",
            "1836/databehandleravtale-v1.html", "1836/databehandleravtale-v1.docx",
            "1836/databehandleravtale-v1.pdf"]
    html = (root() / "1836/agreement-v1.html").read_text(encoding="utf-8")
    assert "<h1>Rødøy kommune</h1>" in html


def test_yearly_report_from_the_running_stage(session, db_url):
    from avtaleflyt.domain.errors import InvalidInput
    from avtaleflyt.domain.stages import Theme
    from avtaleflyt.services import people

    to_system_setup(session)
    _, case = get_case(session, KNR)
    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             Task.stage == "system_setup")).all():
        cases.complete_task(session=session, task_id=t.id, on=date(2026, 8, 14),
                            ctx=ctx_for(date(2026, 8, 14)))
    advance(session, date(2026, 9, 1))
    assert cases.current_stage(session=session, kommunenummer=KNR) is Stage.RUNNING_OPERATION
    # Two duties of the running stage as they would be recorded, besides any generated ones.
    session.add(Task(case_id=case.id, stage="running_operation", key="test.plan",
                     title="Bibliotekplan <utkast> & budsjett", responsible="county",
                     due_on=date(2026, 10, 1), done_on=date(2026, 9, 28)))
    # The visit is keyed as duties.py keys visits.
    session.add(Task(case_id=case.id, stage="running_operation", key="duty.visit.test-1",
                     title="Besøk i kommunen", responsible="county",
                     due_on=date(2026, 11, 16), done_on=date(2026, 11, 12)))
    session.commit()
    people.add_note(session=session, kommunenummer=KNR, theme=Theme.TECHNICAL_SYSTEMS,
                    text="IT var med fra start.", on=date(2026, 10, 2),
                    ctx=ctx_for(date(2026, 10, 2)))

    today = ctx_for(date(2027, 1, 15))
    [row] = documents.store_document(session=session, kind="yearly_report", kommunenummer=KNR,
                                     year=2026, ctx=today)
    assert row.path == "1836/yearly_report-v1.html"
    assert_intact(row)
    soup = BeautifulSoup((root() / row.path).read_text(encoding="utf-8"), "html.parser")
    duties = {tr.find_all("td")[0].get_text(): tr.find_all("td")[2].get_text()
              for tr in soup.find("table", class_="duties").tbody.find_all("tr")}
    assert duties["Bibliotekplan <utkast> & budsjett"] == "Utført 28.09.2026"
    assert "Besøk i kommunen" not in duties  # visits are counted, not listed as duties
    running = session.exec(select(Task).where(Task.case_id == case.id,
                                              Task.stage == "running_operation")).all()
    visits = [t for t in running if task_family(t.key) is TaskFamily.DUTY_VISIT
              and t.due_on.year == 2026]
    done = sum(1 for t in visits if t.done_on)
    assert f"Gjennomført {done} av {len(visits)} planlagte besøk." in soup.get_text()
    assert "IT var med fra start." in soup.get_text()

    with pytest.raises(InvalidInput, match="«--year»: 2025"):
        documents.store_document(session=session, kind="yearly_report", kommunenummer=KNR,
                                 year=2025, ctx=today)
    assert len(rows(session, "yearly_report")) == 1
