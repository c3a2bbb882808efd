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

from .agreement import RENEWAL_AUTO, Terms, notice_deadline_for, period_end
from .calendar import WorkingCalendar
from .machine import PlannedTask
from .stages import Party, pipeline


@dataclass(frozen=True)
class DutyRules:
    horizon_months: int = 12
    plan_and_budget_due: tuple[int, int] = (10, 1)
    statistics_default: tuple[int, int] = (3, 1)
    statistics_deadlines: Mapping[int, date] = field(default_factory=dict)
    # Duties of the municipality: local staff's monthly report to the library director,
    # due on this day of the following month; its input to the library statistics, due
    # this many days before the county's statistics deadline.
    local_report_day: int = 5
    statistics_input_days_before: int = 14
    # The evaluation at the end of a pilot, or before renewal, is due this many months
    # before the notice deadline, so its findings can inform the decision.
    evaluation_months_before_notice: int = 1


def _month(d: date) -> str:
    return babel.dates.format_date(d, "MMMM y", locale="nb_NO")


def _days(rule) -> list[date]:
    return [d.date() for d in rule]


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def visit_dates(start: date, months: int, visits: int) -> list[date]:
    """The due dates of `visits` site visits spread evenly over a period of `months`
    months from `start`: each is due on the last day of its own equal share of the period
    (four a year from 1 January: 31.03, 30.06, 30.09, 31.12). Shares are whole months when
    the visits divide the months, else equal numbers of days."""
    if visits <= 0:
        return []
    end = period_end(start, months)
    length = (end - start).days + 1
    out = []
    for i in range(1, visits + 1):
        if (months * i) % visits == 0:
            out.append(period_end(start, months * i // visits))
        else:
            out.append(start + relativedelta(days=length * i // visits - 1))
    return out


def _years_of(start: date, end: date) -> list[tuple[date, int]]:
    """(first day, months) of each agreement year of a period; the last may be shorter."""
    out, s = [], start
    while s <= end:
        months = 12
        while months > 1 and period_end(s, months) > end:
            months -= 1
        out.append((s, months))
        s = period_end(s, months) + relativedelta(days=1)
    return out


def plan_duties(terms: Terms, *, entered_on: date, today: date, rules: DutyRules,
                cal: WorkingCalendar, ends_on: date | None = None) -> list[PlannedTask]:
    """Duties due from the start of operation up to `today` + horizon (and the first
    renewal/notice deadline, whenever it is). Deadlines land on a working day on or
    before the date. The county's duties and the municipality's (local staff's monthly
    report, statistics input) side by side; an evaluation before each end or renewal.
    `ends_on`: the last day after notice was given (`notice-given`); nothing is planned
    after it, and its period gets a final evaluation and no renewal duty."""
    first = max(entered_on, terms.start_date)
    horizon = today + relativedelta(months=rules.horizon_months)
    periods = [p for p in terms.periods(horizon) if ends_on is None or p[0] <= ends_on]
    last = min(periods[-1][1], horizon)
    auto = terms.renewal == RENEWAL_AUTO
    # (key, title, date, responsible[, due date when not the date itself]); kept when
    # first <= date <= last
    duties: list[tuple] = []
    county, municipality = Party.COUNTY, Party.MUNICIPALITY
    if first <= last:
        for d in _days(rrule(MONTHLY, dtstart=_dt(first), until=_dt(last), bymonthday=-1)):
            duties.append((f"duty.followup.{d:%Y-%m}",
                           f"Oppfølging av lokalt ansatte ({_month(d)})", d, county))
            report = d + relativedelta(days=rules.local_report_day)
            duties.append((f"duty.local_report.{d:%Y-%m}",
                           f"Månedsrapport fra lokalt ansatte til biblioteksjefen "
                           f"({_month(d)})", d, municipality, report))
        year_no = 0
        for k, (p_start, p_end) in enumerate(periods, start=1):
            years = _years_of(p_start, p_end)
            for j, (y_start, months) in enumerate(years):
                year_no += 1
                dates = visit_dates(y_start, months,
                                    max(1, round(terms.site_visits_per_year * months / 12))
                                    if terms.site_visits_per_year else 0)
                whole = months == 12
                for i, d in enumerate(dates, start=1):
                    key = (f"duty.visit.{y_start.year}-{i}" if whole
                           else f"duty.visit.{y_start.isoformat()}-{i}")
                    what = "avtaleåret" if whole else "avtaleperioden"
                    duties.append((key, f"Besøk i kommunen ({i} av {len(dates)} i {what})",
                                   d, county))
                if j < len(years) - 1:  # the last year's is the evaluation before the end
                    y_end = period_end(y_start, months)
                    duties.append((f"duty.evaluation.{year_no}",
                                   f"Årlig evaluering av samarbeidet (avtaleår {year_no})",
                                   y_end - relativedelta(months=1), county))
            notice = notice_deadline_for(p_end, terms.notice_months, cal)
            due = notice - relativedelta(months=rules.evaluation_months_before_notice)
            title = ("Evaluering av samarbeidet før fornyelse av avtalen"
                     if auto and p_end != ends_on else
                     "Evaluering av samarbeidet før avtalen går ut (sluttevaluering)")
            duties.append((f"duty.evaluation.end-{p_end.isoformat()}", title,
                           max(due, p_start), county))
        pm, pd = rules.plan_and_budget_due
        for d in _days(rrule(YEARLY, dtstart=_dt(date(first.year, 1, 1)), until=_dt(last),
                             bymonth=pm, bymonthday=pd)):
            duties.append((f"duty.plan_budget.{d.year}",
                           f"Bibliotekplan og innspill til budsjett for {d.year + 1}", d, county))
        for y in range(first.year, last.year + 1):
            d = rules.statistics_deadlines.get(y) or date(y, *rules.statistics_default)
            duties.append((f"duty.statistics.{y}",
                           f"Bibliotekstatistikk for {y - 1} til fylkesbiblioteket", d, county))
            duties.append((f"duty.statistics_input.{y}",
                           f"Kommunens tall til bibliotekstatistikken for {y - 1}",
                           d - relativedelta(days=rules.statistics_input_days_before),
                           municipality))
    out: list[PlannedTask] = []
    for key, title, d, party, *own_due in duties:
        due = cal.previous_working_day(own_due[0] if own_due else d)
        if first <= d <= last and due >= first:
            out.append(_task(key, title, due, party))
    for k, (_p_start, p_end) in enumerate(periods, start=1):
        if p_end == ends_on:  # notice is given: nothing to decide before this end
            continue
        raw = p_end - relativedelta(months=terms.notice_months)
        notice = notice_deadline_for(p_end, terms.notice_months, cal)
        if notice >= first and (k == 1 or notice <= horizon):
            title = ("Ta stilling til fornyelse eller oppsigelse av avtalen (siste frist for "
                     "oppsigelse)" if auto else
                     "Ta stilling til om samarbeidet skal videreføres (avtalen har fast "
                     "periode og går ut)")
            out.append(_task(f"duty.renewal.{raw.isoformat()}", title, notice, county))
    return out


def _task(key: str, title: str, due: date, responsible: Party = Party.COUNTY) -> PlannedTask:
    # Duties belong to the stage where the agreement runs: the pipeline's terminal one.
    return PlannedTask(key, pipeline().terminal, title, responsible, False, None, due)
