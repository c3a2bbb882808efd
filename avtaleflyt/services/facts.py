"""Turning what a user typed into the domain's inputs, with messages that name the field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from avtaleflyt.domain.agreement import Terms
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.domain.text import check_text
from avtaleflyt.domain.machine import FactInput
from avtaleflyt.domain.stages import FactKind, Outcome, Party, Theme
from avtaleflyt.formatting import parse_amount, parse_date, parse_int, parse_percent

from .context import Ctx


def _choice(enum, value: Any, field: str):
    try:
        return enum(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(f"«--{field}»: «{value}» er ikke et gyldig valg. Velg en av: "
                           f"{allowed}.", field=field) from None


def parse_fact_kind(value: str) -> FactKind:
    try:
        return FactKind(value.strip().lower().replace("-", "_"))
    except ValueError:
        allowed = ", ".join(k.cli_name for k in FactKind)
        raise InvalidInput(f"Ukjent faktum «{value}». Velg en av: {allowed}.",
                           field="fact") from None


def parse_theme(value: str) -> Theme:
    return _choice(Theme, value, "theme")


def _as_date(value: Any, field: str) -> date:
    return value if isinstance(value, date) else parse_date(str(value), field=f"--{field}")


def _required(options: dict[str, Any], name: str, fact: FactKind) -> Any:
    value = options.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"«{fact.cli_name}» krever «--{name.replace('_', '-')}».",
                           field=name)
    return value


def build_fact(kind: str, occurred_on: date, options: dict[str, Any], ctx: Ctx) -> FactInput:
    """Options are the CLI's/form's raw values (strings allowed); all are validated here."""
    fact = parse_fact_kind(kind)
    reference = options.get("reference")
    if reference is not None:
        reference = check_text(str(reference), "reference", 100, required=False,
                               label="«--ref»")
    match fact:
        case FactKind.COUNCIL_DECISION | FactKind.COUNTY_DECISION:
            outcome = _choice(Outcome, _required(options, "outcome", fact), "outcome")
            return FactInput(fact, occurred_on, outcome=outcome, reference=reference)
        case FactKind.SIGNED | FactKind.NOTICE_GIVEN:
            party = _choice(Party, _required(options, "party", fact), "party")
            return FactInput(fact, occurred_on, party=party)
        case FactKind.TERMS_SET:
            return FactInput(fact, occurred_on, terms=_terms(options, ctx))
    return FactInput(fact, occurred_on, reference=reference)


def _terms(options: dict[str, Any], ctx: Ctx) -> Terms:
    d = ctx.config.agreement
    f = FactKind.TERMS_SET
    price = options.get("price")
    share = options.get("position_share")
    visits = options.get("site_visits")
    months = options.get("months")
    months = None if months is None or (isinstance(months, str) and not months.strip()) \
        else months
    years = options.get("years")
    years = None if years is None or (isinstance(years, str) and not years.strip()) else years
    renewal = options.get("renewal") or None
    return Terms(
        start_date=_as_date(_required(options, "start", f), "start"),
        years=0 if years is None and months is not None
        else parse_int(str(_required(options, "years", f)), "--years"),
        notice_months=parse_int(str(_required(options, "notice_months", f)), "--notice-months"),
        yearly_price=d.yearly_price if price is None else parse_amount(str(price), "--price"),
        position_share=d.position_share if share is None
        else Decimal(parse_percent(str(share), "--position-share")),
        site_visits_per_year=d.site_visits_per_year if visits is None
        else parse_int(str(visits), "--site-visits"),
        months=0 if months is None else parse_int(str(months), "--months"),
        renewal=d.renewal if renewal is None else str(renewal).strip().lower(),
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
