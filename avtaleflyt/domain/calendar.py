"""Norwegian working days and Oslo time.

Deadlines in the onboarding pipeline are counted in working days ("10 arbeidsdager før
møtet"), so every module that computes a date must agree on which days count. This module
is that single answer: weekends, the public holidays from the `holidays` package, and the
days most offices close although the law does not say so (Christmas Eve by default).

Everything here is pure: callers pass the date or the clock in; nothing reads "now".
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


OSLO = ZoneInfo("Europe/Oslo")

# Names shown for closed days that are not public holidays. Anything else is just "Stengt".
_CLOSED_DAY_NAMES: dict[tuple[int, int], str] = {
    (12, 24): "Julaften",
    (12, 31): "Nyttårsaften",
}
_CLOSED = "Stengt"
_ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """Which days an office in Norway works.

    Holidays are computed one year at a time, on first use, and kept; a calendar therefore
    answers for any year (1990, 2100, ...) without being told a range up front, and a long
    span costs one `holidays` lookup per year, once.
    """

    def __init__(
        self,
        closed_days: Iterable[tuple[int, int]] = ((12, 24),),
        extra_dates: Iterable[date] = (),
    ) -> None:
        self._closed_days = tuple(closed_days)
        for month, day in self._closed_days:
            # 2000 is a leap year, so (2, 29) is accepted and simply skipped in other years.
            date(2000, month, day)
        self._extra_dates = frozenset(_require_date(d) for d in extra_dates)
        self._names_by_year: dict[int, dict[date, str]] = {}
        self._weekday_closures_by_year: dict[int, list[date]] = {}

    # -- questions about one day -------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        d = _require_date(d)
        return d.weekday() < 5 and d not in self._names(d.year)

    def holiday_name(self, d: date) -> str | None:
        """The Norwegian name of the holiday or closed day, None for working days and plain
        weekends. Two holidays on one day are joined: "Andre pinsedag og Grunnlovsdag"."""
        d = _require_date(d)
        return self._names(d.year).get(d)

    # -- moving between days -----------------------------------------------------------

    def next_working_day(self, d: date, include_self: bool = True) -> date:
        d = _require_date(d)
        if not include_self:
            d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def previous_working_day(self, d: date, include_self: bool = True) -> date:
        d = _require_date(d)
        if not include_self:
            d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def roll_forward(self, d: date) -> date:
        """A deadline that falls on a day off moves to the next working day."""
        return self.next_working_day(d, include_self=True)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after d (before d if n < 0). d itself never counts, so
        adding 1 to a Saturday gives Monday; n == 0 rolls d forward to a working day."""
        d = _require_date(d)
        if n == 0:
            return self.roll_forward(d)
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start, so that
        add_working_days(start, working_days_between(start, end)) lands on end when end
        is a working day. Counted arithmetically, so spans of decades are cheap."""
        start, end = _require_date(start), _require_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        closures = 0
        for year in range(start.year, end.year + 1):
            days = self._weekday_closures(year)
            closures += bisect.bisect_right(days, end) - bisect.bisect_right(days, start)
        return _weekdays_up_to(end) - _weekdays_up_to(start) - closures

    # -- the per-year cache ------------------------------------------------------------

    def _names(self, year: int) -> dict[date, str]:
        names = self._names_by_year.get(year)
        if names is None:
            names = self._build_year(year)
            self._names_by_year[year] = names
        return names

    def _weekday_closures(self, year: int) -> list[date]:
        days = self._weekday_closures_by_year.get(year)
        if days is None:
            days = sorted(d for d in self._names(year) if d.weekday() < 5)
            self._weekday_closures_by_year[year] = days
        return days

    def _build_year(self, year: int) -> dict[date, str]:
        import holidays  # here, not at import: a read-only command never builds a year

        official = holidays.country_holidays("NO", language="no", years=year)
        names = {d: " og ".join(official.get_list(d)) for d in official}
        for month, day in self._closed_days:
            try:
                closed = date(year, month, day)
            except ValueError:  # 29 February outside leap years
                continue
            names.setdefault(closed, _CLOSED_DAY_NAMES.get((month, day), _CLOSED))
        for extra in self._extra_dates:
            if extra.year == year:
                names.setdefault(extra, _CLOSED)
        return names


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The calendar everyone uses unless a county configures other closed days."""
    return WorkingCalendar()


def oslo_date(now: datetime) -> date:
    """The date on the wall in Norway. A naive datetime is refused: guessing its zone is
    how a job running at 00:30 local time ends up counting from yesterday."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("oslo_date() needs a timezone-aware datetime")
    return now.astimezone(OSLO).date()


def oslo_datetime(d: date, t: time) -> datetime:
    """d at wall-clock time t in Norway, with the offset that applies on that day.

    A time skipped when clocks go forward (02:30 on the last Sunday of March) becomes the
    time the clock shows an hour later; a repeated time in October takes its first
    occurrence unless t.fold is 1.
    """
    d = _require_date(d)
    if t.tzinfo is not None:
        raise ValueError("oslo_datetime() needs a naive wall-clock time")
    local = datetime.combine(d, t, tzinfo=OSLO)
    return local.astimezone(timezone.utc).astimezone(OSLO)


def _require_date(d: date) -> date:
    # datetime is a subclass of date but never equals one, so it would silently miss
    # every holiday in the cache.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")
    return d


def _weekdays_up_to(d: date) -> int:
    """Monday-to-Friday days from 0001-01-01 (a Monday) through d."""
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)
