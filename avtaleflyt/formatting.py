"""How dates, amounts and counts look to a Norwegian reader, and how we read them back.

All output uses ordinary spaces and an ASCII minus. Babel's "nb" data groups digits with
NO-BREAK SPACE and may use U+2212 for minus; that is typographically right but makes
"kr 120 000" impossible to find with a plain text search in a letter, a log or a test, so
it is normalised away here, in one place.

The parsers accept what people actually type into a form or a spreadsheet and raise
`InvalidValue` (an `InvalidInput`) whose message names the field and the value in Norwegian.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from avtaleflyt.domain.errors import InvalidInput

LOCALE = "nb"

_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})
_ORE = Decimal("0.01")
_DATE_HINT = "Bruk formatet ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ."
# Years outside this range are typing errors ("17.05.2206"), not plans.
_PLAUSIBLE_YEARS = range(1900, 2200)


def _babel():
    """Babel, imported on first use: it is a large import, and `avtaleflyt status` formats
    nothing with it."""
    import babel.dates
    import babel.numbers

    return babel


class InvalidValue(InvalidInput):
    """A single typed value was refused.

    Besides the full message it keeps the bare `problem`, so that an importer reporting
    many bad lines can write "Linje 4, «dato»: <problem>." without repeating the hint.
    """

    def __init__(self, *, kind: str, field: str, problem: str, hint: str) -> None:
        # A field given by its option (--years) or id (years) is named by id, and each
        # front end words it; anything else (a CSV column, a variable) as it is.
        from avtaleflyt.domain.errors import is_field, ref

        fid = field.removeprefix("--").replace("-", "_")
        if field.startswith("--") or is_field(fid):
            name, field = ref(fid), fid
        else:
            name = f"«{field}»"
        super().__init__(f"Ugyldig {kind} for {name}: {problem}. {hint}", field=field)
        self.problem = problem


# -- output ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)  # a date's words never change; pages and digests repeat them
def format_date(d: date) -> str:
    """As in "17. mai 2026": the form used in letters and reports."""
    return _babel().dates.format_date(d, "d. MMMM y", locale=LOCALE)


@lru_cache(maxsize=4096)  # a date's words never change; pages and digests repeat them
def format_date_short(d: date) -> str:
    """As in "17.05.2026": for tables and lists where width matters."""
    return _babel().dates.format_date(d, "dd.MM.y", locale=LOCALE)


@lru_cache(maxsize=4096)  # a date's words never change; pages and digests repeat them
def format_weekday_date(d: date) -> str:
    """As in "søndag 17. mai 2026": for meeting dates, where the weekday helps."""
    return _babel().dates.format_date(d, "EEEE d. MMMM y", locale=LOCALE)


def format_amount(n: int | Decimal) -> str:
    """As in "kr 120 000"; øre are shown only when there are any ("kr 1 234,50")."""
    value = _decimal(n).quantize(_ORE, rounding=ROUND_HALF_UP)
    pattern = "#,##0" if value == value.to_integral_value() else "#,##0.00"
    return f"kr {_number(value, pattern)}"


def format_percent(p: int | Decimal) -> str:
    """p is the percentage itself (20 means 20 %): "20 %", "12,5 %"."""
    value = _decimal(p).quantize(_ORE, rounding=ROUND_HALF_UP)
    return f"{_number(value, '#,##0.##')} %"


def format_days(n: int) -> str:
    return format_count(n, "dag", "dager")


def format_working_days(n: int) -> str:
    return format_count(n, "arbeidsdag", "arbeidsdager")


@lru_cache(maxsize=1024)  # small counts repeat in every list and digest
def format_count(n: int, singular: str, plural: str) -> str:
    """"1 punkt", "3 punkter", "1 000 punkter": a count with the right Norwegian form."""
    return f"{_number(Decimal(n), '#,##0')} {singular if abs(n) == 1 else plural}"


def _number(value: Decimal, pattern: str) -> str:
    if value == 0:
        value = abs(value)  # no "-0"
    text = _babel().numbers.format_decimal(value, format=pattern, locale=LOCALE)
    return text.translate(_PLAIN)


def _decimal(n: int | Decimal) -> Decimal:
    if isinstance(n, float):
        return Decimal(repr(n))  # 0.1 stays 0.1, not 0.1000000000000000055...
    return Decimal(n)


# -- input -----------------------------------------------------------------------------

_ISO_DATE = re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})")
_NORWEGIAN_DATE = re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})")
_CURRENCY = re.compile(r"^(?:kr\.?|nok)\s*|\s*(?:kr\.?|nok|,-|\.-)$", re.IGNORECASE)
_AMOUNT = re.compile(r"(?P<kroner>\d{1,3}(?:\.\d{3})+|\d+)(?:[,.](?P<ore>\d{1,2}))?")
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?")
_INTEGER = re.compile(r"-?\d+")


def parse_date(text: str, field: str = "dato") -> date:
    """Reads "2026-05-17", "17.05.2026" or "17.5.2026". Day first, always: "03.04.2026"
    is 3 April. A well-formed date that does not exist gets its own message, because
    "31.02.2026" is a slip of the calendar, not of the format."""
    raw = text.strip()
    match = _ISO_DATE.fullmatch(raw) or _NORWEGIAN_DATE.fullmatch(raw)
    problem = _empty_problem(raw) or f"«{raw}» er ikke en gyldig dato"
    if match:
        year, month, day = (int(match[k]) for k in ("y", "m", "d"))
        if 1 <= month <= 12 and 1 <= day <= 31:
            if year not in _PLAUSIBLE_YEARS:
                problem = f"«{raw}» har et urimelig årstall"
            elif day > (last := calendar.monthrange(year, month)[1]):
                month_name = _babel().dates.format_date(date(year, month, 1), "MMMM y",
                                                        locale=LOCALE)
                problem = f"«{raw}» finnes ikke ({month_name} har {last} dager)"
            else:
                return date(year, month, day)
    raise InvalidValue(kind="dato", field=field, problem=problem, hint=_DATE_HINT)


def parse_amount(text: str, field: str = "beløp", *, allow_negative: bool = False) -> int:
    """Whole kroner from "120000", "120 000", "kr 120 000", "120.000,-" or "120 000,00".
    Øre are refused rather than rounded: prices in agreements are whole kroner, and a
    silently dropped ",50" would be a wrong contract."""
    raw = text.translate(_PLAIN).strip()
    hint = "Skriv beløpet i hele kroner, for eksempel 120 000."

    def refuse(problem: str) -> InvalidValue:
        return InvalidValue(kind="beløp", field=field, problem=problem, hint=hint)

    if empty := _empty_problem(raw):
        raise refuse(empty)
    body = _CURRENCY.sub("", raw).strip()
    negative = body.startswith("-")
    match = _AMOUNT.fullmatch(body.removeprefix("-").replace(" ", ""))
    if not match:
        raise refuse(f"«{raw}» er ikke et beløp")
    if match["ore"] and int(match["ore"]):
        raise refuse(f"«{raw}» har øre; oppgi hele kroner")
    amount = int(match["kroner"].replace(".", ""))
    if negative and amount:
        if not allow_negative:
            raise refuse("beløpet kan ikke være negativt")
        amount = -amount
    return amount


def parse_percent(text: str, field: str = "prosentsats") -> Decimal:
    """A percentage over 0 and at most 100, from "20", "20 %" or "12,5"."""
    raw = text.translate(_PLAIN).strip()
    hint = "Skriv et tall over 0 og høyst 100, for eksempel 12,5."
    number = raw.removesuffix("%").strip()
    problem = _empty_problem(raw) or f"«{raw}» er ikke et tall"
    if _PERCENT.fullmatch(number):
        value = Decimal(number.replace(",", "."))
        if 0 < value <= 100:
            return value
        problem = f"«{raw}» er over 100" if value > 100 else f"«{raw}» er ikke over 0"
    raise InvalidValue(kind="prosentsats", field=field, problem=problem, hint=hint)


def parse_int(
    text: str, field: str = "tall", min: int | None = None, max: int | None = None
) -> int:
    """A whole number, optionally bounded; "1 000" is read as 1000."""
    raw = text.translate(_PLAIN).strip()
    digits = raw.replace(" ", "")
    if min is not None and max is not None:
        hint = f"Skriv et heltall fra {_plain_int(min)} til {_plain_int(max)}."
    elif min is not None:
        hint = f"Skriv et heltall som er minst {_plain_int(min)}."
    elif max is not None:
        hint = f"Skriv et heltall som er høyst {_plain_int(max)}."
    else:
        hint = "Skriv et heltall, for eksempel 10."
    problem = _empty_problem(raw) or f"«{raw}» er ikke et heltall"
    if _INTEGER.fullmatch(digits):
        value = int(digits)
        if min is not None and value < min:
            problem = f"«{raw}» er for lite"
        elif max is not None and value > max:
            problem = f"«{raw}» er for stort"
        else:
            return value
    raise InvalidValue(kind="tall", field=field, problem=problem, hint=hint)


def _plain_int(n: int) -> str:
    return _number(Decimal(n), "#,##0")


def _empty_problem(raw: str) -> str | None:
    return "feltet er tomt" if not raw else None
