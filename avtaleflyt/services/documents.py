"""Documents from the case store: build each document's data, render it, store it.

Rendering happens entirely in memory first; only a document that rendered completely is
written, and a file is written before its row is committed, so a template error leaves
neither a file nor a row. Stored files are never replaced: each new rendering is a new
version with its own file, and two writers that race for the same number end up with two
distinct versions (the file name is claimed with an exclusive hard link, the database's
unique indexes check it a second time).

Storing a document is not a change to a case, so it appends no Event: the `document` row
itself is the insert-only record. Nothing here imports Prefect.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from avtaleflyt.documents.context import (
    AgreementContext,
    ChecklistContext,
    ChecklistItem,
    ClosedCase,
    DutyRecord,
    ExperienceNote as NoteView,
    ExperienceReportContext,
    Party,
    SaksframleggContext,
    StageSpan,
    StandardOffer,
    YearlyReportContext,
)
from avtaleflyt.documents.render import DocumentError, DocumentRenderer
from avtaleflyt.domain import machine
from avtaleflyt.domain.agreement import DEFAULT_SPLIT
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.experience import summarise
from avtaleflyt.domain.stages import CaseStatus, FactKind, Stage
from avtaleflyt.formatting import format_date_short
from avtaleflyt.settings import Settings
from avtaleflyt.models import (
    ContactPerson,
    County,
    Document,
    Event,
    ExperienceNote,
    Municipality,
    OnboardingCase,
    Task,
)

from .context import Ctx
from .store import get_case, load_terms

FORMATS = ("html", "docx")
CASE_KINDS = ("saksframlegg", "agreement", "setup_checklist", "yearly_report")
COUNTY_KINDS = ("experience_report",)

KIND_LABELS = {
    "saksframlegg": "Saksframlegg",
    "agreement": "Samarbeidsavtale",
    "setup_checklist": "Sjekkliste for systemoppsett",
    "yearly_report": "Årsrapport",
    "experience_report": "Erfaringsrapport",
}

# The draft each stage produces when a case enters it.
STAGE_DOCUMENTS: dict[Stage, str] = {
    Stage.POLITICAL_APPROVAL: "saksframlegg",
    Stage.CONTRACT_SIGNING: "agreement",
    Stage.SYSTEM_SETUP: "setup_checklist",
}

_SPAN_ENDS = ("case_rejected", "case_withdrawn", "agreement_ended")
_SPAN_EVENTS = ("case_opened", "stage_entered", *_SPAN_ENDS, "case_on_hold")
_ATTEMPTS = 5


# --- input checks ---------------------------------------------------------------------


def check_kind(kind: str, allowed: tuple[str, ...] = CASE_KINDS) -> str:
    kind = kind.strip().lower().replace("-", "_")
    if kind not in allowed:
        raise InvalidInput(f"Ukjent dokumenttype «{kind}». Velg en av: {', '.join(allowed)}.",
                           field="kind")
    return kind


def check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"«--format»: «{fmt}» er ikke et gyldig format. Velg html eller docx.",
                           field="format")
    return fmt


# --- who a document is about ----------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose document it is: one municipality's case, or a whole county."""

    county: County
    municipality: Municipality | None = None
    case: OnboardingCase | None = None

    @property
    def folder(self) -> str:
        if self.municipality is not None:
            return self.municipality.kommunenummer
        return f"fylke-{self.county.code}"


def _county_party(county: County) -> Party:
    return Party(county.name, signatory_role="Fylkesbiblioteksjef")


def _municipality_party(m: Municipality) -> Party:
    return Party(f"{m.name} kommune", signatory_role="Kommunedirektør")


def _standard_offer(ctx: Ctx) -> StandardOffer:
    a = ctx.config.agreement
    return StandardOffer(a.yearly_price, a.position_share, a.site_visits_per_year)


def _case_scope(session: Session, kommunenummer: str) -> Scope:
    m, case = get_case(session, kommunenummer)
    return Scope(session.get(County, m.county_id), m, case)


def _county(session: Session, code: str | None) -> County:
    if code is None:
        counties = session.exec(select(County).order_by(col(County.code))).all()
        if len(counties) == 1:
            return counties[0]
        if not counties:
            raise NotFound("Det finnes ingen fylker i databasen. Kjør «avtaleflyt init».")
        known = ", ".join(c.code for c in counties)
        raise InvalidInput(f"«--county» må oppgis når det finnes flere fylker ({known}).",
                           field="county")
    county = session.exec(select(County).where(County.code == code.strip())).first()
    if county is None:
        raise NotFound(f"Fant ikke noe fylke med nummer «{code}».", field="county")
    return county


# --- contexts -------------------------------------------------------------------------


def _reference(session: Session, case: OnboardingCase) -> str | None:
    """The council's case number, once a council decision with one has been recorded."""
    refs = session.exec(select(Event.details).where(
        Event.case_id == case.id, Event.kind == FactKind.COUNCIL_DECISION.value)
        .order_by(col(Event.occurred_on).desc(), col(Event.id).desc())).all()
    return next((d["reference"] for d in refs if d.get("reference")), None)


def saksframlegg_context(session: Session, scope: Scope, ctx: Ctx) -> SaksframleggContext:
    _, terms = load_terms(session, scope.case.id)
    return SaksframleggContext(
        county=_county_party(scope.county), municipality=_municipality_party(scope.municipality),
        today=ctx.today, responsibilities=terms.split if terms else DEFAULT_SPLIT, terms=terms,
        standard_terms=_standard_offer(ctx), reference=_reference(session, scope.case))


def agreement_context(session: Session, scope: Scope, ctx: Ctx) -> AgreementContext:
    _, terms = load_terms(session, scope.case.id)
    # No `reference`: the agreement prints it as the county's own ("Vår referanse"), and the
    # store knows only the municipal council's case number.
    return AgreementContext(
        _county_party(scope.county), _municipality_party(scope.municipality), terms,
        today=ctx.today, standard_terms=_standard_offer(ctx))


def checklist_context(session: Session, scope: Scope, ctx: Ctx) -> ChecklistContext:
    """The setup tasks as stored; before the stage begins, as they would be planned today."""
    _, terms = load_terms(session, scope.case.id)
    rows = session.exec(
        select(Task, ContactPerson.name)
        .outerjoin(ContactPerson, col(ContactPerson.id) == Task.contact_id)
        .where(Task.case_id == scope.case.id, Task.stage == Stage.SYSTEM_SETUP.value)
        .order_by(col(Task.id))).all()
    if rows:
        items = [ChecklistItem(t.title, t.responsible, t.due_on, t.done_on, t.mandatory, name)
                 for t, name in rows]
    else:
        planned = machine.plan_stage_tasks(Stage.SYSTEM_SETUP, ctx.today, terms, ctx.calendar,
                                           ctx.config.task_due)
        items = [ChecklistItem(p.title, p.responsible, p.due_on, None, p.mandatory)
                 for p in planned]
    return ChecklistContext(_county_party(scope.county), _municipality_party(scope.municipality),
                            items, today=ctx.today,
                            start_date=terms.start_date if terms else None)


def yearly_report_context(session: Session, scope: Scope, ctx: Ctx,
                          year: int) -> YearlyReportContext:
    case = scope.case
    if case.stage != Stage.RUNNING_OPERATION.value:
        raise Conflict(f"{scope.municipality.name} er ikke i drift ennå (fasen er "
                       f"«{Stage(case.stage).label}»); årsrapporten gjelder avtaler i drift.")
    _, terms = load_terms(session, case.id)
    first = max(case.stage_entered_on.year, terms.start_date.year if terms else 0)
    if not first <= year <= ctx.today.year:
        raise InvalidInput(f"«--year»: {year} er utenfor driftsperioden ({first}–"
                           f"{ctx.today.year}).", field="year")
    start, end = date(year, 1, 1), date(year, 12, 31)
    tasks = session.exec(
        select(Task).where(Task.case_id == case.id, Task.stage == Stage.RUNNING_OPERATION.value,
                           col(Task.due_on).between(start, end))
        .order_by(col(Task.due_on), col(Task.id))).all()
    visits = [t for t in tasks if "visit" in t.key]
    duties = [DutyRecord(t.title, t.due_on, t.done_on) for t in tasks if t not in visits]
    notes = session.exec(
        select(ExperienceNote).where(ExperienceNote.case_id == case.id,
                                     col(ExperienceNote.noted_on).between(start, end))
        .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id))).all()
    name = scope.municipality.name
    return YearlyReportContext(
        _county_party(scope.county), _municipality_party(scope.municipality), year, duties,
        site_visits_done=sum(1 for t in visits if t.done_on is not None),
        site_visits_planned=len(visits) or (terms.site_visits_per_year if terms else 0),
        today=ctx.today,
        notes=[NoteView(name, n.stage, n.theme, n.text, n.noted_on) for n in notes])


def experience_context(session: Session, county: County, ctx: Ctx) -> ExperienceReportContext:
    """Every case of the county as stage spans, its notes and its closed cases: 3 queries."""
    cases = session.exec(
        select(OnboardingCase, Municipality)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(Municipality.county_id == county.id)).all()
    events = session.exec(
        select(Event).join(OnboardingCase, col(OnboardingCase.id) == Event.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(Municipality.county_id == county.id, col(Event.kind).in_(_SPAN_EVENTS))
        .order_by(col(Event.case_id), col(Event.occurred_on), col(Event.id))).all()
    notes = session.exec(
        select(ExperienceNote, Municipality.name)
        .join(OnboardingCase, col(OnboardingCase.id) == ExperienceNote.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(Municipality.county_id == county.id)
        .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id))).all()
    by_case: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_case[e.case_id].append(e)
    spans: list[StageSpan] = []
    closed: list[ClosedCase] = []
    for case, m in sorted(cases, key=lambda cm: (cm[1].kommunenummer, cm[0].id)):
        spans += case_spans(case, m, by_case[case.id])
        if case.status in (CaseStatus.REJECTED.value, CaseStatus.WITHDRAWN.value):
            closed.append(ClosedCase(m.name, case.status, case.closed_on or case.stage_entered_on,
                                     _closing_reason(by_case[case.id])))
    closed.sort(key=lambda c: (c.date, c.municipality))
    waiting = {}
    for case, m in cases:
        if case.status == CaseStatus.ON_HOLD.value:
            held = [e for e in by_case[case.id] if e.kind == "case_on_hold"]
            reason = held[-1].details.get("reason") if held else None
            since = format_date_short(case.on_hold_since) if case.on_hold_since else None
            waiting[m.kommunenummer] = (f"Satt på vent{f' {since}' if since else ''}"
                                        f"{f': {reason}' if reason else ''}")
    return ExperienceReportContext(
        county_name=county.library_name or county.name, generated=ctx.today, spans=spans,
        notes=[NoteView(name, n.stage, n.theme, n.text, n.noted_on) for n, name in notes],
        closed_cases=closed, waiting_reasons=waiting)


def case_spans(case: OnboardingCase, m: Municipality, events: list[Event]) -> list[StageSpan]:
    """The stages one case went through, from its history.

    A case that was rejected or withdrawn left its last stage on the day it closed: it is
    over, not stalled.
    """
    spans: list[StageSpan] = []
    stage: Stage | None = None
    entered: date | None = None

    def close(on: date) -> None:
        nonlocal stage
        if stage is not None:
            spans.append(StageSpan(m.kommunenummer, m.name, stage, entered, max(on, entered)))
            stage = None

    for e in events:
        if e.kind == "case_opened":
            close(e.occurred_on)
            stage, entered = Stage(e.details.get("stage", Stage.FIRST_CONTACT.value)), e.occurred_on
        elif e.kind == "stage_entered":
            close(e.occurred_on)
            stage, entered = Stage(e.details["to"]), e.occurred_on
        elif e.kind in _SPAN_ENDS:
            close(e.occurred_on)
    if stage is not None:
        if case.closed_on is not None and not CaseStatus(case.status).is_open:
            close(case.closed_on)
        else:
            spans.append(StageSpan(m.kommunenummer, m.name, stage, entered))
    return spans


def _closing_reason(events: list[Event]) -> str:
    for e in reversed(events):
        if e.kind == "case_withdrawn":
            return e.details.get("reason") or "Ingen begrunnelse oppgitt"
        if e.kind == "case_rejected":
            reason = f"Avslått av {e.details.get('by', 'ukjent organ')}"
            if e.details.get("reference"):
                reason += f" (sak {e.details['reference']})"
            return reason
    return "Ingen begrunnelse oppgitt"


def experience_figures(*, session: Session, ctx: Ctx, county: str | None = None
                       ) -> dict[str, Any]:
    """The experience report's figures as plain data (for `--json`)."""
    c = _county(session, county)
    context = experience_context(session, c, ctx)
    summary = summarise(context.spans, today=ctx.today)

    def who(d):
        return None if d is None else {"kommunenummer": d.kommunenummer,
                                       "municipality": d.municipality, "days": d.days}

    return {
        "county": c.name,
        "generated": ctx.today.isoformat(),
        "stages": [{"stage": s.stage.value, "label": s.stage.label, "entered": s.entered,
                    "completed": s.completed, "median_days": s.median_days,
                    "min_days": s.min_days, "max_days": s.max_days,
                    "quickest": who(s.quickest), "slowest": who(s.slowest)}
                   for s in summary.stages],
        "stalls": [{"kommunenummer": s.kommunenummer, "municipality": s.municipality,
                    "stage": s.stage.value, "entered": s.entered.isoformat(),
                    "days_so_far": s.days_so_far, "limit_days": s.limit_days,
                    "basis": s.basis.value,
                    "waiting_reason": context.waiting_reasons.get(s.kommunenummer)}
                   for s in summary.stalls],
        "closed_cases": [{"municipality": c.municipality, "status": c.status.value,
                          "date": c.date.isoformat(), "reason": c.reason}
                         for c in context.closed_cases],
        "notes_per_theme": {t.value: len(ns) for t, ns in context.notes_by_theme},
    }


# --- rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    scope: Scope
    kind: str
    files: dict[str, bytes]  # format -> content


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from avtaleflyt import runtime  # the entry point's settings (a cycle at import time)

    return runtime.settings()


def render(*, session: Session, kind: str, formats: tuple[str, ...], ctx: Ctx,
           kommunenummer: str | None = None, county: str | None = None,
           year: int | None = None, settings: Settings | None = None) -> Rendered:
    """Render one document from the current data, in every format asked for, in memory."""
    kind = check_kind(kind, CASE_KINDS + COUNTY_KINDS)
    formats = tuple(dict.fromkeys(check_format(f) for f in formats))
    if kind in COUNTY_KINDS:
        c = _county(session, county)
        scope = Scope(c)
        context: Any = experience_context(session, c, ctx)
    else:
        if kommunenummer is None:
            raise InvalidInput("Kommunenummer mangler.", field="kommunenummer")
        scope = _case_scope(session, kommunenummer)
        if kind == "saksframlegg":
            context = saksframlegg_context(session, scope, ctx)
        elif kind == "agreement":
            context = agreement_context(session, scope, ctx)
        elif kind == "setup_checklist":
            context = checklist_context(session, scope, ctx)
        else:
            context = yearly_report_context(session, scope, ctx,
                                            year if year is not None else ctx.today.year - 1)
    renderer = DocumentRenderer(_settings(settings).template_dir)
    files: dict[str, bytes] = {}
    for fmt in formats:
        files[fmt] = (renderer.render_docx(kind, context) if fmt == "docx"
                      else renderer.render_html(kind, context).encode("utf-8"))
    return Rendered(scope, kind, files)


# --- storing --------------------------------------------------------------------------


def documents_root(settings: Settings | None = None) -> Path:
    return _settings(settings).data_dir / "documents"


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file a reader never sees half-written (for `--out`, which may replace)."""
    if path.is_dir():
        raise InvalidInput(f"«--out»: «{path}» er en mappe; oppgi et filnavn.", field="out")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_copy(path, data)
    except OSError:
        raise InvalidInput(f"«--out»: kan ikke skrive «{path}» (mappen finnes ikke eller "
                           "er skrivebeskyttet).", field="out") from None
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_new(path: Path, data: bytes) -> None:
    """Write a complete file under a name nobody has taken; FileExistsError if taken.

    A hard link, unlike os.replace, refuses to overwrite: a stored version is never replaced,
    not even by a writer that picked the same number at the same moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_copy(path, data)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _temp_copy(path: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(name)


def _next_version(session: Session, scope: Scope, kind: str, fmt: str) -> int:
    q = select(func.max(Document.version)).where(Document.kind == kind, Document.format == fmt)
    if scope.municipality is not None:
        q = q.where(Document.municipality_id == scope.municipality.id)
    else:
        q = q.where(Document.county_id == scope.county.id,
                    col(Document.municipality_id).is_(None))
    return (session.exec(q).one() or 0) + 1


def _store(session: Session, rendered: Rendered, ctx: Ctx, root: Path) -> list[Document]:
    scope, kind = rendered.scope, rendered.kind
    ids = (scope.case.id if scope.case else None,
           scope.municipality.id if scope.municipality else None, scope.county.id)
    floor: dict[str, int] = {}
    for _ in range(_ATTEMPTS):
        written: list[Path] = []
        try:
            rows = []
            for fmt, data in rendered.files.items():
                version = max(_next_version(session, scope, kind, fmt), floor.get(fmt, 1))
                while True:
                    rel = f"{scope.folder}/{kind}-v{version}.{fmt}"
                    try:
                        _write_new(root / rel, data)
                        break
                    except FileExistsError:
                        # Taken by a writer that has not committed yet (or never will).
                        version += 1
                written.append(root / rel)
                floor[fmt] = version + 1
                rows.append(Document(
                    case_id=ids[0], municipality_id=ids[1], county_id=ids[2], kind=kind,
                    version=version, format=fmt, created_on=ctx.today,
                    sha256=hashlib.sha256(data).hexdigest(), path=rel, size=len(data)))
            session.add_all(rows)
            session.commit()
            return rows
        except IntegrityError:
            session.rollback()
            for p in written:
                p.unlink(missing_ok=True)
        except BaseException:
            session.rollback()
            for p in written:
                p.unlink(missing_ok=True)
            raise
    raise Conflict("Dokumentet ble lagret av noen andre samtidig, flere ganger på rad. "
                   "Ingenting ble lagret; prøv igjen.")


def store_document(*, session: Session, kind: str, ctx: Ctx, kommunenummer: str | None = None,
                   county: str | None = None, formats: tuple[str, ...] = ("html",),
                   year: int | None = None, settings: Settings | None = None
                   ) -> list[Document]:
    """Render a new version of a document from the current data and store it.

    Returns one row per format; `row.path` is relative to `documents_root()`.
    """
    rendered = render(session=session, kind=kind, formats=formats, ctx=ctx,
                      kommunenummer=kommunenummer, county=county, year=year, settings=settings)
    return _store(session, rendered, ctx, documents_root(settings))


def ensure_stage_documents(*, session: Session, kommunenummer: str, ctx: Ctx,
                           settings: Settings | None = None) -> list[str]:
    """Write the draft the case's current stage calls for, unless the case already has one.

    Safe to repeat. Returns the stored paths (relative to the documents folder), if any.
    """
    _, case = get_case(session, kommunenummer)
    kind = STAGE_DOCUMENTS.get(Stage(case.stage))
    if kind is None or not CaseStatus(case.status).is_open:
        return []
    exists = session.exec(select(Document.id).where(Document.case_id == case.id,
                                                    Document.kind == kind)).first()
    if exists is not None:
        return []
    try:
        rows = store_document(session=session, kind=kind, ctx=ctx, kommunenummer=kommunenummer,
                              formats=FORMATS, settings=settings)
    except DocumentError as e:
        # The case change before this is committed; say so, and how the draft gets made.
        raise DocumentError(
            f"{e.message} Saken er oppdatert, men utkastet «{KIND_LABELS[kind]}» ble ikke "
            f"laget. Rett malen og kjør «avtaleflyt case advance {kommunenummer}».",
            field=e.field) from e
    return [r.path for r in rows]


def list_documents(*, session: Session, kommunenummer: str | None = None,
                   county: str | None = None, settings: Settings | None = None
                   ) -> list[dict[str, Any]]:
    """A municipality's stored documents (all its cases), or a county's reports."""
    q = select(Document)
    if kommunenummer is not None:
        from .store import get_municipality

        m = get_municipality(session, kommunenummer)
        q = q.where(Document.municipality_id == m.id)
    else:
        c = _county(session, county)
        q = q.where(Document.county_id == c.id, col(Document.municipality_id).is_(None))
    rows = session.exec(q.order_by(col(Document.kind), col(Document.format),
                                   col(Document.version))).all()
    root = documents_root(settings)
    return [{"kind": d.kind, "label": KIND_LABELS.get(d.kind, d.kind), "version": d.version,
             "format": d.format, "created_on": d.created_on.isoformat(),
             "created_at": d.created_at.isoformat(), "sha256": d.sha256, "size": d.size,
             "path": d.path, "file": str(root / d.path), "case_id": d.case_id} for d in rows]
