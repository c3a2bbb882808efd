"""What each case document shows: its data (context) built from the case store.

One function per document kind (saksframlegg, cooperation agreement, data processing
agreement, setup checklist, yearly report), plus the seams through which the documents read
facts that other parts of the store own. Read-only; rendering and storing are in
`documents.py` and `document_store.py`, the experience report in `experience_report.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from avtaleflyt.documents.context import (
    AgreementContext,
    AgreementPeriod,
    ChecklistContext,
    ChecklistItem,
    Contact,
    DataProcessingContext,
    DutyRecord,
    ExperienceNote as NoteView,
    Party,
    SaksframleggContext,
    SaksgangStep,
    StandardOffer,
    YearlyReportContext,
    period_of,
)
from avtaleflyt.domain import machine
from avtaleflyt.domain.agreement import ResponsibilityRow, Terms
from avtaleflyt.domain.errors import Conflict, InvalidInput
from avtaleflyt.domain.meetingplan import FORMANNSKAP, KOMMUNESTYRE
from avtaleflyt.domain.facts import FactKind
from avtaleflyt.domain.kinds import TaskFamily, task_family
from avtaleflyt.domain.stages import Stage
from avtaleflyt.models import (
    ContactPerson,
    County,
    Event,
    ExperienceNote,
    Meeting,
    Municipality,
    OnboardingCase,
    PersonalText,
    Task,
)

from .context import Ctx
from .store import get_case, load_terms

NATIONAL_FOLDER = "landet"


# --- who a document is about ----------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose document it is: one municipality's case, a whole county, or (no county) every
    county, compared."""

    county: County | None
    municipality: Municipality | None = None
    case: OnboardingCase | None = None

    @property
    def folder(self) -> str:
        if self.municipality is not None:
            return self.municipality.kommunenummer
        if self.county is None:
            return NATIONAL_FOLDER
        return f"fylke-{self.county.code}"


def _county_party(county: County, ctx: Ctx | None = None) -> Party:
    """The county side as the documents name it: the county's own name, its organisation
    number from the county's configuration, and its library."""
    org = ctx.config.documents.county_org_number if ctx is not None else None
    return Party(county.name, org_number=org, signatory_role="Fylkesbiblioteksjef",
                 library_name=county.library_name)


def _municipality_party(m: Municipality) -> Party:
    return Party(f"{m.name} kommune", signatory_role="Kommunedirektør")


def _standard_offer(ctx: Ctx) -> StandardOffer:
    a = ctx.config.agreement
    return StandardOffer(a.yearly_price, a.position_share, a.site_visits_per_year)


def case_scope(session: Session, kommunenummer: str) -> Scope:
    m, case = get_case(session, kommunenummer)
    return Scope(session.get(County, m.county_id), m, case)


# --- contexts -------------------------------------------------------------------------


def _reference(session: Session, case: OnboardingCase) -> str | None:
    """The council's case number, once a council decision with one has been recorded."""
    refs = session.exec(select(Event.details).where(
        Event.case_id == case.id, Event.kind == FactKind.COUNCIL_DECISION.value)
        .order_by(col(Event.occurred_on).desc(), col(Event.id).desc())).all()
    return next((d["reference"] for d in refs if d.get("reference")), None)


# --- seams: what the documents read from the case ------------------------------------
# Each of these is the one place a document reads a fact that the political process and
# the agreement terms own (branch `politics` moves the split into a per-case table, adds a
# saksgang per municipality, terms in months and renewal none|auto). Switching a document
# to the new source means changing only the function here.

# The bodies a case goes through when the municipality has no saksgang of its own.
DEFAULT_SAKSGANG: tuple[str, ...] = (FORMANNSKAP, KOMMUNESTYRE)
_BODY_LABELS = {FORMANNSKAP: "Formannskapet", KOMMUNESTYRE: "Kommunestyret"}


def case_split(session: Session, case: OnboardingCase,
               terms: Terms | None) -> tuple[ResponsibilityRow, ...]:
    """The case's own responsibility split (grenseoppgang), as the coordinator left it
    (`services/split.py`; the county's default until changed)."""
    from .split import case_split as own_split

    return tuple(own_split(session, case))


def agreement_period(terms: Terms | None, ctx: Ctx) -> AgreementPeriod | None:
    """The term as the engine computes it: start, last day, the notice deadline rolled to
    the previous working day (`domain.agreement.notice_deadline_for`, the rule the duties
    use), the length in years and months, and whether the agreement renews itself."""
    return period_of(terms, calendar=ctx.calendar)


def saksgang(session: Session, m: Municipality, ctx: Ctx) -> tuple[SaksgangStep, ...]:
    """The bodies the saksframlegg goes through, in order, each with its next meeting from
    the meeting plan (on or after today, and after the previous body's meeting)."""
    from .meetings import saksgang_by_municipality
    from .store import county_ctx

    bodies = (saksgang_by_municipality(session, {m.id}).get(m.id)
              or county_ctx(session, m, ctx).config.saksgang or DEFAULT_SAKSGANG)
    meetings = session.exec(select(Meeting.body, Meeting.date).where(
        Meeting.municipality_id == m.id, col(Meeting.body).in_(bodies),
        Meeting.date >= ctx.today).order_by(col(Meeting.date))).all()
    steps, after = [], ctx.today
    for body in bodies:
        day = next((d for b, d in meetings if b == body and d >= after), None)
        steps.append(SaksgangStep(_BODY_LABELS.get(body, body.capitalize()), day))
        after = day or after
    return tuple(steps)


def needs_situation(session: Session, case: OnboardingCase) -> str | None:
    """The municipality's situation as written when its needs were assessed (`personal_text`,
    so it can be erased: then «[sladdet]»), or None if nothing was written."""
    rows = session.exec(select(Event.details).where(
        Event.case_id == case.id, Event.kind == FactKind.NEEDS_ASSESSED.value)
        .order_by(col(Event.occurred_on).desc(), col(Event.id).desc())).all()
    text_id = next((d["situation_text_id"] for d in rows if d.get("situation_text_id")), None)
    if text_id is None:
        return None
    return shown(session.exec(select(PersonalText.text)
                               .where(PersonalText.id == text_id)).first())


def municipality_contact(session: Session, m: Municipality) -> Contact | None:
    """The municipality's primary contact person, whom the agreements name."""
    c = session.exec(select(ContactPerson).where(ContactPerson.municipality_id == m.id,
                                                 col(ContactPerson.is_primary).is_(True))).first()
    return Contact(c.name, c.role, c.email, c.phone) if c is not None else None


def saksframlegg_context(session: Session, scope: Scope, ctx: Ctx) -> SaksframleggContext:
    _, terms = load_terms(session, scope.case.id)
    return SaksframleggContext(
        county=_county_party(scope.county, ctx), municipality=_municipality_party(scope.municipality),
        today=ctx.today, responsibilities=case_split(session, scope.case, terms), terms=terms,
        standard_terms=_standard_offer(ctx), reference=_reference(session, scope.case),
        situation=needs_situation(session, scope.case), period=agreement_period(terms, ctx),
        saksgang=saksgang(session, scope.municipality, ctx), clauses=ctx.config.documents)


def agreement_context(session: Session, scope: Scope, ctx: Ctx) -> AgreementContext:
    _, terms = load_terms(session, scope.case.id)
    # No `reference`: the agreement prints it as the county's own ("Vår referanse"), and the
    # store knows only the municipal council's case number.
    return AgreementContext(
        _county_party(scope.county, ctx), _municipality_party(scope.municipality), terms,
        today=ctx.today, standard_terms=_standard_offer(ctx),
        split=case_split(session, scope.case, terms), period=agreement_period(terms, ctx),
        clauses=ctx.config.documents,
        municipality_contact=municipality_contact(session, scope.municipality))


def data_processing_context(session: Session, scope: Scope,
                            ctx: Ctx) -> DataProcessingContext:
    _, terms = load_terms(session, scope.case.id)
    return DataProcessingContext(
        _county_party(scope.county, ctx), _municipality_party(scope.municipality),
        today=ctx.today, period=agreement_period(terms, ctx), clauses=ctx.config.documents,
        municipality_contact=municipality_contact(session, scope.municipality))


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
                            start_date=terms.start_date if terms else None,
                            responsibilities=case_split(session, scope.case, terms))


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
    visits = [t for t in tasks if task_family(t.key) is TaskFamily.DUTY_VISIT]
    duties = [DutyRecord(t.title, t.due_on, t.done_on) for t in tasks if t not in visits]
    notes = session.exec(
        select(ExperienceNote, PersonalText.text)
        .join(PersonalText, col(PersonalText.id) == ExperienceNote.text_id)
        .where(ExperienceNote.case_id == case.id,
               col(ExperienceNote.noted_on).between(start, end))
        .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id))).all()
    name = scope.municipality.name
    return YearlyReportContext(
        _county_party(scope.county), _municipality_party(scope.municipality), year, duties,
        site_visits_done=sum(1 for t in visits if t.done_on is not None),
        site_visits_planned=len(visits) or (terms.site_visits_per_year if terms else 0),
        today=ctx.today,
        notes=[NoteView(name, n.stage, n.theme, shown(text), n.noted_on) for n, text in notes],
        responsibilities=case_split(session, case, terms))


def shown(text: str | None) -> str:
    """A note's or reason's text from `personal_text`, or «[sladdet]» once redacted."""
    from .texts import REDACTED

    return REDACTED if text is None else text
