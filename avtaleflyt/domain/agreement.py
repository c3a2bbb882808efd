"""Agreement terms and the responsibility split (grenseoppgang)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from .errors import InvalidInput, ref
from .stages import Party

# The same ceiling as the configuration's `agreement.yearly_price` (and well inside a 64-bit
# integer column on both backends).
MAX_YEARLY_PRICE = 10_000_000


@dataclass(frozen=True)
class ResponsibilityRow:
    task: str
    responsible: Party


# The typical split from the pilot (domain.md). Every agreement starts from it.
DEFAULT_SPLIT: tuple[ResponsibilityRow, ...] = tuple(
    ResponsibilityRow(task, party)
    for party, tasks in (
        (Party.COUNTY, (
            "Bibliotekplan og strategi",
            "Retningslinjer for samlingsutvikling",
            "Statistikk og årsmelding",
            "Forslag til budsjett for biblioteket",
            "Faglig veiledning av lokalt ansatte",
            "Samarbeid med skolebibliotek og fylkeskommunen",
        )),
        (Party.MUNICIPALITY, (
            "Arbeidsgiveransvar for lokalt ansatte",
            "Åpningstider",
            "Lokaler",
            "Budsjettvedtak for biblioteket",
            "Tilgang til systemer (bibliotekssystem, e-post, arkiv, økonomi/HR)",
            "Egne politiske vedtak",
        )),
    )
    for task in tasks
)


RENEWAL_NONE = "none"   # a fixed term: the agreement ends on its end date
RENEWAL_AUTO = "auto"   # renewed for a period of the same length unless notice is given
RENEWALS = (RENEWAL_NONE, RENEWAL_AUTO)


def period_end(start: date, months: int) -> date:
    """The last day of a period of `months` months beginning on `start`: the day before
    the same date `months` later. When that date does not exist (29 February in a common
    year, 31 April), the period ends on the last day of the month: one year from
    29.02.2028 ends on 28.02.2029, four months from 01.09.2020 on 31.12.2020, one month
    from 31.01 on the last day of February."""
    same_day = start + relativedelta(months=months)
    if same_day.day != start.day:  # clamped to the end of a shorter month
        return same_day
    return same_day - relativedelta(days=1)


def notice_deadline_for(end: date, notice_months: int, cal) -> date:
    """The last day notice can be given so the agreement ends on `end`: `notice_months`
    before the end date, moved to the PREVIOUS working day when that is a weekend, a
    public holiday or a closed day. Moving it earlier, never later, means notice given on
    the date we show is never late, whichever way the other party counts (docs/terms.md)."""
    return cal.previous_working_day(end - relativedelta(months=notice_months))


def end_after_notice(periods: list[tuple[date, date]], term_months: int, notice_months: int,
                     given_on: date, cal) -> date:
    """The last day of an automatically renewing agreement when notice is given on
    `given_on`. The current period is the one `given_on` falls in (the first, if it is
    before the start). Notice given on or before the current period's notice deadline
    (`notice_deadline_for`, rolled to the previous working day) ends the agreement at the
    end of that period; notice given after the deadline ends it at the end of the next."""
    current = periods[0]
    for p in periods:
        if p[0] <= given_on:
            current = p
    end = current[1]
    if given_on <= notice_deadline_for(end, notice_months, cal):
        return end
    return period_end(end + relativedelta(days=1), term_months)


@dataclass(frozen=True)
class Terms:
    start_date: date
    years: int
    notice_months: int
    yearly_price: int
    position_share: Decimal
    site_visits_per_year: int
    split: tuple[ResponsibilityRow, ...] = field(default=DEFAULT_SPLIT)
    months: int = 0            # added to `years`: a pilot of 4 months is years=0, months=4
    renewal: str = RENEWAL_NONE

    @property
    def term_months(self) -> int:
        return self.years * 12 + self.months

    @property
    def end_date(self) -> date:
        """The last day of the agreement (of its first period, when it renews)."""
        return period_end(self.start_date, self.term_months)

    @property
    def notice_deadline(self) -> date:
        """The last day notice can be given so the agreement ends on `end_date`, before
        the working-day rule (`notice_deadline_for` applies it)."""
        return self.end_date - relativedelta(months=self.notice_months)

    def periods(self, until: date) -> list[tuple[date, date]]:
        """(first day, last day) of each agreement period that begins on or before
        `until`. A fixed term has one; an automatically renewed agreement a new one of the
        same length after each end date."""
        out = [(self.start_date, self.end_date)]
        while self.renewal == RENEWAL_AUTO and out[-1][1] < until and len(out) < 200:
            start = out[-1][1] + relativedelta(days=1)
            out.append((start, period_end(start, self.term_months)))
        return out

    def ends_after_notice(self, given_on: date, cal) -> date:
        """The last day of the agreement after notice given on `given_on`
        (`end_after_notice`)."""
        return end_after_notice(self.periods(given_on), self.term_months, self.notice_months,
                                given_on, cal)

    def validate(self, *, set_on: date) -> None:
        """Refuse terms no agreement could have. Fields are named by id (`ref`)."""
        if not 0 <= self.months <= 11:
            raise InvalidInput(
                f"{ref('months')} må være mellom 0 og 11 måneder (resten i {ref('years')}), "
                f"ikke {self.months}.", field="months")
        if not 0 <= self.years <= 10 or not 1 <= self.term_months <= 120:
            raise InvalidInput(
                f"{ref('years')} og {ref('months')} må til sammen gi en avtaleperiode på "
                f"mellom 1 måned og 10 år, ikke {self.years} år og {self.months} måneder.",
                field="years")
        if self.renewal not in RENEWALS:
            raise InvalidInput(
                f"{ref('renewal')} må være fast (fast periode) eller automatisk (fornyes "
                f"automatisk), ikke «{self.renewal}».", field="renewal")
        if not 0 <= self.notice_months <= 24:
            raise InvalidInput(
                f"{ref('notice_months')} må være mellom 0 og 24 måneder, ikke "
                f"{self.notice_months}.",
                field="notice_months")
        if self.notice_months >= self.term_months:
            raise InvalidInput(
                f"{ref('notice_months')}: oppsigelsestiden må være kortere enn avtaleperioden.",
                field="notice_months")
        if self.yearly_price < 0:
            raise InvalidInput(f"{ref('price')} kan ikke være negativ.", field="price")
        if self.yearly_price > MAX_YEARLY_PRICE:
            raise InvalidInput(f"{ref('price')} kan være høyst kr 10 000 000 i året, ikke "
                               f"{self.yearly_price:,}.".replace(",", " "), field="price")
        if not Decimal(0) < self.position_share <= Decimal(100):
            raise InvalidInput(
                f"{ref('position_share')} må være en prosent over 0 og høyst 100.",
                field="position_share")
        if not 0 <= self.site_visits_per_year <= 52:
            raise InvalidInput(
                f"{ref('site_visits')} må være mellom 0 og 52 besøk i året.", field="site_visits")
        if self.start_date < set_on:
            from avtaleflyt.formatting import format_date

            raise InvalidInput(
                f"{ref('start')} ({format_date(self.start_date)}) kan ikke være før datoen "
                f"vilkårene fastsettes ({format_date(set_on)}).", field="start")
