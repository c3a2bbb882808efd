"""The state machine with plain objects: no database, no Prefect, the date passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from avtaleflyt.domain import machine
from avtaleflyt.domain.agreement import Terms
from avtaleflyt.domain.calendar import WorkingCalendar
from avtaleflyt.domain.errors import Conflict, InvalidInput
from avtaleflyt.domain.machine import CaseState, FactInput, RecordedFact, TaskView
from avtaleflyt.domain.facts import FactKind, Outcome
from avtaleflyt.domain.stages import (
    STAGE_RULES,
    CaseStatus,
    Milestone,
    Party,
    Stage,
)

CAL = WorkingCalendar()
TODAY = date(2026, 6, 1)


def state(stage=Stage.FIRST_CONTACT, entered=date(2026, 3, 2), facts=(), **kw) -> CaseState:
    return CaseState(municipality="Rødøy", stage=stage, status=kw.pop("status", CaseStatus.ACTIVE),
                     opened_on=date(2026, 3, 2), stage_entered_on=entered, facts=tuple(facts),
                     **kw)


def fact(kind, on, **details) -> RecordedFact:
    return RecordedFact(kind, on, details)


TERMS = Terms(start_date=date(2027, 1, 1), years=3, notice_months=6, yearly_price=120_000,
              position_share=Decimal(20), site_visits_per_year=4)


def test_first_contact_needs_all_three_facts_then_moves_on_the_last_ones_date():
    s = state(facts=[fact(FactKind.MEETING_HELD, date(2026, 3, 10)),
                     fact(FactKind.NEEDS_ASSESSED, date(2026, 3, 12))])
    assert machine.next_transition(s, TODAY) is None
    assert machine.missing_for_exit(s, TODAY) == [Milestone.INTENT_CONFIRMED]
    s = replace(s, facts=s.facts + (fact(FactKind.INTENT_CONFIRMED, date(2026, 3, 19)),))
    step = machine.next_transition(s, TODAY)
    assert (step.from_stage, step.to_stage, step.on) == (
        Stage.FIRST_CONTACT, Stage.POLITICAL_APPROVAL, date(2026, 3, 19))


def test_signing_before_approval_is_refused_with_the_stage_named():
    with pytest.raises(Conflict, match="Politisk behandling.*Avtaleinngåelse"):
        machine.record_fact(state(Stage.POLITICAL_APPROVAL),
                            FactInput(FactKind.SIGNED, date(2026, 4, 1), party=Party.COUNTY), TODAY)


def test_fact_of_a_finished_stage_is_refused():
    with pytest.raises(Conflict, match="allerede fullført"):
        machine.record_fact(state(Stage.CONTRACT_SIGNING),
                            FactInput(FactKind.MEETING_HELD, date(2026, 4, 1)), TODAY)


def test_date_before_the_stage_began_is_refused():
    with pytest.raises(Conflict, match="før fasen «Førstekontakt» begynte"):
        machine.record_fact(state(), FactInput(FactKind.MEETING_HELD, date(2026, 3, 1)), TODAY)


def test_date_in_the_future_is_refused():
    with pytest.raises(InvalidInput, match="frem i tid"):
        machine.record_fact(state(), FactInput(FactKind.MEETING_HELD, date(2026, 6, 2)), TODAY)


def test_needs_assessment_requires_the_meeting_first():
    with pytest.raises(Conflict, match="første møte holdt"):
        machine.record_fact(state(), FactInput(FactKind.NEEDS_ASSESSED, date(2026, 3, 5)), TODAY)


def test_recording_the_same_fact_twice_is_idempotent_but_a_different_date_is_refused():
    s = state(facts=[fact(FactKind.MEETING_HELD, date(2026, 3, 10))])
    assert machine.record_fact(s, FactInput(FactKind.MEETING_HELD, date(2026, 3, 10)),
                               TODAY).unchanged
    with pytest.raises(Conflict, match="allerede registrert"):
        machine.record_fact(s, FactInput(FactKind.MEETING_HELD, date(2026, 3, 11)), TODAY)


def test_council_rejection_ends_the_case_and_postponement_keeps_it_waiting():
    s = state(Stage.POLITICAL_APPROVAL, entered=date(2026, 3, 19))
    postponed = machine.record_fact(
        s, FactInput(FactKind.COUNCIL_DECISION, date(2026, 4, 20), outcome=Outcome.POSTPONED),
        TODAY)
    assert postponed.status is None and postponed.milestone is None
    rejected = machine.record_fact(
        s, FactInput(FactKind.COUNCIL_DECISION, date(2026, 5, 20), outcome=Outcome.REJECTED,
                     reference="26/14"), TODAY)
    assert rejected.status is CaseStatus.REJECTED
    assert rejected.closed_on == date(2026, 5, 20)
    assert [e.kind for e in rejected.events] == ["council_decision", "case_rejected"]


def test_political_stage_needs_both_council_and_county():
    approved = {"outcome": "approved"}
    s = state(Stage.POLITICAL_APPROVAL, entered=date(2026, 3, 19),
              facts=[fact(FactKind.COUNCIL_DECISION, date(2026, 4, 20), **approved)])
    assert machine.next_transition(s, TODAY) is None
    s = replace(s, facts=s.facts + (fact(FactKind.COUNTY_DECISION, date(2026, 5, 5), **approved),))
    assert machine.next_transition(s, TODAY).on == date(2026, 5, 5)


def test_terms_are_locked_after_the_first_signature():
    s = state(Stage.CONTRACT_SIGNING, entered=date(2026, 5, 5), terms=TERMS,
              facts=[fact(FactKind.TERMS_SET, date(2026, 5, 10)),
                     fact(FactKind.SIGNED, date(2026, 5, 12), party="municipality")])
    with pytest.raises(Conflict, match="kan ikke endres etter signering"):
        machine.record_fact(s, FactInput(FactKind.TERMS_SET, date(2026, 5, 13), terms=TERMS),
                            TODAY)


def test_signing_requires_terms():
    s = state(Stage.CONTRACT_SIGNING, entered=date(2026, 5, 5))
    with pytest.raises(Conflict, match="avtalevilkår fastsatt"):
        machine.record_fact(s, FactInput(FactKind.SIGNED, date(2026, 5, 6),
                                         party=Party.MUNICIPALITY), TODAY)


@pytest.mark.parametrize("change, field", [
    ({"years": 0}, "years"), ({"notice_months": 36}, "notice_months"),
    ({"yearly_price": -1}, "price"), ({"position_share": Decimal(0)}, "position_share"),
    ({"start_date": date(2026, 5, 1)}, "start"),
])
def test_malformed_terms_name_the_field(change, field):
    s = state(Stage.CONTRACT_SIGNING, entered=date(2026, 5, 5))
    with pytest.raises(InvalidInput) as e:
        machine.record_fact(s, FactInput(FactKind.TERMS_SET, date(2026, 5, 10),
                                         terms=replace(TERMS, **change)), TODAY)
    assert e.value.field == field


def test_setup_waits_for_every_mandatory_item_and_the_start_date():
    tasks = tuple(TaskView(i, t.key, Stage.SYSTEM_SETUP, t.title, True, None, None,
                           date(2026, 11, 20)) for i, t in
                  enumerate(STAGE_RULES[Stage.SYSTEM_SETUP].tasks))
    s = state(Stage.SYSTEM_SETUP, entered=date(2026, 6, 1), terms=TERMS, tasks=tasks)
    assert machine.next_transition(s, date(2026, 12, 31)) is None  # before the start date
    step = machine.next_transition(s, date(2027, 1, 4))
    assert (step.to_stage, step.on) == (Stage.RUNNING_OPERATION, date(2027, 1, 1))
    one_open = tasks[:-1] + (replace(tasks[-1], done_on=None),)
    assert machine.next_transition(replace(s, tasks=one_open), date(2027, 1, 4)) is None


def test_running_operation_starts_on_the_day_setup_is_done_when_that_is_late():
    tasks = tuple(TaskView(i, t.key, Stage.SYSTEM_SETUP, t.title, True, None, None,
                           date(2027, 1, 12)) for i, t in
                  enumerate(STAGE_RULES[Stage.SYSTEM_SETUP].tasks))
    s = state(Stage.SYSTEM_SETUP, entered=date(2026, 6, 1), terms=TERMS, tasks=tasks)
    assert machine.next_transition(s, date(2027, 1, 12)).on == date(2027, 1, 12)


def test_setup_tasks_fall_due_ten_working_days_before_the_start():
    planned = machine.plan_stage_tasks(Stage.SYSTEM_SETUP, date(2026, 6, 1), TERMS, CAL)
    # 1 Jan 2027 is a holiday; counting back ten working days skips 24-26 Dec and weekends:
    # 31, 30, 29, 28, 23, 22, 21, 18, 17, 16 December.
    assert {p.due_on for p in planned} == {date(2026, 12, 16)}
    assert {p.responsible for p in planned} == {Party.MUNICIPALITY, Party.COUNTY}
    assert len(planned) == 7 and all(p.mandatory for p in planned)


def test_task_due_dates_never_fall_on_a_holiday():
    # Opened on 2 March 2027 + 21 days = 23 March, + 35 = 6 April (after Easter Monday 29 March)
    planned = machine.plan_stage_tasks(Stage.FIRST_CONTACT, date(2027, 3, 4), None, CAL)
    for p in planned:
        assert CAL.is_working_day(p.due_on), p
    # 4 March + 21 days = 25 March 2027, Maundy Thursday -> next working day is 30 March.
    assert planned[0].due_on == date(2027, 3, 30)


def test_configured_due_days_override_the_defaults():
    planned = machine.plan_stage_tasks(Stage.FIRST_CONTACT, date(2026, 3, 2), None, CAL,
                                       {"first_contact.meeting": 7})
    assert planned[0].due_on == date(2026, 3, 9)


def test_a_held_case_takes_no_facts_and_resume_says_how_far_deadlines_move():
    s = state(status=CaseStatus.ON_HOLD, on_hold_since=date(2026, 4, 1))
    with pytest.raises(Conflict, match="satt på vent"):
        machine.record_fact(s, FactInput(FactKind.MEETING_HELD, date(2026, 4, 2)), TODAY)
    event, days = machine.resume(s, date(2026, 4, 15), TODAY)
    assert days == 14 and event.kind == "case_resumed"
    assert machine.shift_due(date(2026, 4, 10), days, CAL) == date(2026, 4, 24)


def test_closed_cases_refuse_everything():
    s = state(status=CaseStatus.WITHDRAWN, closed_on=date(2026, 4, 1))
    with pytest.raises(Conflict, match="avsluttet"):
        machine.record_fact(s, FactInput(FactKind.MEETING_HELD, date(2026, 4, 2)), TODAY)
    with pytest.raises(Conflict):
        machine.hold(s, date(2026, 4, 2), TODAY, None)
    with pytest.raises(Conflict):
        machine.withdraw(s, date(2026, 4, 2), TODAY, None)


def test_a_second_open_case_is_refused():
    with pytest.raises(Conflict, match="allerede en åpen sak"):
        machine.open_case(municipality="Rødøy", opened_on=TODAY, today=TODAY, has_open_case=True)


def test_agreement_end_completes_the_case():
    s = state(Stage.RUNNING_OPERATION, entered=date(2027, 1, 1), terms=TERMS)
    assert machine.agreement_ended(s, date(2029, 12, 31)) is None
    assert machine.agreement_ended(s, date(2030, 1, 1)).occurred_on == date(2029, 12, 31)


def test_terms_end_and_notice_deadline():
    assert TERMS.end_date == date(2029, 12, 31)
    assert TERMS.notice_deadline == date(2029, 6, 30)
