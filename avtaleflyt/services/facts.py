"""Turning what a user typed into the domain's inputs, by the table in `domain/facts.py`.

Messages name fields by their id (`ref("outcome")`); the command line words them as its
options, the dashboard as its form labels.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from avtaleflyt.domain.agreement import Terms
from avtaleflyt.domain.errors import InvalidInput, ref
from avtaleflyt.domain.facts import (
    FACTS,
    OUTCOME_VALUES,
    PARTY_VALUES,
    RENEWAL_VALUES,
    THEME_VALUES,
    FactKind,
    FactSpec,
    Outcome,
    parse_fact_kind,
)
from avtaleflyt.domain.machine import FactInput
from avtaleflyt.domain.stages import Party, Theme
from avtaleflyt.domain.text import check_text
from avtaleflyt.formatting import parse_amount, parse_date, parse_int, parse_percent

from .context import Ctx

__all__ = ["build_case_fact", "build_fact", "parse_fact_kind", "parse_theme"]


def parse_theme(value: str) -> Theme:
    """A theme by its Norwegian label («Engasjement») or its key (engagement)."""
    return Theme(THEME_VALUES.parse(value))


def _given(options: dict[str, Any], name: str) -> Any:
    value = options.get(name)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _required(options: dict[str, Any], name: str, spec: FactSpec) -> Any:
    value = _given(options, name)
    if value is None:
        raise InvalidInput(f"«{spec.label}» krever {ref(name)}.", field=name)
    return value


def _as_date(value: Any, field: str) -> date:
    return value if isinstance(value, date) else parse_date(str(value), field=field)


def build_fact(kind: str, occurred_on: date, options: dict[str, Any], ctx: Ctx) -> FactInput:
    """Options are the CLI's/form's raw values (strings allowed, Norwegian words or English
    keys), named by the fields' ids in `FACTS`; all are validated here."""
    fact = parse_fact_kind(kind)
    spec = FACTS[fact]
    for name in options:
        if spec.field(name) is None and _given(options, name) is not None \
                and name != "situation":
            raise InvalidInput(f"{ref(name)} hører ikke til «{spec.label}».", field=name)
    reference = None
    if spec.field("reference") is not None and _given(options, "reference") is not None:
        reference = check_text(str(options["reference"]), "reference", 100, required=False)
    outcome = party = terms = None
    if spec.field("outcome") is not None:
        outcome = Outcome(OUTCOME_VALUES.parse(_required(options, "outcome", spec)))
    if spec.field("party") is not None:
        party = Party(PARTY_VALUES.parse(_required(options, "party", spec)))
    if fact is FactKind.TERMS_SET:
        terms = _terms(options, ctx, spec)
    return FactInput(fact, occurred_on, outcome=outcome, reference=reference, party=party,
                     terms=terms)


def _terms(options: dict[str, Any], ctx: Ctx, spec: FactSpec) -> Terms:
    d = ctx.config.agreement
    price = _given(options, "price")
    share = _given(options, "position_share")
    visits = _given(options, "site_visits")
    months = _given(options, "months")
    years = _given(options, "years")
    renewal = _given(options, "renewal")
    return Terms(
        start_date=_as_date(_required(options, "start", spec), "start"),
        years=0 if years is None and months is not None
        else parse_int(str(_required(options, "years", spec)), "years"),
        notice_months=parse_int(str(_required(options, "notice_months", spec)),
                                "notice_months"),
        yearly_price=d.yearly_price if price is None else parse_amount(str(price), "price"),
        position_share=d.position_share if share is None
        else Decimal(parse_percent(str(share), "position_share")),
        site_visits_per_year=d.site_visits_per_year if visits is None
        else parse_int(str(visits), "site_visits"),
        months=0 if months is None else parse_int(str(months), "months"),
        renewal=d.renewal if renewal is None else RENEWAL_VALUES.parse(renewal),
    )


def build_case_fact(*, session: Session, kommunenummer: str, kind: str, occurred_on: date,
                    options: dict[str, Any], ctx: Ctx) -> FactInput:
    """`build_fact` with the defaults of the case's county (its `[county."NR"]` section):
    a Troms case's terms default to Troms's standard price, a Nordland case's to the
    top level. An unknown kommunenummer falls back to `ctx`; recording it is refused later."""
    from avtaleflyt.domain.errors import NotFound

    from .store import county_ctx, get_municipality

    try:
        ctx = county_ctx(session, get_municipality(session, kommunenummer), ctx)
    except (NotFound, InvalidInput):
        pass
    return build_fact(kind, occurred_on, options, ctx)
