"""Issue 14, pure domain: the saksgang, meeting-plan changes, implausible meetings, terms in
months with renewal none|auto, 29 February, the notice rule, visits and the municipality's
duties. Each test fails on the code before this change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from avtaleflyt.domain import deadlines as dl
from avtaleflyt.domain.agreement import Terms, notice_deadline_for, period_end
from avtaleflyt.domain.calendar import WorkingCalendar
from avtaleflyt.domain.duties import DutyRules, plan_duties, visit_dates
from avtaleflyt.domain.machine import CaseState, agreement_ended, agreement_renewals
from avtaleflyt.domain.meetingplan import meeting_warning
from avtaleflyt.domain.stages import CaseStatus, Party, Stage

CAL = WorkingCalendar()
LEAD = 15


def _plan(tasks, council, today, first=None, county=()):
    return {c.key: c for c in dl.schedule_political(
        tasks=tasks, council_meetings=council, county_meetings=list(county), postponed={},
        today=today, lead_working_days=LEAD, cal=CAL, first_body_meetings=first)}


def _open(saks_due=None, council_due=None, saks_done=None):
    return {dl.SAKSFRAMLEGG: dl.OpenTask(dl.SAKSFRAMLEGG, saks_due, saks_done),
            dl.COUNCIL: dl.OpenTask(dl.COUNCIL, council_due, None)}


# --- the saksgang -------------------------------------------------------------------


def test_saksframlegg_is_due_before_the_first_body_in_the_saksgang():
    # The example: formannskap 04.06, kommunestyre 18.06 → due 12.05 (15 working
    # days before 04.06, over Kristi himmelfartsdag 14.05 and 2. pinsedag 25.05).
    changes = _plan(_open(), [date(2026, 6, 18)], date(2026, 4, 20),
                    first=[date(2026, 5, 7), date(2026, 6, 4)])
    assert changes[dl.SAKSFRAMLEGG].due_on == date(2026, 5, 12)
    assert changes[dl.COUNCIL].due_on == date(2026, 6, 18)  # decided at the last body
    # Only the kommunestyre in the saksgang: lead time before it, as before (28.05).
    only_council = _plan(_open(), [date(2026, 6, 18)], date(2026, 4, 20))
    assert only_council[dl.SAKSFRAMLEGG].due_on == date(2026, 5, 28)


def test_when_the_first_body_is_out_of_reach_the_case_goes_to_the_next_council_meeting():
    changes = _plan(_open(), [date(2026, 6, 18), date(2026, 9, 24)], date(2026, 5, 13),
                    first=[date(2026, 6, 4), date(2026, 9, 10)])
    assert changes[dl.COUNCIL].due_on == date(2026, 9, 24)
    assert changes[dl.SAKSFRAMLEGG].due_on == CAL.add_working_days(date(2026, 9, 10), -LEAD)


# --- meetings that move or are cancelled ---------------------------------------------


def test_a_meeting_moved_earlier_moves_the_saksframlegg_deadline_earlier():
    tasks = _open(date(2026, 5, 28), date(2026, 6, 18))
    changes = _plan(tasks, [date(2026, 6, 11)], date(2026, 5, 4))
    assert changes[dl.COUNCIL].due_on == date(2026, 6, 11)
    assert changes[dl.SAKSFRAMLEGG].due_on == CAL.add_working_days(date(2026, 6, 11), -LEAD)
    assert changes[dl.SAKSFRAMLEGG].due_on < date(2026, 5, 28)
    assert {c.reason for c in changes.values()} == {"replanned"}


def test_a_first_body_meeting_moved_earlier_moves_the_deadline_too():
    tasks = _open(date(2026, 5, 12), date(2026, 6, 18))
    changes = _plan(tasks, [date(2026, 6, 18)], date(2026, 4, 20), first=[date(2026, 6, 1)])
    assert changes[dl.SAKSFRAMLEGG].due_on == CAL.add_working_days(date(2026, 6, 1), -LEAD)
    assert dl.COUNCIL not in changes  # still the same council meeting


def test_a_meeting_moved_later_is_not_a_meeting_without_a_decision():
    # Saksframlegg delivered; the 04.06 council meeting moves to 11.06. On 05.06 the old
    # code said "the meeting passed without a recorded decision".
    tasks = _open(date(2026, 5, 13), date(2026, 6, 4), saks_done=date(2026, 5, 10))
    changes = _plan(tasks, [date(2026, 6, 11), date(2026, 9, 24)], date(2026, 6, 5))
    assert changes[dl.COUNCIL].due_on == date(2026, 6, 11)
    assert changes[dl.COUNCIL].reason == "replanned"


def test_a_cancelled_meeting_sends_the_decision_to_the_next_one():
    tasks = _open(date(2026, 5, 13), date(2026, 6, 4), saks_done=date(2026, 5, 10))
    changes = _plan(tasks, [date(2026, 9, 24)], date(2026, 5, 20))
    assert changes[dl.COUNCIL].due_on == date(2026, 9, 24)


def test_an_unchanged_plan_changes_nothing():
    tasks = _open(date(2026, 5, 12), date(2026, 6, 18))
    assert _plan(tasks, [date(2026, 6, 18)], date(2026, 4, 20), first=[date(2026, 6, 4)]) == {}


# --- implausible meetings -------------------------------------------------------------


def test_meetings_on_holidays_weekends_and_in_july_get_a_warning_naming_the_day():
    holiday = meeting_warning(date(2027, 5, 17), CAL, "kommunestyre")
    assert "Grunnlovsdag" in holiday and "mandag 17. mai 2027" in holiday
    assert "kommunestyret" in holiday
    saturday = meeting_warning(date(2027, 6, 12), CAL, "formannskap")
    assert "lørdag" in saturday and "12. juni 2027" in saturday
    july = meeting_warning(date(2027, 7, 8), CAL, "kommunestyre")
    assert "juli" in july and "torsdag 8. juli 2027" in july
    assert meeting_warning(date(2027, 6, 17), CAL, "kommunestyre") is None


# --- terms ------------------------------------------------------------------------------


def _terms(start, years=1, months=0, notice=3, visits=4, renewal="none"):
    return Terms(start_date=start, years=years, notice_months=notice, yearly_price=120000,
                 position_share=Decimal(20), site_visits_per_year=visits, months=months,
                 renewal=renewal)


def test_a_pilot_in_months_ends_as_the_seed_pilot():
    # Rødøy's pilot: 1.9.–31.12.2020, four months.
    assert _terms(date(2020, 9, 1), years=0, months=4, notice=0).end_date == date(2020, 12, 31)


def test_one_year_from_29_february_ends_on_28_february():
    assert _terms(date(2028, 2, 29)).end_date == date(2029, 2, 28)
    assert _terms(date(2027, 3, 1)).end_date == date(2028, 2, 29)  # the day before 1.3.2028
    assert period_end(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert _terms(date(2027, 1, 1), years=3).end_date == date(2029, 12, 31)


def test_notice_deadlines_on_days_off_move_to_the_previous_working_day():
    # End 30.09.2029 minus 3 months = Saturday 30.06.2029 → Friday 29.06.2029.
    terms = _terms(date(2026, 10, 1), years=3)
    assert terms.end_date == date(2029, 9, 30)
    assert notice_deadline_for(terms.end_date, 3, CAL) == date(2029, 6, 29)
    # 17 May (Grunnlovsdag, a Thursday in 2029) → Wednesday 16 May.
    assert notice_deadline_for(date(2029, 8, 17), 3, CAL) == date(2029, 5, 16)


def test_terms_validate_months_and_renewal():
    import pytest

    from avtaleflyt.domain.errors import InvalidInput

    _terms(date(2027, 1, 1), years=0, months=4, notice=1).validate(set_on=date(2027, 1, 1))
    for bad, field in ((_terms(date(2027, 1, 1), years=0, months=0), "years"),
                       (_terms(date(2027, 1, 1), months=12), "months"),
                       (_terms(date(2027, 1, 1), renewal="maybe"), "renewal"),
                       (_terms(date(2027, 1, 1), years=0, months=3, notice=3),
                        "notice_months")):
        with pytest.raises(InvalidInput) as e:
            bad.validate(set_on=date(2027, 1, 1))
        assert e.value.field == field


def test_site_visits_are_spread_evenly_inside_each_quarter():
    assert visit_dates(date(2027, 1, 1), 12, 4) == [
        date(2027, 3, 31), date(2027, 6, 30), date(2027, 9, 30), date(2027, 12, 31)]
    duties = plan_duties(_terms(date(2027, 1, 1)), entered_on=date(2027, 1, 1),
                         today=date(2027, 1, 1), rules=DutyRules(), cal=CAL)
    visits = sorted(d.due_on for d in duties if d.key.startswith("duty.visit."))
    quarter_ends = [date(2027, 3, 31), date(2027, 6, 30), date(2027, 9, 30),
                    date(2027, 12, 31)]
    assert len(visits) == 4
    for due, end in zip(visits, quarter_ends):
        assert due <= end and due.month in (end.month - 2, end.month - 1, end.month)


def _duties(terms, today):
    return {d.key: d for d in plan_duties(terms, entered_on=terms.start_date, today=today,
                                          rules=DutyRules(), cal=CAL)}


def test_the_municipality_has_duties_in_running_operation():
    duties = _duties(_terms(date(2027, 1, 1)), date(2027, 1, 1))
    report = duties["duty.local_report.2027-03"]
    assert report.responsible is Party.MUNICIPALITY
    assert report.due_on == date(2027, 4, 5)  # fifth of the following month
    stats = duties["duty.statistics_input.2027"]
    assert stats.responsible is Party.MUNICIPALITY
    assert stats.due_on < duties["duty.statistics.2027"].due_on
    assert duties["duty.followup.2027-03"].responsible is Party.COUNTY


def test_an_evaluation_comes_at_the_end_of_a_pilot():
    pilot = _terms(date(2020, 9, 1), years=0, months=4, notice=0, visits=4)
    duties = _duties(pilot, date(2020, 9, 1))
    evaluation = duties["duty.evaluation.end-2020-12-31"]
    assert date(2020, 9, 1) <= evaluation.due_on <= date(2020, 12, 31)
    assert "sluttevaluering" in evaluation.title
    # The pilot's four months get their share of four visits a year: one.
    assert len([k for k in duties if k.startswith("duty.visit.")]) == 1


def test_auto_renewal_begins_a_new_period_instead_of_closing_the_case():
    terms = _terms(date(2027, 1, 1), renewal="auto")
    state = CaseState(municipality="Rødøy", stage=Stage.RUNNING_OPERATION,
                      status=CaseStatus.ACTIVE, opened_on=date(2026, 9, 1),
                      stage_entered_on=date(2027, 1, 1), terms=terms)
    assert agreement_ended(state, date(2028, 1, 2)) is None
    renewed = agreement_renewals(state, date(2028, 1, 2), set())
    assert [(e.kind, e.occurred_on, e.details["end"]) for e in renewed] == [
        ("agreement_renewed", date(2028, 1, 1), "2028-12-31")]
    assert agreement_renewals(state, date(2028, 1, 2), {date(2028, 1, 1)}) == []
    # Before the renewal: an evaluation, and the notice deadline as a duty.
    duties = _duties(terms, date(2027, 6, 1))
    assert "duty.evaluation.end-2027-12-31" in duties
    assert "fornyelse" in duties["duty.evaluation.end-2027-12-31"].title
    assert duties["duty.renewal.2027-09-30"].due_on == date(2027, 9, 30)
    # A fixed term closes the case after the end date, as before.
    fixed = CaseState(municipality="Rødøy", stage=Stage.RUNNING_OPERATION,
                      status=CaseStatus.ACTIVE, opened_on=date(2026, 9, 1),
                      stage_entered_on=date(2027, 1, 1), terms=_terms(date(2027, 1, 1)))
    assert agreement_ended(fixed, date(2028, 1, 1)).kind == "agreement_ended"
    assert agreement_renewals(fixed, date(2028, 1, 2), set()) == []
