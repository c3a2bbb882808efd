"""Deadlines on the Norwegian calendar, meeting picking and which reminders are owed:
pure functions, plain data, no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from avtaleflyt.config import load_config
from avtaleflyt.domain import deadlines as dl
from avtaleflyt.domain.agreement import Terms
from avtaleflyt.domain.calendar import WorkingCalendar
from avtaleflyt.domain.duties import DutyRules, plan_duties
from avtaleflyt.domain.errors import InvalidInput

CAL = WorkingCalendar()


@pytest.mark.parametrize("meeting, lead, expected", [
    # Easter 2027: Maundy Thursday 25 March, Good Friday 26, Easter Monday 29 March.
    (date(2027, 4, 6), 5, date(2027, 3, 30)),
    (date(2027, 4, 1), 3, date(2027, 3, 24)),
    (date(2027, 3, 30), 1, date(2027, 3, 24)),
    # Ascension Day 6 May 2027; 17 May 2027 is both Constitution Day and Whit Monday.
    (date(2027, 5, 18), 2, date(2027, 5, 13)),
    (date(2027, 5, 7), 1, date(2027, 5, 5)),
    (date(2027, 6, 17), 15, date(2027, 5, 27)),
    # Christmas: 24 (closed), 25, 26 December; 1 January.
    (date(2027, 12, 27), 1, date(2027, 12, 23)),
    (date(2028, 1, 3), 3, date(2027, 12, 29)),
    (date(2026, 12, 28), 2, date(2026, 12, 22)),
])
def test_delivery_deadline_skips_holidays(meeting, lead, expected):
    got = dl.delivery_deadline(meeting, lead, CAL)
    assert got == expected
    assert CAL.is_working_day(got)
    assert CAL.working_days_between(got, meeting) == lead


def test_next_reachable_meeting_skips_meetings_whose_deadline_has_passed():
    meetings = [date(2027, 3, 18), date(2027, 6, 17), date(2027, 9, 23)]
    assert dl.next_reachable(meetings, date(2027, 2, 25), 15, CAL) == \
        (date(2027, 3, 18), date(2027, 2, 25))
    assert dl.next_reachable(meetings, date(2027, 2, 26), 15, CAL) == \
        (date(2027, 6, 17), date(2027, 5, 27))
    assert dl.next_reachable(meetings, date(2027, 9, 22), 15, CAL) is None


def _tasks(saks=(None, None), council=(None, None), county=(None, None)):
    return {k: dl.OpenTask(k, due, done) for k, (due, done) in
            ((dl.SAKSFRAMLEGG, saks), (dl.COUNCIL, council), (dl.COUNTY, county))}


def test_schedule_plans_moves_and_postpones():
    council = [date(2027, 3, 18), date(2027, 6, 17)]
    county = [date(2027, 4, 20), date(2027, 10, 12)]
    plan = dl.schedule_political(tasks=_tasks(), council_meetings=council,
                                 county_meetings=county, postponed={}, today=date(2027, 1, 6),
                                 lead_working_days=15, cal=CAL)
    assert {(c.key, c.due_on, c.reason) for c in plan} == {
        (dl.SAKSFRAMLEGG, date(2027, 2, 25), "planned"),
        (dl.COUNCIL, date(2027, 3, 18), "planned"),
        (dl.COUNTY, date(2027, 4, 20), "planned")}
    # Case document not delivered by 25 February: both move to June.
    tasks = _tasks((date(2027, 2, 25), None), (date(2027, 3, 18), None),
                   (date(2027, 4, 20), None))
    for today, moved in ((date(2027, 2, 25), False), (date(2027, 2, 26), True)):
        changes = dl.schedule_political(tasks=tasks, council_meetings=council,
                                        county_meetings=county, postponed={}, today=today,
                                        lead_working_days=15, cal=CAL)
        assert bool(changes) is moved
    assert {(c.key, c.due_on) for c in changes} == {(dl.SAKSFRAMLEGG, date(2027, 5, 27)),
                                                   (dl.COUNCIL, date(2027, 6, 17))}
    # Delivered, then the council postponed on 18 March: the decision moves to June.
    tasks = _tasks((date(2027, 2, 25), date(2027, 2, 20)), (date(2027, 3, 18), None),
                   (date(2027, 4, 20), None))
    changes = dl.schedule_political(tasks=tasks, council_meetings=council,
                                    county_meetings=county,
                                    postponed={dl.COUNCIL: date(2027, 3, 18),
                                               dl.COUNTY: date(2027, 4, 20)},
                                    today=date(2027, 4, 21), lead_working_days=15, cal=CAL)
    assert {(c.key, c.due_on, c.reason) for c in changes} == {
        (dl.COUNCIL, date(2027, 6, 17), "postponed"),
        (dl.COUNTY, date(2027, 10, 12), "postponed")}


def test_a_meeting_that_passed_without_a_recorded_decision_moves_to_the_next_one():
    council = [date(2027, 3, 18), date(2027, 6, 17)]
    county = [date(2027, 4, 20), date(2027, 10, 12)]
    tasks = _tasks((date(2027, 2, 25), date(2027, 2, 20)), (date(2027, 3, 18), None),
                   (date(2027, 4, 20), None))
    on_the_day = dl.schedule_political(tasks=tasks, council_meetings=council,
                                       county_meetings=county, postponed={},
                                       today=date(2027, 4, 20), lead_working_days=15, cal=CAL)
    # 20 April: the council's meeting has passed, the county meets today.
    assert {(c.key, c.due_on, c.reason) for c in on_the_day} == {
        (dl.COUNCIL, date(2027, 6, 17), "missed")}
    day_after = dl.schedule_political(tasks=tasks, council_meetings=council,
                                      county_meetings=county, postponed={},
                                      today=date(2027, 4, 21), lead_working_days=15, cal=CAL)
    assert (dl.COUNTY, date(2027, 10, 12), "missed") in {
        (c.key, c.due_on, c.reason) for c in day_after}
    # No later meeting in the plan: no guessed date.
    none_left = dl.schedule_political(tasks=tasks, council_meetings=council[:1],
                                      county_meetings=county[:1], postponed={},
                                      today=date(2027, 4, 21), lead_working_days=15, cal=CAL)
    assert {(c.key, c.due_on) for c in none_left} == {(dl.COUNCIL, None), (dl.COUNTY, None)}


def test_no_meeting_plan_means_no_guessed_date():
    assert dl.schedule_political(tasks=_tasks(), council_meetings=[], county_meetings=[],
                                 postponed={}, today=date(2027, 1, 6), lead_working_days=15,
                                 cal=CAL) == []


def _owed(due, today, key="x"):
    return [(r.kind, r.step) for r in dl.reminders_due(
        dl.DueTask(1, key, due), today, CAL, upcoming_working_days=(7, 1),
        escalate_after_working_days=5, renewal_days_before=(90, 30, 7))]


def test_reminders_owed_across_easter():
    due = date(2027, 3, 31)  # Wednesday after Easter
    assert CAL.add_working_days(due, -7) == date(2027, 3, 17)
    assert CAL.add_working_days(due, -1) == date(2027, 3, 30)
    assert _owed(due, date(2027, 3, 16)) == []
    assert _owed(due, date(2027, 3, 17)) == [("upcoming", 7)]
    assert _owed(due, date(2027, 3, 29)) == [("upcoming", 7)]  # Easter Monday: still 7
    assert _owed(due, date(2027, 3, 30)) == [("upcoming", 1)]
    assert _owed(due, due) == [("due", 0)]
    assert _owed(due, date(2027, 4, 1)) == [("overdue", 0)]
    assert _owed(due, date(2027, 4, 7)) == [("overdue", 0), ("escalation", 5)]


def test_renewal_alerts_count_calendar_days():
    due = date(2028, 9, 29)
    key = "duty.renewal.2028-09-30"
    assert _owed(due, date(2028, 7, 1), key) == [("upcoming", 90)]
    assert _owed(due, date(2028, 8, 30), key) == [("upcoming", 30)]
    assert _owed(due, date(2028, 9, 22), key) == [("upcoming", 7)]


TERMS = Terms(start_date=date(2027, 1, 1), years=3, notice_months=6, yearly_price=120_000,
              position_share=Decimal(20), site_visits_per_year=4)


def test_duties_are_on_working_days_within_the_horizon_with_stable_keys():
    rules = DutyRules(statistics_deadlines={2027: date(2027, 3, 1), 2028: date(2028, 3, 3)})
    first = plan_duties(TERMS, entered_on=date(2027, 1, 1), today=date(2027, 1, 4),
                        rules=rules, cal=CAL)
    keys = [p.key for p in first]
    assert len(keys) == len(set(keys))
    assert all(CAL.is_working_day(p.due_on) for p in first)
    assert sum(k.startswith("duty.followup.") for k in keys) == 12
    assert "duty.statistics.2027" in keys and "duty.statistics.2028" not in keys
    assert sum(k.startswith("duty.visit.2027-") for k in keys) == 4
    renewal = [p for p in first if p.key.startswith("duty.renewal.")]
    assert renewal[0].key == "duty.renewal.2029-06-30"  # end 31.12.2029 minus 6 months
    assert renewal[0].due_on == date(2029, 6, 29)  # 30 June 2029 is a Saturday
    later = plan_duties(TERMS, entered_on=date(2027, 1, 1), today=date(2027, 3, 5),
                        rules=rules, cal=CAL)
    assert {p.key for p in first} < {p.key for p in later}
    stats = {p.key: p.due_on for p in later}
    assert stats["duty.statistics.2028"] == date(2028, 3, 3)
    # New Year's Eve is an ordinary working day unless configured closed.
    dec = {p.key: p.due_on for p in first}["duty.followup.2027-12"]
    assert dec == date(2027, 12, 31)
    assert all(p.due_on <= TERMS.end_date for p in later)


def test_malformed_reminder_config_fails_fast(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    for text, field in (("[reminders]\nupcoming_working_days = 7\n",
                         "reminders.upcoming_working_days"),
                        ("[statistics.deadlines]\n\"2027\" = \"2028-03-01\"\n",
                         "statistics.deadlines.2027"),
                        ("[reminders]\nescalate_after = 5\n", "reminders.escalate_after")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInput) as e:
            load_config(bad)
        assert e.value.field == field
    good = tmp_path / "good.toml"
    good.write_text("[statistics.deadlines]\n\"2030\" = \"2030-02-28\"\n", encoding="utf-8")
    assert load_config(good).reminders.statistics_deadlines[2030] == date(2030, 2, 28)
