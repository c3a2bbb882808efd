"""Recurring duties in running operation, generated from the agreement with dateutil.rrule.

Each duty has a stable key ("duty.followup.2027-02"), so generating again creates nothing new,
and only a rolling horizon is generated — not the whole agreement at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import babel.dates
from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, YEARLY, rrule

from .agreement import Terms
from .calendar import WorkingCalendar
from .machine import PlannedTask
from .stages import Party, Stage


@dataclass(frozen=True)
class DutyRules:
    horizon_months: int = 12
    plan_and_budget_due: tuple[int, int] = (10, 1)
    statistics_default: tuple[int, int] = (3, 1)
    statistics_deadlines: Mapping[int, date] = field(default_factory=dict)


def _month(d: date) -> str:
    return babel.dates.format_date(d, "MMMM y", locale="nb_NO")


def _days(rule) -> list[date]:
    return [d.date() for d in rule]


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def plan_duties(terms: Terms, *, entered_on: date, today: date, rules: DutyRules,
                cal: WorkingCalendar) -> list[PlannedTask]:
    """Duties due from the start of operation up to `today` + horizon (and the renewal
    deadline, whenever it is). Deadlines land on a working day on or before the date."""
    first = max(entered_on, terms.start_date)
    last = min(terms.end_date, today + relativedelta(months=rules.horizon_months))
    duties: list[tuple[str, str, date]] = []
    if first <= last:
        for d in _days(rrule(MONTHLY, dtstart=_dt(first), until=_dt(last), bymonthday=-1)):
            duties.append((f"duty.followup.{d:%Y-%m}",
                           f"Oppfølging av lokalt ansatte ({_month(d)})", d))
        n = terms.site_visits_per_year
        if n:
            years = _days(rrule(YEARLY, dtstart=_dt(terms.start_date), count=terms.years))
            for year_start in years:
                for i in range(n):
                    d = year_start + relativedelta(days=round((i + 1) * 365 / n) - 1)
                    duties.append((f"duty.visit.{year_start.year}-{i + 1}",
                                   f"Besøk i kommunen ({i + 1} av {n} i avtaleåret)", d))
        pm, pd = rules.plan_and_budget_due
        for d in _days(rrule(YEARLY, dtstart=_dt(date(first.year, 1, 1)), until=_dt(last),
                             bymonth=pm, bymonthday=pd)):
            duties.append((f"duty.plan_budget.{d.year}",
                           f"Bibliotekplan og innspill til budsjett for {d.year + 1}", d))
        for y in range(first.year, last.year + 1):
            d = rules.statistics_deadlines.get(y) or date(y, *rules.statistics_default)
            duties.append((f"duty.statistics.{y}",
                           f"Bibliotekstatistikk for {y - 1} til fylkesbiblioteket", d))
        for k, d in enumerate(_days(rrule(YEARLY, dtstart=_dt(terms.start_date),
                                          count=terms.years)), start=1):
            end = d + relativedelta(years=1, days=-1)
            duties.append((f"duty.evaluation.{k}",
                           f"Årlig evaluering av samarbeidet (avtaleår {k})",
                           end - relativedelta(months=1)))
    out: list[PlannedTask] = []
    for key, title, d in duties:
        due = cal.previous_working_day(d)
        if first <= d <= last and due >= first:
            out.append(_task(key, title, due))
    notice = terms.notice_deadline
    if notice >= first:
        out.append(_task(f"duty.renewal.{notice.isoformat()}",
                         "Ta stilling til fornyelse eller oppsigelse av avtalen",
                         cal.previous_working_day(notice)))
    return out


def _task(key: str, title: str, due: date) -> PlannedTask:
    return PlannedTask(key, Stage.RUNNING_OPERATION, title, Party.COUNTY, False, None, due)
