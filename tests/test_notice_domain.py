"""Notice (oppsigelse) of an automatically renewed agreement, in the domain: the rule for
the end date on both sides of the notice deadline, the fact's guards, and what the case
does after it (ends, renews no more, plans no duties past the end). Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from avtaleflyt.domain.agreement import Terms, end_after_notice, notice_deadline_for
from avtaleflyt.domain.calendar import WorkingCalendar
from avtaleflyt.domain.duties import DutyRules, plan_duties
from avtaleflyt.domain.errors import Conflict, InvalidInput
from avtaleflyt.domain.machine import (
    CaseState,
    FactInput,
    RecordedFact,
    agreement_ended,
    agreement_renewals,
    record_fact,
)
from avtaleflyt.domain.facts import FactKind
from avtaleflyt.domain.stages import CaseStatus, Party, Stage

CAL = WorkingCalendar()


def _terms(start, years=1, notice=3, renewal="auto"):
    return Terms(start_date=start, years=years, notice_months=notice, yearly_price=120000,
                 position_share=Decimal(20), site_visits_per_year=4, renewal=renewal)


def _state(terms, stage=Stage.RUNNING_OPERATION, facts=()):
    return CaseState(municipality="Rødøy", stage=stage, status=CaseStatus.ACTIVE,
                     opened_on=date(2026, 9, 1), stage_entered_on=terms.start_date,
                     facts=tuple(facts), terms=terms)


def _notice(on, party=Party.MUNICIPALITY):
    return FactInput(FactKind.NOTICE_GIVEN, on, party=party)


# --- the rule ---------------------------------------------------------------------------


def test_notice_on_the_deadline_ends_this_period_and_a_day_later_the_next():
    t = _terms(date(2027, 1, 1))  # periods of a year; deadline 30.09.2027, a Thursday
    assert notice_deadline_for(date(2027, 12, 31), 3, CAL) == date(2027, 9, 30)
    assert t.ends_after_notice(date(2027, 3, 1), CAL) == date(2027, 12, 31)
    assert t.ends_after_notice(date(2027, 9, 30), CAL) == date(2027, 12, 31)
    assert t.ends_after_notice(date(2027, 10, 1), CAL) == date(2028, 12, 31)
    # In the second period its own deadline counts (30.09.2028 is a Saturday → 29.09).
    assert t.ends_after_notice(date(2028, 9, 29), CAL) == date(2028, 12, 31)
    assert t.ends_after_notice(date(2028, 9, 30), CAL) == date(2029, 12, 31)


def test_a_deadline_on_a_day_off_is_the_previous_working_day():
    # End 30.09.2029 − 3 months = Saturday 30.06.2029 → the deadline is Friday 29.06.2029:
    # notice that Friday ends the agreement on 30.09.2029; on the Saturday it is late,
    # and the agreement runs one more period of three years.
    t = _terms(date(2026, 10, 1), years=3)
    assert t.end_date == date(2029, 9, 30)
    assert t.ends_after_notice(date(2029, 6, 29), CAL) == date(2029, 9, 30)
    assert t.ends_after_notice(date(2029, 6, 30), CAL) == date(2032, 9, 30)
    assert end_after_notice(t.periods(date(2029, 6, 30)), 36, 3, date(2029, 7, 2),
                            CAL) == date(2032, 9, 30)


# --- the fact ---------------------------------------------------------------------------


def test_notice_is_recorded_with_its_end_date_and_party():
    out = record_fact(_state(_terms(date(2027, 1, 1))), _notice(date(2027, 10, 1)),
                      date(2027, 10, 2), CAL)
    (event,) = out.events
    assert event.kind == "notice_given" and event.occurred_on == date(2027, 10, 1)
    assert event.details == {"party": "municipality", "ends_on": "2028-12-31"}


def test_a_fixed_term_agreement_cannot_be_given_notice():
    with pytest.raises(Conflict) as e:
        record_fact(_state(_terms(date(2027, 1, 1), renewal="none")),
                    _notice(date(2027, 3, 1)), date(2027, 3, 1), CAL)
    assert e.value.field == "renewal"
    assert "fast periode" in e.value.message and "31. desember 2027" in e.value.message


def test_notice_needs_running_operation_a_party_and_a_date_not_in_the_future():
    t = _terms(date(2027, 1, 1))
    with pytest.raises(Conflict, match="hører til fasen «Drift»"):
        record_fact(_state(t, stage=Stage.SYSTEM_SETUP), _notice(date(2027, 3, 1)),
                    date(2027, 3, 1), CAL)
    with pytest.raises(InvalidInput) as e:
        record_fact(_state(t), FactInput(FactKind.NOTICE_GIVEN, date(2027, 3, 1)),
                    date(2027, 3, 1), CAL)
    assert e.value.field == "party"
    with pytest.raises(InvalidInput) as e:
        record_fact(_state(t), _notice(date(2027, 3, 2)), date(2027, 3, 1), CAL)
    assert e.value.field == "date"
    held = replace(_state(t), status=CaseStatus.ON_HOLD)
    with pytest.raises(Conflict, match="satt på vent"):
        record_fact(held, _notice(date(2027, 3, 1)), date(2027, 3, 1), CAL)


def test_notice_twice_is_idempotent_when_equal_and_refused_when_not():
    t = _terms(date(2027, 1, 1))
    given = RecordedFact(FactKind.NOTICE_GIVEN, date(2027, 3, 1),
                         {"party": "municipality", "ends_on": "2027-12-31"})
    state = _state(t, facts=[given])
    assert record_fact(state, _notice(date(2027, 3, 1)), date(2027, 4, 1), CAL).unchanged
    with pytest.raises(Conflict, match="allerede registrert: Sagt opp 1. mars 2027 av "
                                       "kommunen; avtalen slutter 31. desember 2027"):
        record_fact(state, _notice(date(2027, 3, 2), Party.COUNTY), date(2027, 4, 1), CAL)


def test_notice_recorded_so_late_that_the_agreement_has_renewed_is_refused():
    # Given 1.3.2027 it ended 31.12.2027; recorded in February 2028 the next period began.
    with pytest.raises(Conflict) as e:
        record_fact(_state(_terms(date(2027, 1, 1))), _notice(date(2027, 3, 1)),
                    date(2028, 2, 1), CAL)
    assert e.value.field == "date" and "1. januar 2028" in e.value.message


# --- after notice -----------------------------------------------------------------------


def test_after_notice_the_case_ends_and_renews_no_more():
    t = _terms(date(2027, 1, 1))
    given = RecordedFact(FactKind.NOTICE_GIVEN, date(2027, 10, 1),
                         {"party": "county", "ends_on": "2028-12-31"})
    state = _state(t, facts=[given])
    assert agreement_ended(state, date(2028, 12, 31)) is None
    ended = agreement_ended(state, date(2029, 1, 1))
    assert (ended.kind, ended.occurred_on) == ("agreement_ended", date(2028, 12, 31))
    assert ended.details == {"end_date": "2028-12-31", "by_notice": True}
    # The period after notice was given comes; the one after its end does not.
    starts = [e.occurred_on for e in agreement_renewals(state, date(2029, 3, 1), set())]
    assert starts == [date(2028, 1, 1)]
    # Without notice it would have renewed twice by then, and not ended.
    assert len(agreement_renewals(_state(t), date(2029, 3, 1), set())) == 2
    assert agreement_ended(_state(t), date(2029, 3, 1)) is None


def test_duties_stop_at_the_end_after_notice():
    t = _terms(date(2027, 1, 1))
    plan = {d.key: d for d in plan_duties(t, entered_on=t.start_date, today=date(2027, 10, 1),
                                          rules=DutyRules(), cal=CAL)}
    assert "duty.renewal.2027-09-30" in plan and "duty.visit.2028-1" in plan
    after = {d.key: d for d in plan_duties(t, entered_on=t.start_date,
                                           today=date(2027, 10, 1), rules=DutyRules(),
                                           cal=CAL, ends_on=date(2027, 12, 31))}
    assert "duty.visit.2027-4" in after and "duty.followup.2027-12" in after
    # Only the last month's report from local staff is due after the end (5 January).
    assert [k for k, d in after.items() if d.due_on > date(2027, 12, 31)] == [
        "duty.local_report.2027-12"]
    assert "duty.visit.2028-1" not in after and "duty.followup.2028-01" not in after
    assert "duty.renewal.2027-09-30" not in after  # the period that ends: nothing to decide
    assert "sluttevaluering" in after["duty.evaluation.end-2027-12-31"].title
    # Notice after the deadline: the next period's duties, and no renewal after it.
    later = {d.key for d in plan_duties(t, entered_on=t.start_date, today=date(2028, 12, 1),
                                        rules=DutyRules(), cal=CAL,
                                        ends_on=date(2028, 12, 31))}
    assert "duty.visit.2028-4" in later and "duty.renewal.2028-09-30" not in later
    assert "duty.renewal.2027-09-30" in later
    assert not [k for k in later if "2029" in k]
