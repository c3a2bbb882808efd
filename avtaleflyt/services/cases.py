"""Use cases that change a case: load, ask the domain, commit. One transaction each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from avtaleflyt.domain.kinds import EventKind, is_duty
from avtaleflyt.domain import machine
from avtaleflyt.domain.agreement import Terms
from avtaleflyt.domain.errors import Conflict, InvalidInput, ref
from avtaleflyt.domain.machine import FactInput, NewEvent
from avtaleflyt.domain.facts import FactKind, confirmation
from avtaleflyt.domain.facts import Outcome as Outcome_
from avtaleflyt.domain.stages import STAGE_RULES, CaseStatus, Stage, pipeline
from avtaleflyt.models import AgreementTerms, OnboardingCase, ResponsibilityItem, Task

from .context import Ctx
from .store import (
    add_events,
    county_ctx,
    add_tasks,
    close_milestone_tasks,
    commit_case,
    get_case,
    get_municipality,
    latest_case,
    load_terms,
    renewals_recorded,
    snapshot,
    to_view,
)


@dataclass
class Outcome:
    """What a command did, for the CLI and the flow run's result."""

    kommunenummer: str
    municipality: str
    message: str
    changed: bool = True
    stage: str | None = None
    status: str | None = None
    transitions: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _outcome(m, case: OnboardingCase, message: str, changed: bool = True) -> Outcome:
    return Outcome(m.kommunenummer, m.name, message, changed, case.stage, case.status)


def open_case(*, session: Session, kommunenummer: str, opened_on: date, ctx: Ctx) -> Outcome:
    m = get_municipality(session, kommunenummer)
    ctx = county_ctx(session, m, ctx)
    current = latest_case(session, m)
    has_open = current is not None and CaseStatus(current.status).is_open
    events = machine.open_case(municipality=m.name, opened_on=opened_on, today=ctx.today,
                               has_open_case=has_open)
    first = pipeline().first
    case = OnboardingCase(municipality_id=m.id, stage=first.value,
                          status=CaseStatus.ACTIVE.value, opened_on=opened_on,
                          stage_entered_on=opened_on)
    session.add(case)
    session.flush()
    add_events(session, m, case, events, ctx)
    from .split import seed_split

    seed_split(session, case, ctx)
    add_tasks(session, case, machine.plan_stage_tasks(
        first, opened_on, None, ctx.calendar, ctx.config.task_due))
    _run_hooks(session, case, STAGE_RULES[first].on_enter, ctx)
    commit_case(session, case)
    return _outcome(m, case, f"Sak åpnet for {m.name} ({m.kommunenummer}).")


def record_fact(*, session: Session, kommunenummer: str, fact: FactInput, ctx: Ctx,
                situation: str | None = None, situation_text_id: int | None = None) -> Outcome:
    """`situation` (or the id of its `personal_text`, from the command inbox): the
    municipality's situation as found when its needs were assessed; the saksframlegg
    quotes it. Only with needs-assessed; kept erasable like notes."""
    m, case = get_case(session, kommunenummer)
    ctx = county_ctx(session, m, ctx)
    state = snapshot(session, m, case)
    check_situation(fact, situation if situation_text_id is None else "")
    result = machine.record_fact(state, fact, ctx.today, ctx.calendar)
    if result.unchanged:
        return _outcome(m, case, f"«{fact.kind.label}» var allerede registrert; ingen endring.",
                        changed=False)
    events = result.events
    if situation is not None or situation_text_id is not None:
        events = _with_situation(session, m, case, events, situation, situation_text_id)
    add_events(session, m, case, events, ctx)
    if result.terms is not None:
        from dataclasses import replace

        from .split import case_split

        _store_terms(session, case, replace(result.terms, split=tuple(case_split(session, case))),
                     fact.occurred_on)
    if result.milestone is not None:
        close_milestone_tasks(session, case, result.milestone, fact.occurred_on)
    if fact.kind is FactKind.COUNCIL_DECISION:
        from .deadlines import close_saksframlegg

        close_saksframlegg(session, m, case, fact.occurred_on, ctx)
    if fact.kind is FactKind.NOTICE_GIVEN:
        session.flush()
        from .deadlines import duties_after_notice

        add_events(session, m, case, duties_after_notice(
            session=session, case=case, given_on=fact.occurred_on,
            ends_on=date.fromisoformat(result.events[0].details["ends_on"]), ctx=ctx), ctx)
    if result.status is not None:
        case.status = result.status.value
        case.closed_on = result.closed_on
    elif fact.outcome is Outcome_.POSTPONED:
        # A postponed decision waits for the body's next meeting: move the task there.
        session.flush()
        from .deadlines import schedule_political_cases

        schedule_political_cases(session=session, ctx=ctx, case_ids=[case.id], commit=False)
    commit_case(session, case)
    msg = confirmation(fact.kind, m.name, fact.details())
    if fact.kind is FactKind.NOTICE_GIVEN and result.events:
        msg += f" {machine.notice_text(result.events[0].details, fact.occurred_on)}."
    if result.status is CaseStatus.REJECTED:
        msg += " Saken er avsluttet som avslått."
    return _outcome(m, case, msg)


def check_situation(fact: FactInput, situation: str | None) -> None:
    if situation is not None and fact.kind is not FactKind.NEEDS_ASSESSED:
        raise InvalidInput(f"{ref('situation')} hører til «{FactKind.NEEDS_ASSESSED.label}» "
                           "(kommunens situasjon slik behovet ble kartlagt).",
                           field="situation")


def _with_situation(session: Session, m, case, events, situation: str | None,
                    text_id: int | None):
    """The needs-assessed event with its situation text's id (the text itself goes in
    `personal_text`, so it can be erased; the event keeps only the id)."""
    from . import texts

    if text_id is not None:
        row = texts.load(session, text_id, m.id)
    else:
        text = texts.clean(situation, "situation", required=False)
        if text is None:
            return events
        row = texts.store(session, municipality_id=m.id, case_id=case.id, kind="situation",
                          text=text)
    return [NewEvent(e.kind, e.occurred_on, {**e.details, "situation_text_id": row.id})
            if e.kind == FactKind.NEEDS_ASSESSED.value else e for e in events]


def _store_terms(session: Session, case: OnboardingCase, terms: Terms, set_on: date) -> None:
    row, _ = load_terms(session, case.id)
    if row is not None:
        for item in session.exec(select(ResponsibilityItem)
                                 .where(ResponsibilityItem.terms_id == row.id)).all():
            session.delete(item)
        session.flush()
    else:
        row = AgreementTerms(case_id=case.id, set_on=set_on, start_date=terms.start_date,
                             years=0, notice_months=0, yearly_price=0,
                             position_share=terms.position_share, site_visits_per_year=0)
    row.set_on = set_on
    row.start_date = terms.start_date
    row.years = terms.years
    row.notice_months = terms.notice_months
    row.yearly_price = terms.yearly_price
    row.position_share = terms.position_share
    row.site_visits_per_year = terms.site_visits_per_year
    row.months = terms.months
    row.renewal = terms.renewal
    session.add(row)
    session.flush()
    for i, r in enumerate(terms.split):
        session.add(ResponsibilityItem(terms_id=row.id, position=i, task=r.task,
                                       responsible=r.responsible.value))


def current_stage(*, session: Session, kommunenummer: str) -> Stage:
    return Stage(get_case(session, kommunenummer)[1].stage)


@dataclass
class StageRun:
    kommunenummer: str
    stage: str
    status: str
    advanced: bool
    tasks_created: int
    transition: dict | None = None


def run_stage(*, session: Session, kommunenummer: str, stage: Stage, ctx: Ctx) -> StageRun:
    """A stage's work: make sure its entry actions exist, then check its exit gate.

    Safe to repeat: entry tasks are created by key, and a transition happens only when the
    case is still in `stage` and its gate is open.
    """
    m, case = get_case(session, kommunenummer)
    if case.stage != stage.value or case.status != CaseStatus.ACTIVE.value:
        return StageRun(m.kommunenummer, case.stage, case.status, False, 0)
    ctx = county_ctx(session, m, ctx)
    state = snapshot(session, m, case)
    created = add_tasks(session, case, machine.plan_stage_tasks(
        stage, case.stage_entered_on, state.terms, ctx.calendar, ctx.config.task_due))
    renewed = machine.agreement_renewals(state, ctx.today, _renewals_recorded(session, case))
    if renewed:
        add_events(session, m, case, renewed, ctx)
        session.flush()
        from . import deadlines

        created += deadlines.generate_duties(session=session, ctx=ctx, case_ids=[case.id],
                                             commit=False)
        commit_case(session, case)
    ended = machine.agreement_ended(state, ctx.today)
    if ended is not None:
        add_events(session, m, case, [ended], ctx)
        case.status = CaseStatus.COMPLETED.value
        case.closed_on = ended.occurred_on
        commit_case(session, case)
        return StageRun(m.kommunenummer, case.stage, case.status, False, created)
    if created:
        session.flush()
        state = snapshot(session, m, case)
    step = machine.next_transition(state, ctx.today)
    if step is None:
        if created:
            commit_case(session, case)
        return StageRun(m.kommunenummer, case.stage, case.status, False, created)
    add_events(session, m, case, [NewEvent(EventKind.STAGE_ENTERED, step.on, {
        "from": step.from_stage.value, "to": step.to_stage.value})], ctx)
    case.stage = step.to_stage.value
    case.stage_entered_on = step.on
    created += add_tasks(session, case, machine.plan_stage_tasks(
        step.to_stage, step.on, state.terms, ctx.calendar, ctx.config.task_due))
    _run_hooks(session, case, STAGE_RULES[step.to_stage].on_enter, ctx)
    commit_case(session, case)
    return StageRun(m.kommunenummer, case.stage, case.status, True, created,
                    {"from": step.from_stage.value, "to": step.to_stage.value,
                     "on": step.on.isoformat()})


def stage_settled(*, session: Session, kommunenummer: str, ctx: Ctx) -> bool:
    """Whether running the case's current stage now would change nothing: `run_stage`
    would create no task, record no renewal or end, open no gate, and the stage's drafts
    (`document_store.ensure_stage_documents`) exist. Reads only. A command that may skip
    the onboarding loop when it is settled (`task done`) asks this first, so a task that
    opens no gate costs no stage flow run. Mirrors `run_stage` step by step."""
    from avtaleflyt.models import Document

    m, case = get_case(session, kommunenummer)
    stage = Stage(case.stage)
    if case.status == CaseStatus.ACTIVE.value:
        ctx = county_ctx(session, m, ctx)
        state = snapshot(session, m, case)
        existing = set(session.exec(select(Task.key).where(Task.case_id == case.id)).all())
        planned = machine.plan_stage_tasks(stage, case.stage_entered_on, state.terms,
                                           ctx.calendar, ctx.config.task_due)
        if any(p.key not in existing for p in planned):
            return False
        if machine.agreement_renewals(state, ctx.today, _renewals_recorded(session, case)):
            return False
        if machine.agreement_ended(state, ctx.today) is not None:
            return False
        if machine.next_transition(state, ctx.today) is not None:
            return False
    if CaseStatus(case.status).is_open:
        for kind in STAGE_RULES[stage].documents:
            if session.exec(select(Document.id).where(Document.case_id == case.id,
                                                      Document.kind == kind)).first() is None:
                return False
    return True


def _renewals_recorded(session: Session, case: OnboardingCase) -> set[date]:
    return renewals_recorded(session, [case.id])[case.id]


def advance(*, session: Session, kommunenummer: str, ctx: Ctx,
            run: Callable[[Stage], StageRun] | None = None) -> list[StageRun]:
    """Run the case's current stage and, while its gate opens, the next one: the one loop
    every caller uses (commands, `case advance`, the sweep, the demo). Returns each stage's
    run, the last one where the case stopped.

    `run` runs one stage; by default `run_stage` in this session. The onboarding flow
    passes one that runs the stage's Prefect flow instead (each in its own session).
    """
    stage = current_stage(session=session, kommunenummer=kommunenummer)
    run = run or (lambda st: run_stage(session=session, kommunenummer=kommunenummer,
                                       stage=st, ctx=ctx))
    runs: list[StageRun] = []
    for _ in range(len(Stage)):  # at most one step per stage: never loops forever
        result = run(stage)
        runs.append(result)
        if not result.advanced:
            break
        stage = Stage(result.stage)
    return runs


def _plan_meetings(session: Session, case: OnboardingCase, ctx: Ctx) -> None:
    from . import deadlines

    deadlines.schedule_political_cases(session=session, ctx=ctx, case_ids=[case.id],
                                       commit=False)


def _plan_duties(session: Session, case: OnboardingCase, ctx: Ctx) -> None:
    from . import deadlines

    deadlines.generate_duties(session=session, ctx=ctx, case_ids=[case.id], commit=False)


# The entry hooks a stage names in the table (`StageRule.on_enter` / `on_resume`): deadlines
# that need more than the table, planned in the caller's transaction.
STAGE_HOOKS: dict[str, Callable[[Session, OnboardingCase, Ctx], None]] = {
    "meeting_plan": _plan_meetings,  # political deadlines from the meeting plan
    "duties": _plan_duties,  # the recurring duties of a running agreement
}


def _run_hooks(session: Session, case: OnboardingCase, names: tuple[str, ...],
               ctx: Ctx) -> None:
    for name in names:
        session.flush()
        STAGE_HOOKS[name](session, case, ctx)


def complete_task(*, session: Session, task_id: int, on: date, ctx: Ctx) -> Outcome:
    from .store import get_task

    task = get_task(session, task_id)
    case = session.get(OnboardingCase, task.case_id)
    from avtaleflyt.models import Municipality

    m = session.get(Municipality, case.municipality_id)
    latest = latest_case(session, m)
    if latest is None or latest.id != case.id:
        raise Conflict(f"Oppgave {task_id} hører til en tidligere, avsluttet sak for {m.name}.")
    state = snapshot(session, m, case)
    event = machine.complete_task(state, to_view(task), on, ctx.today)
    if event is None:
        return _outcome(m, case, f"Oppgaven «{task.title}» var allerede gjort; ingen endring.",
                        changed=False)
    task.done_on = on
    session.add(task)
    add_events(session, m, case, [event], ctx)
    commit_case(session, case)
    return _outcome(m, case, f"Oppgaven «{task.title}» er gjort ({m.name}).")


def _with_reason(session: Session, m, case: OnboardingCase, event: NewEvent,
                 reason: str | None, reason_text_id: int | None) -> NewEvent:
    """The event refers to the reason by its `personal_text` id; it never holds the text."""
    from . import texts

    if reason_text_id is not None:
        row = texts.load(session, reason_text_id, m.id)
    else:
        reason = texts.clean(reason, "reason", required=False)
        if reason is None:
            return event
        row = texts.store(session, municipality_id=m.id, case_id=case.id, kind="reason",
                          text=reason)
    return NewEvent(event.kind, event.occurred_on, {**event.details, "reason_text_id": row.id})


def hold(*, session: Session, kommunenummer: str, on: date, reason: str | None = None,
         ctx: Ctx, reason_text_id: int | None = None) -> Outcome:
    m, case = get_case(session, kommunenummer)
    event = machine.hold(snapshot(session, m, case), on, ctx.today, None)
    event = _with_reason(session, m, case, event, reason, reason_text_id)
    add_events(session, m, case, [event], ctx)
    case.status = CaseStatus.ON_HOLD.value
    case.on_hold_since = on
    commit_case(session, case)
    return _outcome(m, case, f"Saken for {m.name} er satt på vent.")


def resume(*, session: Session, kommunenummer: str, on: date, ctx: Ctx) -> Outcome:
    m, case = get_case(session, kommunenummer)
    ctx = county_ctx(session, m, ctx)
    event, days = machine.resume(snapshot(session, m, case), on, ctx.today)
    from .deadlines import POLITICAL_KEYS

    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             Task.done_on.is_(None))).all():  # type: ignore[union-attr]
        if t.key in POLITICAL_KEYS or is_duty(t.key):
            # Political deadlines follow the meeting plan and are planned again from it
            # below; duties follow the agreement's dates, which a hold does not move.
            continue
        t.due_on = machine.shift_due(t.due_on, days, ctx.calendar)
        session.add(t)
    add_events(session, m, case, [event], ctx)
    case.status = CaseStatus.ACTIVE.value
    case.on_hold_since = None
    _run_hooks(session, case, STAGE_RULES[Stage(case.stage)].on_resume, ctx)
    commit_case(session, case)
    from avtaleflyt.formatting import format_days

    moved = f" Åpne frister er flyttet {format_days(days)}." if days else ""
    return _outcome(m, case, f"Saken for {m.name} er gjenopptatt.{moved}")


def withdraw(*, session: Session, kommunenummer: str, on: date, reason: str | None = None,
             ctx: Ctx, reason_text_id: int | None = None) -> Outcome:
    m, case = get_case(session, kommunenummer)
    event = machine.withdraw(snapshot(session, m, case), on, ctx.today, None)
    event = _with_reason(session, m, case, event, reason, reason_text_id)
    add_events(session, m, case, [event], ctx)
    case.status = CaseStatus.WITHDRAWN.value
    case.closed_on = on
    case.on_hold_since = None
    commit_case(session, case)
    return _outcome(m, case, f"Saken for {m.name} er trukket.")
