"""Agreement terms and the responsibility split (grenseoppgang)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from .errors import InvalidInput
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


@dataclass(frozen=True)
class Terms:
    start_date: date
    years: int
    notice_months: int
    yearly_price: int
    position_share: Decimal
    site_visits_per_year: int
    split: tuple[ResponsibilityRow, ...] = field(default=DEFAULT_SPLIT)

    @property
    def end_date(self) -> date:
        """The last day of the agreement."""
        return self.start_date + relativedelta(years=self.years) - relativedelta(days=1)

    @property
    def notice_deadline(self) -> date:
        """The last day notice can be given so the agreement ends on `end_date`."""
        return self.end_date - relativedelta(months=self.notice_months)

    def validate(self, *, set_on: date) -> None:
        """Refuse terms no agreement could have. Field names are the CLI's option names."""
        if not 1 <= self.years <= 10:
            raise InvalidInput(
                f"«--years» må være mellom 1 og 10 år, ikke {self.years}.", field="years")
        if not 0 <= self.notice_months <= 24:
            raise InvalidInput(
                f"«--notice-months» må være mellom 0 og 24 måneder, ikke {self.notice_months}.",
                field="notice_months")
        if self.notice_months >= self.years * 12:
            raise InvalidInput(
                "«--notice-months»: oppsigelsestiden må være kortere enn avtaleperioden.",
                field="notice_months")
        if self.yearly_price < 0:
            raise InvalidInput("«--price» kan ikke være negativ.", field="price")
        if self.yearly_price > MAX_YEARLY_PRICE:
            raise InvalidInput("«--price» kan være høyst kr 10 000 000 i året, ikke "
                               f"{self.yearly_price:,}.".replace(",", " "), field="price")
        if not Decimal(0) < self.position_share <= Decimal(100):
            raise InvalidInput(
                "«--position-share» må være en prosent over 0 og høyst 100.", field="position_share")
        if not 0 <= self.site_visits_per_year <= 52:
            raise InvalidInput(
                "«--site-visits» må være mellom 0 og 52 besøk i året.", field="site_visits")
        if self.start_date < set_on:
            from avtaleflyt.formatting import format_date

            raise InvalidInput(
                f"«--start» ({format_date(self.start_date)}) kan ikke være før datoen "
                f"vilkårene fastsettes ({format_date(set_on)}).", field="start")
