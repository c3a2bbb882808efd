"""The onboarding state machine: pure functions over a snapshot of one case.

Nothing here touches a database, Prefect or the clock: `today` is always an argument.
Each function either returns what should change, or raises a `DomainError` whose message
the user reads. Services apply the returned changes in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from .kinds import EventKind
from .agreement import RENEWAL_AUTO, Terms
from .errors import Conflict, InvalidInput, ref
from .facts import FACTS, OUTCOME_VALUES, PARTY_VALUES, FactKind, Outcome
from .stages import (
    CHECKLIST_MILESTONES,
    MILESTONE_LABELS,
    STAGE_RULES,
    CaseStatus,
    DueBase,
    Milestone,
    Party,
    Stage,
    TaskTemplate,
    pipeline,
)


class Calendar(Protocol):
    def add_working_days(self, d: date, n: int) -> date: ...
    def roll_forward(self, d: date) -> date: ...
    def previous_working_day(self, d: date, include_self: bool = True) -> date: ...


def fmt(d: date) -> str:
    """Dates in messages: '17. mai 2026'."""
    from avtaleflyt.formatting import format_date

    return format_date(d)


# --- snapshot -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedFact:
    kind: FactKind
    occurred_on: date
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskView:
    id: int | None
    key: str
    stage: Stage
    title: str
    mandatory: bool
    milestone: Milestone | None
    due_on: date | None
    done_on: date | None


@dataclass(frozen=True)
class CaseState:
    """What the machine needs to know about one case."""

    municipality: str
    stage: Stage
    status: CaseStatus
    opened_on: date
    stage_entered_on: date
    closed_on: date | None = None
    on_hold_since: date | None = None
    facts: tuple[RecordedFact, ...] = ()
    terms: Terms | None = None
    tasks: tuple[TaskView, ...] = ()


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    kind: str
    occurred_on: date
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedTask:
    key: str
    stage: Stage
    title: str
    responsible: Party
    mandatory: bool
    milestone: Milestone | None
    due_on: date | None


@dataclass(frozen=True)
class FactOutcome:
    """The result of recording a fact. `unchanged` means it was already recorded exactly so."""

    events: tuple[NewEvent, ...] = ()
    status: CaseStatus | None = None
    closed_on: date | None = None
    terms: Terms | None = None
    milestone: Milestone | None = None
    unchanged: bool = False


@dataclass(frozen=True)
class Transition:
    from_stage: Stage
    to_stage: Stage
    on: date


@dataclass(frozen=True)
class FactInput:
    kind: FactKind
    occurred_on: date
    outcome: Outcome | None = None
    reference: str | None = None
    party: Party | None = None
    terms: Terms | None = None

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.outcome is not None:
            d["outcome"] = self.outcome.value
        if self.reference:
            d["reference"] = self.reference
        if self.party is not None:
            d["party"] = self.party.value
        if self.terms is not None:
            t = self.terms
            d["terms"] = {
                "start_date": t.start_date.isoformat(),
                "years": t.years,
                "notice_months": t.notice_months,
                "yearly_price": t.yearly_price,
                "position_share": str(t.position_share),
                "site_visits_per_year": t.site_visits_per_year,
            }
            if t.months:
                d["terms"]["months"] = t.months
            if t.renewal != "none":
                d["terms"]["renewal"] = t.renewal
        return d


# --- reading the snapshot -------------------------------------------------------------


def milestones(state: CaseState, today: date) -> dict[Milestone, date]:
    """Every milestone the case has reached, with the date it was reached."""
    reached: dict[Milestone, date] = {}
    for f in state.facts:
        m = _fact_milestone(f.kind, f.details)
        if m is not None and m not in reached:
            reached[m] = f.occurred_on
    checklist = [t for t in state.tasks
                 if t.stage is state.stage and t.mandatory and t.milestone is None]
    if checklist and all(t.done_on is not None for t in checklist):
        done = max(t.done_on for t in checklist if t.done_on)
        for m in CHECKLIST_MILESTONES.intersection(STAGE_RULES[state.stage].exit_requires):
            reached[m] = done
    if state.terms is not None and today >= state.terms.start_date:
        reached[Milestone.START_DATE_REACHED] = state.terms.start_date
    return reached


def missing_for_exit(state: CaseState, today: date) -> list[Milestone]:
    """What the current stage still waits for, in the table's order."""
    reached = milestones(state, today)
    return [m for m in STAGE_RULES[state.stage].exit_requires if m not in reached]


def _fact_milestone(kind: FactKind, details: Mapping[str, Any]) -> Milestone | None:
    match kind:
        case FactKind.MEETING_HELD:
            return Milestone.MEETING_HELD
        case FactKind.NEEDS_ASSESSED:
            return Milestone.NEEDS_ASSESSED
        case FactKind.INTENT_CONFIRMED:
            return Milestone.INTENT_CONFIRMED
        case FactKind.COUNCIL_DECISION if details.get("outcome") == Outcome.APPROVED:
            return Milestone.COUNCIL_APPROVED
        case FactKind.COUNTY_DECISION if details.get("outcome") == Outcome.APPROVED:
            return Milestone.COUNTY_APPROVED
        case FactKind.TERMS_SET:
            return Milestone.TERMS_SET
        case FactKind.SIGNED if details.get("party") == Party.MUNICIPALITY:
            return Milestone.SIGNED_MUNICIPALITY
        case FactKind.SIGNED if details.get("party") == Party.COUNTY:
            return Milestone.SIGNED_COUNTY
    return None


# --- guards ---------------------------------------------------------------------------


def check_not_future(on: date, today: date, what: str = "Datoen") -> None:
    if on > today:
        raise InvalidInput(
            f"{what} {fmt(on)} er frem i tid; i dag er {fmt(today)}. "
            "Registrer det som har skjedd, når det har skjedd.", field="date")


def require_active(state: CaseState) -> None:
    if state.status is CaseStatus.ON_HOLD:
        since = f" siden {fmt(state.on_hold_since)}" if state.on_hold_since else ""
        raise Conflict(
            f"Saken for {state.municipality} er satt på vent{since}. "
            "Gjenoppta den først.")
    if not state.status.is_open:
        when = f" {fmt(state.closed_on)}" if state.closed_on else ""
        raise Conflict(
            f"Saken for {state.municipality} er avsluttet ({state.status.label.lower()}{when}). "
            "Åpne en ny sak for å registrere mer.")


def _check_in_stage(state: CaseState, on: date, today: date) -> None:
    check_not_future(on, today)
    if on < state.stage_entered_on:
        raise Conflict(
            f"Datoen {fmt(on)} er før fasen «{state.stage.label}» begynte "
            f"({fmt(state.stage_entered_on)}).", field="date")


# --- commands -------------------------------------------------------------------------


def open_case(*, municipality: str, opened_on: date, today: date,
              has_open_case: bool) -> tuple[NewEvent, ...]:
    if has_open_case:
        raise Conflict(f"{municipality} har allerede en åpen sak. Én kommune kan ha én åpen sak.")
    check_not_future(opened_on, today, "Åpningsdatoen")
    return (NewEvent(EventKind.CASE_OPENED, opened_on, {"stage": pipeline().first.value}),)


def record_fact(state: CaseState, fact: FactInput, today: date,
                calendar: Calendar | None = None) -> FactOutcome:
    """Check a recorded fact against the case and say what it changes. `calendar` is
    needed for notice (`notice-given`): its deadline is moved to a working day."""
    require_active(state)
    fact_stage = FACTS[fact.kind].stage
    if fact_stage.index > state.stage.index:
        raise Conflict(
            f"Kan ikke registrere «{fact.kind.label}» ennå: saken for {state.municipality} er i "
            f"fasen «{state.stage.label}», og dette hører til fasen «{fact_stage.label}».")
    if fact_stage.index < state.stage.index:
        raise Conflict(
            f"Kan ikke registrere «{fact.kind.label}»: fasen «{fact_stage.label}» er allerede "
            f"fullført for {state.municipality}.")
    _check_in_stage(state, fact.occurred_on, today)
    if fact.kind is FactKind.NOTICE_GIVEN:
        return _notice(state, fact, today, calendar)

    details = fact.details()
    for prior in state.facts:
        if prior.kind is fact.kind and prior.occurred_on == fact.occurred_on \
                and dict(prior.details) == details:
            return FactOutcome(unchanged=True)

    reached = milestones(state, today)
    milestone = _fact_milestone(fact.kind, details)
    if fact.kind in (FactKind.NEEDS_ASSESSED, FactKind.INTENT_CONFIRMED):
        _require(reached, Milestone.MEETING_HELD, fact)
        _not_before(reached[Milestone.MEETING_HELD], fact)
    if fact.kind in (FactKind.COUNCIL_DECISION, FactKind.COUNTY_DECISION):
        return _decision(state, fact, details, reached)
    if fact.kind is FactKind.TERMS_SET:
        return _terms(state, fact, details, reached)
    if fact.kind is FactKind.SIGNED:
        if fact.party is None:
            raise InvalidInput(f"{ref('party')} mangler: oppgi {PARTY_VALUES.either()}.",
                               field="party")
        _require(reached, Milestone.TERMS_SET, fact)
        _not_before(reached[Milestone.TERMS_SET], fact)
    if milestone in reached:
        raise Conflict(
            f"«{fact.kind.label}»{_party_suffix(fact)} er allerede registrert "
            f"({fmt(reached[milestone])}).")
    return FactOutcome(events=(NewEvent(fact.kind.value, fact.occurred_on, details),),
                       milestone=milestone)


def _party_suffix(fact: FactInput) -> str:
    return f" av {fact.party.label.lower()}" if fact.party else ""


def _require(reached: Mapping[Milestone, date], m: Milestone, fact: FactInput) -> None:
    if m not in reached:
        raise Conflict(f"Kan ikke registrere «{fact.kind.label}» før {MILESTONE_LABELS[m]} "
                       "er registrert.")


def _not_before(earliest: date, fact: FactInput) -> None:
    if fact.occurred_on < earliest:
        raise Conflict(f"«{fact.kind.label}» ({fmt(fact.occurred_on)}) kan ikke være før "
                       f"{fmt(earliest)}, da forrige steg ble registrert.", field="date")


def _decision(state: CaseState, fact: FactInput, details: dict[str, Any],
              reached: Mapping[Milestone, date]) -> FactOutcome:
    if fact.outcome is None:
        raise InvalidInput(f"{ref('outcome')} mangler: oppgi {OUTCOME_VALUES.either()}.",
                           field="outcome")
    approved = (Milestone.COUNCIL_APPROVED if fact.kind is FactKind.COUNCIL_DECISION
                else Milestone.COUNTY_APPROVED)
    if approved in reached:
        raise Conflict(f"«{fact.kind.label}» er allerede vedtatt ({fmt(reached[approved])}); "
                       "et nytt vedtak kan ikke registreres i samme sak.")
    event = NewEvent(fact.kind.value, fact.occurred_on, details)
    if fact.outcome is Outcome.REJECTED:
        body = "kommunestyret" if fact.kind is FactKind.COUNCIL_DECISION else "fylkeskommunen"
        ended = NewEvent(EventKind.CASE_REJECTED, fact.occurred_on,
                         {"by": body, **({"reference": fact.reference} if fact.reference else {})})
        return FactOutcome(events=(event, ended), status=CaseStatus.REJECTED,
                           closed_on=fact.occurred_on)
    milestone = approved if fact.outcome is Outcome.APPROVED else None
    return FactOutcome(events=(event,), milestone=milestone)


def _terms(state: CaseState, fact: FactInput, details: dict[str, Any],
           reached: Mapping[Milestone, date]) -> FactOutcome:
    if fact.terms is None:
        raise InvalidInput("Avtalevilkårene mangler.", field="terms")
    for signed, who in ((Milestone.SIGNED_MUNICIPALITY, "kommunen"),
                        (Milestone.SIGNED_COUNTY, "fylkeskommunen")):
        if signed in reached:
            raise Conflict(f"Avtalen er allerede signert av {who} ({fmt(reached[signed])}); "
                           "vilkårene kan ikke endres etter signering.")
    fact.terms.validate(set_on=fact.occurred_on)
    return FactOutcome(events=(NewEvent(fact.kind.value, fact.occurred_on, details),),
                       terms=fact.terms, milestone=Milestone.TERMS_SET)


def notice_given(state: CaseState) -> RecordedFact | None:
    """The recorded notice (`notice-given`), if any: at most one per case."""
    return next((f for f in state.facts if f.kind is FactKind.NOTICE_GIVEN), None)


def ends_on(state: CaseState) -> date | None:
    """The last day of the agreement as far as it is known: the end date of a fixed term,
    the end after notice of an automatically renewed one, else None (it renews)."""
    t = state.terms
    if t is None:
        return None
    if t.renewal != RENEWAL_AUTO:
        return t.end_date
    notice = notice_given(state)
    return date.fromisoformat(notice.details["ends_on"]) if notice is not None else None


def _notice(state: CaseState, fact: FactInput, today: date,
            calendar: Calendar | None) -> FactOutcome:
    """Notice given by one party: an automatically renewed agreement then ends at the end
    of the current period, or of the next when notice came after the current period's
    notice deadline (`agreement.end_after_notice`). The end date is computed once, here,
    and kept in the event, so a later change of the calendar does not move it."""
    if fact.party is None:
        raise InvalidInput(f"{ref('party')} mangler: oppgi hvem som sa opp avtalen, "
                           f"{PARTY_VALUES.either()}.", field="party")
    t = state.terms
    if t is None:
        raise Conflict(f"Saken for {state.municipality} har ingen avtalevilkår; det er ingen "
                       "avtale å si opp.")
    if t.renewal != RENEWAL_AUTO:
        raise Conflict(
            f"Avtalen for {state.municipality} har fast periode ({ref('renewal')}: fast) og går ut "
            f"{fmt(t.end_date)} uten oppsigelse. Oppsigelse registreres bare for avtaler som "
            f"fornyes automatisk ({ref('renewal')}: automatisk).", field="renewal")
    prior = notice_given(state)
    if prior is not None:
        if prior.occurred_on == fact.occurred_on and \
                prior.details.get("party") == fact.party.value:
            return FactOutcome(unchanged=True)
        raise Conflict(
            f"«{fact.kind.label}» er allerede registrert: "
            f"{notice_text(prior.details, prior.occurred_on)}. "
            "En avtale kan bare sies opp én gang.")
    if calendar is None:
        raise ValueError("record_fact needs the working calendar for notice-given")
    end = t.ends_after_notice(fact.occurred_on, calendar)
    if end < today:
        raise Conflict(
            f"{ref('date')}: oppsigelse gitt {fmt(fact.occurred_on)} ville avsluttet avtalen "
            f"{fmt(end)}, men den er allerede fornyet for en ny periode fra "
            f"{fmt(end + timedelta(days=1))}.", field="date")
    details = {**fact.details(), "ends_on": end.isoformat()}
    return FactOutcome(events=(NewEvent(fact.kind.value, fact.occurred_on, details),))


def notice_text(details: Mapping[str, Any], given_on: date) -> str:
    """«Sagt opp 15. mars 2027 av kommunen; avtalen slutter 31. desember 2027»."""
    party = Party(details["party"]).label.lower() if details.get("party") else "–"
    end = date.fromisoformat(details["ends_on"]) if details.get("ends_on") else None
    return (f"Sagt opp {fmt(given_on)} av {party}"
            + (f"; avtalen slutter {fmt(end)}" if end else ""))


def next_transition(state: CaseState, today: date) -> Transition | None:
    """The next stage change the gates allow, or None. Call again after applying it."""
    rule = STAGE_RULES[state.stage]
    if state.status is not CaseStatus.ACTIVE or rule.terminal:
        return None  # a terminal stage is left only when the agreement ends
    target = state.stage.next
    assert target is not None  # the pipeline's last stage is terminal (stages.Pipeline)
    reached = milestones(state, today)
    if any(m not in reached for m in rule.exit_requires):
        return None
    on = max([state.stage_entered_on, *(reached[m] for m in rule.exit_requires)])
    return Transition(state.stage, target, on)


def agreement_ended(state: CaseState, today: date) -> NewEvent | None:
    """An agreement past its last day ends the case: a fixed term after its end date, one
    that renews automatically only after notice (`notice-given`), on the end date the
    notice gave. Without notice it does not end: see `agreement_renewals`."""
    if state.status is not CaseStatus.ACTIVE or not STAGE_RULES[state.stage].terminal:
        return None
    end = ends_on(state)
    if not _past_end(end, today):
        return None
    details: dict[str, Any] = {"end_date": end.isoformat()}
    if state.terms is not None and state.terms.renewal == RENEWAL_AUTO:
        details["by_notice"] = True
    return NewEvent(EventKind.AGREEMENT_ENDED, end, details)


def agreement_renewals(state: CaseState, today: date, recorded: set[date]
                       ) -> list[NewEvent]:
    """An automatically renewed agreement begins a new period the day after each end date;
    one EventKind.AGREEMENT_RENEWED event per period begun by `today` and not in `recorded`
    (the period starts already written), so repeating this writes nothing twice. After
    notice, no period begins after the end date the notice gave."""
    t = state.terms
    if (state.status is not CaseStatus.ACTIVE or not STAGE_RULES[state.stage].terminal
            or t is None or t.renewal != "auto"):
        return []
    return [NewEvent(EventKind.AGREEMENT_RENEWED, start, {"period": k, "start": start.isoformat(),
                                                   "end": end.isoformat()})
            for k, start, end in _periods_begun(t, today, recorded, ends_on(state))]


def _periods_begun(t: Terms, today: date, recorded: set[date], last: date | None
                   ) -> list[tuple[int, date, date]]:
    """(number, first day, last day) of each renewal period begun by `today` whose start is
    not in `recorded`, none after the agreement's `last` day."""
    if t.renewal != RENEWAL_AUTO:
        return []
    return [(k, start, end) for k, (start, end) in enumerate(t.periods(today), start=1)
            if k > 1 and start <= today and start not in recorded
            and (last is None or start <= last)]


def _past_end(last: date | None, today: date) -> bool:
    return last is not None and today > last


def running_date_due(terms: Terms | None, today: date, recorded: set[date],
                     notice_ends_on: date | None) -> bool:
    """Whether a date alone changes an active case in the terminal stage today, i.e. whether
    `agreement_renewals` or `agreement_ended` would return something: a renewal period
    begun and not yet `recorded`, or the agreement's last day passed (a fixed term's end
    date; an automatically renewed one's end after notice, `notice_ends_on`). The sweep asks
    this of every running case from three set queries and runs the stage only where it is
    true, so its cost does not grow with the agreements that simply run on."""
    if terms is None:
        return False
    last = notice_ends_on if terms.renewal == RENEWAL_AUTO else terms.end_date
    return _past_end(last, today) or bool(_periods_begun(terms, today, recorded, last))


def plan_stage_tasks(stage: Stage, entered_on: date, terms: Terms | None, calendar: Calendar,
                     due_overrides: Mapping[str, int] | None = None) -> list[PlannedTask]:
    """The entry actions of a stage: its checklist with due dates on working days."""
    overrides = due_overrides or {}
    return [
        PlannedTask(t.key, stage, t.title, t.responsible, t.mandatory, t.milestone,
                    _due(t, entered_on, terms, calendar, overrides.get(t.key, t.due_amount)))
        for t in STAGE_RULES[stage].tasks
    ]


def _due(t: TaskTemplate, entered_on: date, terms: Terms | None, cal: Calendar,
         amount: int) -> date | None:
    match t.due_base:
        case DueBase.STAGE_ENTRY:
            return cal.roll_forward(entered_on + timedelta(days=amount))
        case DueBase.STAGE_ENTRY_WORKING:
            return cal.add_working_days(entered_on, amount)
        case DueBase.BEFORE_START:
            if terms is None:
                return None
            # Setup that starts late still gets a due date no earlier than its own start.
            return max(cal.add_working_days(terms.start_date, -amount),
                       cal.roll_forward(entered_on))
    return None


def complete_task(state: CaseState, task: TaskView, on: date, today: date) -> NewEvent | None:
    """Mark a checklist item done. None means it was already done on that date."""
    require_active(state)
    check_not_future(on, today)
    if task.milestone is not None:
        raise Conflict(
            f"Oppgaven «{task.title}» lukkes av seg selv når du registrerer "
            f"«{_RECORDED_BY[task.milestone][0].label}»{_RECORDED_BY[task.milestone][1]}.")
    if task.done_on is not None:
        if task.done_on == on:
            return None
        raise Conflict(f"Oppgaven «{task.title}» er allerede gjort ({fmt(task.done_on)}).")
    if task.stage is not state.stage:
        raise Conflict(f"Oppgaven «{task.title}» hører til fasen «{task.stage.label}», "
                       f"men saken er i fasen «{state.stage.label}».")
    if on < state.stage_entered_on:
        raise Conflict(f"Datoen {fmt(on)} er før fasen «{state.stage.label}» begynte "
                       f"({fmt(state.stage_entered_on)}).", field="date")
    return NewEvent(EventKind.TASK_DONE, on,
                    {"task_id": task.id, "key": task.key, "title": task.title})


# The fact that reaches each milestone, and how (for messages).
_RECORDED_BY: dict[Milestone, tuple[FactKind, str]] = {
    Milestone.MEETING_HELD: (FactKind.MEETING_HELD, ""),
    Milestone.NEEDS_ASSESSED: (FactKind.NEEDS_ASSESSED, ""),
    Milestone.INTENT_CONFIRMED: (FactKind.INTENT_CONFIRMED, ""),
    Milestone.COUNCIL_APPROVED: (FactKind.COUNCIL_DECISION, " med utfall vedtatt"),
    Milestone.COUNTY_APPROVED: (FactKind.COUNTY_DECISION, " med utfall vedtatt"),
    Milestone.TERMS_SET: (FactKind.TERMS_SET, ""),
    Milestone.SIGNED_MUNICIPALITY: (FactKind.SIGNED, " av kommunen"),
    Milestone.SIGNED_COUNTY: (FactKind.SIGNED, " av fylkeskommunen"),
}


def hold(state: CaseState, on: date, today: date, reason: str | None) -> NewEvent:
    if state.status is CaseStatus.ON_HOLD:
        raise Conflict(f"Saken for {state.municipality} er allerede satt på vent.")
    require_active(state)
    _check_in_stage(state, on, today)
    return NewEvent(EventKind.CASE_ON_HOLD, on, {"reason": reason} if reason else {})


def resume(state: CaseState, on: date, today: date) -> tuple[NewEvent, int]:
    """Resume a held case. Returns the event and how many days open checklist deadlines
    move. Deadlines of the political approval are not shifted: they follow the meeting
    plan and are planned again from it (a decision can only be made at a meeting)."""
    if state.status is not CaseStatus.ON_HOLD:
        require_active(state)
        raise Conflict(f"Saken for {state.municipality} er ikke satt på vent.")
    check_not_future(on, today)
    since = state.on_hold_since or on
    if on < since:
        raise Conflict(f"Datoen {fmt(on)} er før saken ble satt på vent ({fmt(since)}).",
                       field="date")
    days = (on - since).days
    return NewEvent(EventKind.CASE_RESUMED, on, {"days_on_hold": days}), days


def withdraw(state: CaseState, on: date, today: date, reason: str | None) -> NewEvent:
    if not state.status.is_open:
        require_active(state)
    check_not_future(on, today)
    if on < state.stage_entered_on:
        raise Conflict(f"Datoen {fmt(on)} er før fasen «{state.stage.label}» begynte "
                       f"({fmt(state.stage_entered_on)}).", field="date")
    return NewEvent(EventKind.CASE_WITHDRAWN, on, {"reason": reason} if reason else {})


def shift_due(due: date | None, days: int, calendar: Calendar) -> date | None:
    """Move a deadline by the time a case was on hold, landing on a working day."""
    if due is None or days <= 0:
        return due
    return calendar.roll_forward(due + timedelta(days=days))


def describe_waiting(state: CaseState, today: date) -> Sequence[str]:
    """Human-readable list of what the current stage waits for."""
    return [MILESTONE_LABELS[m] for m in missing_for_exit(state, today)]
