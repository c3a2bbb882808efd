"""Every document rendered with realistic data, read back as HTML and as DOCX."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import docx
import pytest
from bs4 import BeautifulSoup
from jinja2.exceptions import SecurityError

from avtaleflyt.documents.context import (
    CountyExperience,
    ExperienceComparisonContext,
    AgreementContext,
    ChecklistContext,
    ChecklistItem,
    ClosedCase,
    DataProcessingContext,
    DutyRecord,
    ExperienceNote,
    ExperienceReportContext,
    Party,
    SaksframleggContext,
    SaksgangStep,
    StageSpan,
    Terms,
    YearlyReportContext,
    default_responsibility_split,
)
from avtaleflyt.documents.render import KINDS, DocumentError, DocumentRenderer

TODAY = date(2026, 5, 17)
HOSTILE = '<script>alert(1)</script> & "x" {{ 7*7 }}'

COUNTY = Party("Nordland fylkeskommune", "964 982 953", "Prinsens gate 100, 8048 Bodø",
               "Kari Nordmann", "Fylkesbiblioteksjef")
RODOY = Party("Rødøy kommune", "945 114 878", "Rådhuset, 8185 Vågaholmen",
              "Ola Hansen", "Kommunedirektør")
TERMS = Terms(start_date=date(2027, 1, 1), years=3, notice_months=6, yearly_price=120_000,
              position_share=Decimal("20"), site_visits_per_year=4)
SPLIT = [(row.task, "Fylkeskommunen" if row.responsible == "county" else "Kommunen")
         for row in default_responsibility_split()]


def saksframlegg(municipality: Party = RODOY, terms: Terms | None = TERMS) -> SaksframleggContext:
    return SaksframleggContext(
        county=COUNTY, municipality=municipality, today=TODAY, terms=terms,
        situation="Biblioteket har én lokalt ansatt i 60 % stilling og ingen fagutdannet leder.",
        saksgang=[SaksgangStep("Formannskapet", date(2026, 6, 4)),
                  SaksgangStep("Kommunestyret", date(2026, 6, 18))], reference="2026/412")


def agreement(municipality: Party = RODOY) -> AgreementContext:
    return AgreementContext(COUNTY, municipality, TERMS, today=TODAY, reference="2026/412")


def data_processing() -> DataProcessingContext:
    return DataProcessingContext(COUNTY, RODOY, today=TODAY)


def checklist() -> ChecklistContext:
    items = [
        ChecklistItem("Brukerkonto i kommunens nettverk", "municipality", date(2026, 12, 1),
                      date(2026, 11, 20), contact_name="IT-tjenesten v/ Per Olsen"),
        ChecklistItem("Tilgang til bibliotekssystemet", "municipality", date(2026, 5, 1)),
        ChecklistItem("Første besøk planlagt", "county", date(2026, 12, 15)),
        ChecklistItem("Presentasjon for kommunestyret", "county", None, mandatory=False),
    ]
    return ChecklistContext(COUNTY, RODOY, items, today=TODAY, start_date=TERMS.start_date)


def yearly_report(municipality: Party = RODOY, note_text: str = "Godt samarbeid med IT.") \
        -> YearlyReportContext:
    duties = [
        DutyRecord("Bibliotekstatistikk til fylkesbiblioteket", date(2027, 3, 1), date(2027, 2, 20)),
        DutyRecord("Årsmelding for biblioteket", date(2027, 4, 30)),
        DutyRecord("Budsjettforslag for 2028", date(2027, 9, 15)),
    ]
    notes = [ExperienceNote("Rødøy", "running_operation", "technical_systems", note_text,
                            date(2027, 2, 2))]
    return YearlyReportContext(COUNTY, municipality, 2027, duties, site_visits_done=3,
                               site_visits_planned=4, today=date(2027, 6, 1), notes=notes)


def experience_report() -> ExperienceReportContext:
    spans = [
        StageSpan("1836", "Rødøy", "first_contact", date(2026, 1, 5), date(2026, 2, 4)),  # 30
        StageSpan("1856", "Røst", "first_contact", date(2026, 2, 1), date(2026, 2, 21)),  # 20
        StageSpan("1835", "Træna", "first_contact", date(2026, 1, 10), date(2026, 3, 1)),  # 50
        StageSpan("1857", "Værøy", "first_contact", date(2026, 3, 1)),  # open, 77 days by today
        StageSpan("1836", "Rødøy", "political_approval", date(2026, 2, 4)),
    ]
    notes = [
        ExperienceNote("Rødøy", "system_setup", "technical_systems",
                       "IT-avdelingen bør være med fra første møte.", date(2026, 3, 3)),
        ExperienceNote("Røst", "first_contact", "engagement",
                       "Kommunedirektøren deltok aktivt.", date(2026, 2, 10)),
    ]
    closed = [ClosedCase("Værøy", "withdrawn", date(2026, 4, 2), "Ansatte egen biblioteksjef.")]
    return ExperienceReportContext("Nordland fylkeskommune", TODAY, spans, notes, closed)


def experience_comparison() -> ExperienceComparisonContext:
    troms = ExperienceReportContext(
        "Troms fylkesbibliotek", TODAY,
        [StageSpan("5501", "Tromsø", "first_contact", date(2026, 2, 2), date(2026, 2, 12))],
        [ExperienceNote("Tromsø", "first_contact", "engagement", "Ordføreren var med.",
                        date(2026, 2, 5), county="Troms")])
    return ExperienceComparisonContext(TODAY, [
        CountyExperience("18", "Nordland fylkeskommune", "Nordland fylkesbibliotek",
                         experience_report(), in_progress=3, withdrawn=1),
        CountyExperience("55", "Troms fylkeskommune", "Troms fylkesbibliotek", troms,
                         in_progress=1)])


CONTEXTS = {
    "saksframlegg": saksframlegg,
    "agreement": agreement,
    "databehandleravtale": data_processing,
    "setup_checklist": checklist,
    "yearly_report": yearly_report,
    "experience_report": experience_report,
    "experience_comparison": experience_comparison,
}


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def text_of(html: str) -> str:
    return " ".join(soup(html).get_text(" ").split())


def open_docx(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def docx_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def table_rows(table) -> list[tuple[str, ...]]:
    return [tuple(cell.get_text(" ", strip=True) for cell in tr.find_all(["td", "th"]))
            for tr in table.find_all("tr")]


# -- every kind ---------------------------------------------------------------------------


def test_every_kind_has_a_context_here():
    assert set(CONTEXTS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_every_document_renders_with_one_title_and_real_word_headings(renderer, kind):
    html = renderer.render_html(kind, CONTEXTS[kind]())
    page = soup(html)
    assert len(page.find_all("h1")) == 1 and page.find_all("h2")
    assert page.title.get_text().strip()

    document = open_docx(renderer.render_docx(kind, CONTEXTS[kind]()))
    headings = [(p.style.name, p.text) for p in document.paragraphs
                if p.style.name.startswith("Heading")]
    assert headings[0] == ("Heading 1", page.h1.get_text(strip=True))
    assert [t for s, t in headings if s == "Heading 2"] == [
        h.get_text(strip=True) for h in page.find_all("h2")]
    assert document.core_properties.title == page.title.get_text().strip()


# -- agreement --------------------------------------------------------------------------


def test_agreement_html_has_terms_split_and_signatures(renderer):
    html = renderer.render_html("agreement", agreement())
    page = soup(html)
    assert page.h1.get_text() == "Samarbeidsavtale om bibliotekfaglig fjernledelse"
    assert [h.get_text() for h in page.find_all("h2")] == [
        "1. Parter", "2. Formål", "3. Rettslig grunnlag", "4. Organisering",
        "5. Ansvarsfordeling", "6. Tilgang til systemer og personopplysninger",
        "7. Avtaleperiode, fornyelse og oppsigelse", "8. Pris, omfang og prisregulering",
        "9. Merverdiavgift og fakturering", "10. Reiseutgifter", "11. Kontaktpersoner",
        "12. Evaluering", "13. Mislighold og heving", "14. Tvister", "15. Underskrifter"]
    assert table_rows(page.find("table", class_="responsibility")) == [("Oppgave", "Ansvar"), *SPLIT]
    text = text_of(html)
    for expected in ("fra og med 1. januar 2027 til og med 31. desember 2029 (3 år)",
                     "6 måneders varsel", "senest 30. juni 2029", "kr 120 000 per år",
                     "kr 360 000", "20 % stilling", "4 ganger per år", "Dato: 17. mai 2026",
                     "bibliotekssystemet", "Org.nr. 945 114 878"):
        assert expected in text
    signatories = page.find("div", class_="signature").find_all("div", class_="signatory")
    assert [s.p.get_text() for s in signatories] == [
        "For Nordland fylkeskommune", "For Rødøy kommune"]


def test_agreement_docx_has_the_split_as_a_word_table(renderer):
    document = open_docx(renderer.render_docx("agreement", agreement()))
    grid, signature = document.tables
    assert grid.style.name == "Table Grid"
    assert [tuple(c.text for c in row.cells) for row in grid.rows] == [("Oppgave", "Ansvar"), *SPLIT]
    assert all(run.bold for cell in grid.rows[0].cells for run in cell.paragraphs[0].runs)
    assert grid.rows[0]._tr.trPr is not None  # repeated header row
    assert [c.paragraphs[0].text for c in signature.rows[0].cells] == [
        "For Nordland fylkeskommune", "For Rødøy kommune"]
    text = docx_text(document)
    for expected in ("1. januar 2027", "31. desember 2029", "30. juni 2029", "kr 120 000",
                     "20 % stilling", "Sted og dato", "Ola Hansen\nKommunedirektør"):
        assert expected in text
    assert [p.style.name for p in document.paragraphs if "kr 120 000" in p.text] == ["List Bullet"]


# -- saksframlegg -------------------------------------------------------------------------


def test_saksframlegg_sets_out_background_consequences_and_proposal(renderer):
    page = soup(renderer.render_html("saksframlegg", saksframlegg()))
    text = text_of(str(page))
    for expected in ("folkebibliotekloven § 5", "FOR-2013-12-20-1656", "én lokalt ansatt i 60 %",
                     "kr 120 000 per år", "20 % stilling", "Saksnummer: 2026/412",
                     "Arkivsak: ____________", "Saksbehandler: ____________"):
        assert expected in text
    assert "standardtilbud" not in text
    headings = [h.get_text() for h in page.find_all("h2")]
    assert headings[:3] == ["Saksgang", "Vedlegg", "Kommunedirektørens innstilling"]
    assert "Økonomiske og personalmessige konsekvenser" in headings
    assert table_rows(page.find("table", class_="saksgang"))[1:] == [
        ("Formannskapet", "04.06.2026", "______"), ("Kommunestyret", "18.06.2026", "______")]
    assert table_rows(page.find("table", class_="responsibility"))[1:] == SPLIT
    proposal = [li.get_text(" ", strip=True) for li in page.find_all("ol")[1].find_all("li")]
    assert len(proposal) == 4
    assert proposal[0].startswith("Rødøy kommune inngår avtale med Nordland fylkeskommune")
    assert "1. januar 2027" in proposal[0]


def test_saksframlegg_draft_presents_the_standard_offer(renderer):
    ctx = saksframlegg(terms=None)
    assert ctx.offer == ctx.standard_terms
    text = text_of(renderer.render_html("saksframlegg", ctx))
    assert "ennå ikke fastsatt" in text and "standardtilbud" in text
    assert "kr 120 000 per år" in text and "20 % stilling" in text and "4 besøk" in text


def test_saksframlegg_docx_numbers_the_proposal(renderer):
    document = open_docx(renderer.render_docx("saksframlegg", saksframlegg()))
    numbered = [p for p in document.paragraphs if p.style.name == "List Number"]
    assert len(numbered) == 6  # two attachments, then the four points of the proposal
    assert numbered[-1].text == ("Kommunedirektøren gis fullmakt til å inngå og signere "
                                 "samarbeidsavtalen og databehandleravtalen.")
    # Each list restarts at 1: the proposal is not numbered on from the attachments.
    ids = [p._p.pPr.numPr.numId.val for p in numbered]
    assert ids[0] == ids[1] != ids[2] == ids[5]


# -- checklist and reports ----------------------------------------------------------------


def test_setup_checklist_shows_who_by_when_and_whether_done(renderer):
    page = soup(renderer.render_html("setup_checklist", checklist()))
    rows = table_rows(page.find("table"))
    assert rows[0] == ("Punkt", "Ansvarlig", "Kontaktperson", "Frist", "Utført")
    assert rows[1] == ("Brukerkonto i kommunens nettverk", "Kommunen",
                       "IT-tjenesten v/ Per Olsen", "01.12.2026", "Ja, 20.11.2026")
    assert rows[2][-1] == "Nei, fristen er passert"
    assert rows[3][1:] == ("Fylkeskommunen", "–", "15.12.2026", "Nei")
    assert rows[4][0] == "Presentasjon for kommunestyret (valgfritt)"
    assert "Det gjenstår 2 obligatoriske punkter." in text_of(str(page))


def test_yearly_report_counts_duties_and_visits(renderer):
    html = renderer.render_html("yearly_report", yearly_report())
    text = text_of(html)
    assert "Av 3 faste oppgaver i 2027 er 1 utført og 1 ikke utført innen fristen." in text
    assert "Gjennomført 3 av 4 planlagte besøk." in text
    rows = table_rows(soup(html).find("table"))
    assert [r[-1] for r in rows[1:]] == ["Utført 20.02.2027", "Ikke utført", "Ikke forfalt"]
    assert "Systemtekniske løsninger: Rødøy (Drift, 02.02.2027): Godt samarbeid med IT." in text


def test_experience_report_has_stage_figures_stalls_themes_and_closed_cases(renderer):
    html = renderer.render_html("experience_report", experience_report())
    page = soup(html)
    stages = table_rows(page.find("table", class_="stages"))
    assert stages[1] == ("Førstekontakt", "4", "3", "30 dager", "Røst (20 dager)",
                         "Træna (50 dager)")
    assert stages[2] == ("Politisk behandling", "1", "0", "–", "–", "–")
    assert [r[0] for r in stages[1:]] == [
        "Førstekontakt", "Politisk behandling", "Avtaleinngåelse", "Systemoppsett", "Drift"]
    assert table_rows(page.find("table", class_="stalls"))[1:] == [
        ("Værøy", "Førstekontakt", "01.03.2026", "77 dager",
         "Lengre enn medianen for stadiet (30 dager)")]
    assert [h.get_text() for h in page.find_all("h3")] == [
        "Grenseoppgang", "Systemtekniske løsninger", "Engasjement", "Annet"]
    text = text_of(html)
    assert "Rødøy (Systemoppsett, 03.03.2026): IT-avdelingen bør være med fra første møte." in text
    assert table_rows(page.find("table", class_="closed"))[1:] == [
        ("Værøy", "Trukket", "02.04.2026", "Ansatte egen biblioteksjef.")]


def test_experience_report_threshold_is_explained(renderer):
    ctx = ExperienceReportContext("Nordland fylkeskommune", TODAY, experience_report().spans,
                                  stall_threshold_days=60)
    text = text_of(renderer.render_html("experience_report", ctx))
    assert "lenger i stadiet enn 60 dager" in text
    assert "Lengre enn grensen på 60 dager" in text
    assert "Ingen notater." in text and "Ingen saker er avslått eller trukket." in text


# -- user text is data, never template ------------------------------------------------------


@pytest.mark.parametrize("kind, context", [
    ("agreement", lambda: agreement(Party(HOSTILE))),
    ("saksframlegg", lambda: saksframlegg(Party(HOSTILE))),
    ("yearly_report", lambda: yearly_report(Party(HOSTILE), note_text=HOSTILE)),
])
def test_hostile_user_text_comes_out_literally(renderer, kind, context):
    html = renderer.render_html(kind, context())
    assert "<script>" not in html
    assert HOSTILE in text_of(html)
    assert "49" not in html

    text = docx_text(open_docx(renderer.render_docx(kind, context())))
    assert HOSTILE in text
    assert "49" not in text


# -- overrides and errors -------------------------------------------------------------------


def test_an_override_replaces_only_its_own_template(renderer, tmp_path):
    (tmp_path / "agreement.html.j2").write_text(
        '{% extends "base.html.j2" %}{% block content %}<h1>Egen avtale for '
        "{{ doc.municipality.name }}</h1>{% endblock %}", encoding="utf-8")
    custom = DocumentRenderer(tmp_path)
    assert soup(custom.render_html("agreement", agreement())).h1.get_text() == \
        "Egen avtale for Rødøy kommune"
    assert custom.render_html("saksframlegg", saksframlegg()) == \
        renderer.render_html("saksframlegg", saksframlegg())


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    (tmp_path / "agreement.html.j2").write_text(
        "<h1>Avtale</h1>\n<p>{{ doc.municipality.name }}</p>\n<p>{% if %}</p>\n",
        encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        DocumentRenderer(tmp_path).render_html("agreement", agreement())
    assert str(caught.value).startswith("Malfeil i «agreement.html.j2», linje 3: syntaksfeil")


def test_an_undefined_value_names_the_file_and_line(tmp_path):
    (tmp_path / "setup_checklist.html.j2").write_text(
        "<h1>Sjekkliste</h1>\n\n<p>{{ doc.kommune_navn }}</p>\n", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"«setup_checklist\.html\.j2», linje 3: ukjent"):
        DocumentRenderer(tmp_path).render_html("setup_checklist", checklist())


def test_the_sandbox_refuses_python_internals(tmp_path):
    (tmp_path / "agreement.html.j2").write_text(
        "<h1>x</h1>\n<p>{{ ''.__class__.__mro__ }}</p>\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="linje 2: ikke tillatt") as caught:
        DocumentRenderer(tmp_path).render_html("agreement", agreement())
    assert isinstance(caught.value.__cause__, SecurityError)


def test_a_missing_override_folder_is_refused(tmp_path):
    with pytest.raises(DocumentError, match="finnes ikke"):
        DocumentRenderer(tmp_path / "finnes-ikke")


def test_unknown_kind_and_wrong_context_are_refused(renderer):
    with pytest.raises(DocumentError, match="Ukjent dokumenttype «kontrakt»"):
        renderer.render_html("kontrakt", agreement())
    with pytest.raises(TypeError):
        renderer.render_html("agreement", checklist())
