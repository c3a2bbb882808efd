from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

import pytest

from avtaleflyt.domain.calendar import (
    OSLO,
    WorkingCalendar,
    default_calendar,
    oslo_date,
    oslo_datetime,
)

cal = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 1, 1), "Første nyttårsdag"),
        (date(2027, 3, 25), "Skjærtorsdag"),
        (date(2027, 3, 26), "Langfredag"),
        (date(2027, 3, 28), "Første påskedag"),
        (date(2027, 3, 29), "Andre påskedag"),
        (date(2027, 5, 6), "Kristi himmelfartsdag"),
        (date(2026, 5, 1), "Arbeidernes dag"),
        (date(2026, 5, 17), "Grunnlovsdag"),
        (date(2026, 5, 25), "Andre pinsedag"),
        (date(2026, 12, 24), "Julaften"),
        (date(2026, 12, 25), "Første juledag"),
        (date(2026, 12, 26), "Andre juledag"),
    ],
)
def test_holidays_have_norwegian_names_and_are_not_working_days(day: date, name: str) -> None:
    assert cal.holiday_name(day) == name
    assert not cal.is_working_day(day)


def test_whit_monday_2027_falls_on_constitution_day_and_both_names_are_shown() -> None:
    assert cal.holiday_name(date(2027, 5, 17)) == "Andre pinsedag og Grunnlovsdag"
    assert not cal.is_working_day(date(2027, 5, 17))
    assert cal.is_working_day(date(2027, 5, 18))


def test_plain_days_have_no_name() -> None:
    assert cal.holiday_name(date(2027, 3, 27)) is None  # Easter Saturday: a plain Saturday
    assert cal.holiday_name(date(2027, 3, 24)) is None
    assert cal.is_working_day(date(2027, 3, 24))
    assert not cal.is_working_day(date(2027, 3, 27))


def test_christmas_2026() -> None:
    # 24 Dec 2026 is a Thursday (closed), 25 a Friday, 26 a Saturday, 27 a Sunday.
    assert cal.next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert cal.working_days_between(date(2026, 12, 23), date(2026, 12, 28)) == 1


def test_new_year_2027() -> None:
    # 31 Dec 2026 is a working day by default; 1 Jan 2027 is a Friday holiday.
    assert cal.is_working_day(date(2026, 12, 31))
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_christmas_eve_can_be_a_working_day_and_other_days_can_close() -> None:
    open_office = WorkingCalendar(closed_days=(), extra_dates=[date(2027, 8, 16)])
    assert open_office.is_working_day(date(2026, 12, 24))
    assert open_office.holiday_name(date(2026, 12, 24)) is None
    assert not open_office.is_working_day(date(2027, 8, 16))
    assert open_office.holiday_name(date(2027, 8, 16)) == "Stengt"

    new_years_eve = WorkingCalendar(closed_days=[(12, 24), (12, 31)])
    assert new_years_eve.holiday_name(date(2026, 12, 31)) == "Nyttårsaften"


def test_leap_day_as_closed_day_is_skipped_in_other_years() -> None:
    leap = WorkingCalendar(closed_days=[(2, 29)])
    assert not leap.is_working_day(date(2028, 2, 29))
    assert leap.is_working_day(date(2027, 3, 1))


def test_ten_working_days_before_easter_2027() -> None:
    # Counting back from Monday 5 April 2027:
    #   Fri 2 Apr (1), Thu 1 Apr (2), Wed 31 Mar (3), Tue 30 Mar (4),
    #   Mon 29 Mar Easter Monday, Fri 26 Good Friday, Thu 25 Maundy Thursday: skipped,
    #   Wed 24 (5), Tue 23 (6), Mon 22 (7), Fri 19 (8), Thu 18 (9), Wed 17 Mar (10).
    assert cal.add_working_days(date(2027, 4, 5), -10) == date(2027, 3, 17)
    assert cal.working_days_between(date(2027, 3, 17), date(2027, 4, 5)) == 10
    assert cal.working_days_between(date(2027, 4, 5), date(2027, 3, 17)) == -10


def test_ascension_day_2027_is_skipped() -> None:
    assert cal.add_working_days(date(2027, 5, 5), 1) == date(2027, 5, 7)


def test_zero_days_rolls_forward_and_days_off_do_not_count_as_start() -> None:
    assert cal.add_working_days(date(2027, 3, 24), 0) == date(2027, 3, 24)
    assert cal.add_working_days(date(2027, 3, 25), 0) == date(2027, 3, 30)
    assert cal.roll_forward(date(2027, 3, 25)) == date(2027, 3, 30)
    assert cal.add_working_days(date(2027, 3, 27), 1) == date(2027, 3, 30)
    assert cal.add_working_days(date(2027, 3, 27), -1) == date(2027, 3, 24)


def test_next_and_previous_working_day() -> None:
    wed = date(2027, 3, 24)
    assert cal.next_working_day(wed) == wed
    assert cal.next_working_day(wed, include_self=False) == date(2027, 3, 30)
    assert cal.previous_working_day(date(2027, 3, 30)) == date(2027, 3, 30)
    assert cal.previous_working_day(date(2027, 3, 30), include_self=False) == wed
    assert cal.previous_working_day(date(2027, 3, 28)) == wed


def test_working_days_between_is_half_open() -> None:
    mon, fri = date(2027, 3, 1), date(2027, 3, 5)
    assert cal.working_days_between(mon, mon) == 0
    assert cal.working_days_between(mon, fri) == 4
    assert cal.working_days_between(date(2027, 3, 6), date(2027, 3, 7)) == 0  # a weekend


def test_a_year_has_the_expected_number_of_working_days() -> None:
    # 2027: 261 weekdays, minus weekday holidays: 1 Jan, 25, 26, 29 Mar, 6 May, 17 May,
    # 24 Dec (Friday). 1 May, 25 and 26 Dec fall on a weekend. 261 - 7 = 254.
    assert cal.working_days_between(date(2026, 12, 31), date(2027, 12, 31)) == 254


def test_round_trips_agree_with_counting_over_many_years() -> None:
    rng = random.Random(2027)
    for _ in range(300):
        start = cal.roll_forward(date(1990, 1, 1) + timedelta(days=rng.randrange(40_000)))
        n = rng.randrange(-400, 400)
        moved = cal.add_working_days(start, n)
        assert cal.is_working_day(moved)
        assert cal.add_working_days(moved, -n) == start
        assert cal.working_days_between(start, moved) == n


def test_far_years_work_without_configuration() -> None:
    assert cal.holiday_name(date(1990, 4, 13)) == "Langfredag"
    assert cal.holiday_name(date(2100, 12, 25)) == "Første juledag"
    assert cal.working_days_between(date(1990, 1, 1), date(2100, 12, 31)) > 27_000


def test_datetime_is_refused_where_a_date_is_expected() -> None:
    with pytest.raises(TypeError):
        cal.is_working_day(datetime(2027, 3, 25, 12, 0))  # type: ignore[arg-type]


def test_default_calendar_is_shared() -> None:
    assert default_calendar() is default_calendar()
    assert not default_calendar().is_working_day(date(2026, 12, 24))


def test_oslo_date_uses_norwegian_wall_clock() -> None:
    # 22:30 UTC on 30 October 2027 is 00:30 on 31 October in Oslo (summer time, +02).
    assert oslo_date(datetime(2027, 10, 30, 22, 30, tzinfo=timezone.utc)) == date(2027, 10, 31)
    # 23:30 UTC in January is 00:30 the next day (+01).
    assert oslo_date(datetime(2027, 1, 4, 23, 30, tzinfo=timezone.utc)) == date(2027, 1, 5)
    with pytest.raises(ValueError):
        oslo_date(datetime(2027, 1, 4, 23, 30))


@pytest.mark.parametrize(
    ("day", "offset_hours"),
    [(date(2027, 3, 27), 1), (date(2027, 3, 28), 2), (date(2027, 10, 30), 2), (date(2027, 10, 31), 1)],
)
def test_oslo_datetime_keeps_wall_clock_across_dst(day: date, offset_hours: int) -> None:
    at_seven = oslo_datetime(day, time(7, 0))
    assert (at_seven.date(), at_seven.time()) == (day, time(7, 0))
    assert at_seven.utcoffset() == timedelta(hours=offset_hours)
    assert at_seven.tzinfo is OSLO


def test_oslo_datetime_moves_a_skipped_time_forward() -> None:
    skipped = oslo_datetime(date(2027, 3, 28), time(2, 30))
    assert skipped.time() == time(3, 30)
    assert skipped.utcoffset() == timedelta(hours=2)
    with pytest.raises(ValueError):
        oslo_datetime(date(2027, 3, 28), time(7, 0, tzinfo=timezone.utc))
