from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from avtaleflyt.cli.output import cli_message

from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.formatting import (
    InvalidValue,
    format_amount,
    format_date,
    format_date_short,
    format_days,
    format_percent,
    format_weekday_date,
    format_working_days,
    parse_amount,
    parse_date,
    parse_int,
    parse_percent,
)

DATE_HINT = "Bruk formatet ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ."


def test_dates_are_written_the_norwegian_way() -> None:
    assert format_date(date(2026, 5, 17)) == "17. mai 2026"
    assert format_date(date(2026, 3, 1)) == "1. mars 2026"
    assert format_date_short(date(2026, 5, 7)) == "07.05.2026"
    assert format_weekday_date(date(2026, 5, 18)) == "mandag 18. mai 2026"
    assert format_weekday_date(date(2026, 5, 17)) == "søndag 17. mai 2026"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (120_000, "kr 120 000"),
        (400_000, "kr 400 000"),
        (0, "kr 0"),
        (999, "kr 999"),
        (1_234_567, "kr 1 234 567"),
        (-5_000, "kr -5 000"),
        (Decimal("120000.00"), "kr 120 000"),
        (Decimal("1234.5"), "kr 1 234,50"),
        (Decimal("0.005"), "kr 0,01"),  # rounded half up to whole øre
        (Decimal("-0.001"), "kr 0"),
    ],
)
def test_amounts_use_plain_spaces_so_text_search_finds_them(amount, text: str) -> None:
    formatted = format_amount(amount)
    assert formatted == text
    assert "\u00a0" not in formatted and "\u2212" not in formatted


@pytest.mark.parametrize(
    ("value", "text"),
    [(20, "20 %"), (Decimal("12.5"), "12,5 %"), (12.5, "12,5 %"), (100, "100 %"), (Decimal("0.125"), "0,13 %")],
)
def test_percentages_use_decimal_comma(value, text: str) -> None:
    assert format_percent(value) == text


def test_day_counts_are_singular_only_for_one() -> None:
    assert format_days(1) == "1 dag"
    assert format_days(3) == "3 dager"
    assert format_days(0) == "0 dager"
    assert format_days(-1) == "-1 dag"
    assert format_working_days(1) == "1 arbeidsdag"
    assert format_working_days(10) == "10 arbeidsdager"
    assert format_working_days(1000) == "1 000 arbeidsdager"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-17", date(2026, 5, 17)),
        ("17.05.2026", date(2026, 5, 17)),
        ("17.5.2026", date(2026, 5, 17)),
        (" 17.05.2026 ", date(2026, 5, 17)),
        ("03.04.2026", date(2026, 4, 3)),  # day first: 3 April, never 4 March
        ("29.02.2028", date(2028, 2, 29)),
    ],
)
def test_parse_date_accepts_iso_and_norwegian(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_a_date_that_does_not_exist_is_named_as_such() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_date("31.02.2026", field="--date")
    assert cli_message(caught.value) == (
        "Ugyldig dato for «--date»: «31.02.2026» finnes ikke (februar 2026 har 28 dager). "
        + DATE_HINT
    )
    # The error names the field by its id; the dashboard words it by the field's label.
    assert caught.value.field == "date"
    assert caught.value.message.startswith("Ugyldig dato for «Dato»: ")


@pytest.mark.parametrize("text", ["2026-13-01", "17/05/2026", "17. mai 2026", "abc", "2026-05-17T10:00"])
def test_a_malformed_date_is_refused_with_the_formats_to_use(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_date(text, field="--date")
    assert cli_message(caught.value) == f"Ugyldig dato for «--date»: «{text}» er ikke en gyldig dato. {DATE_HINT}"
    assert caught.value.problem == f"«{text}» er ikke en gyldig dato"


def test_empty_date_and_typo_year() -> None:
    with pytest.raises(InvalidInput, match="«dato»: feltet er tomt"):
        parse_date("  ")
    with pytest.raises(InvalidInput, match="«17.05.2206» har et urimelig årstall"):
        parse_date("17.05.2206")


@pytest.mark.parametrize(
    "text",
    ["120000", "120 000", "kr 120 000", "120 000,00", "120\u00a0000 kr", "120.000,-", "NOK 120000", "Kr 120 000,-"],
)
def test_parse_amount_accepts_common_ways_of_writing_kroner(text: str) -> None:
    assert parse_amount(text, "--pris") == 120_000


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "feltet er tomt"),
        ("mange penger", "«mange penger» er ikke et beløp"),
        ("1 234,50", "«1 234,50» har øre; oppgi hele kroner"),
        ("kr -5 000", "beløpet kan ikke være negativt"),
    ],
)
def test_parse_amount_refuses_with_field_and_value(text: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_amount(text, "--pris")
    assert cli_message(caught.value) == (
        f"Ugyldig beløp for «--pris»: {problem}. Skriv beløpet i hele kroner, for eksempel 120 000."
    )


def test_parse_amount_can_allow_negative_amounts() -> None:
    assert parse_amount("kr -5 000", "justering", allow_negative=True) == -5_000
    assert parse_amount("\u22125000", "justering", allow_negative=True) == -5_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20", Decimal(20)), ("20%", Decimal(20)), ("20 %", Decimal(20)), ("12,5", Decimal("12.5")), ("100", Decimal(100))],
)
def test_parse_percent(text: str, expected: Decimal) -> None:
    assert parse_percent(text, "--sats") == expected


@pytest.mark.parametrize(
    ("text", "problem"), [("0", "«0» er ikke over 0"), ("101", "«101» er over 100"), ("mye", "«mye» er ikke et tall")]
)
def test_parse_percent_refuses_outside_zero_to_hundred(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_percent(text, "--sats")
    assert cli_message(caught.value).startswith(f"Ugyldig prosentsats for «--sats»: {problem}.")


def test_parse_int_with_bounds() -> None:
    assert parse_int("12", "--dager", min=1, max=365) == 12
    assert parse_int("1 000", "--antall") == 1000
    assert parse_int("-3", "--forskyvning") == -3
    with pytest.raises(InvalidInput) as caught:
        parse_int("0", "--dager", min=1, max=365)
    assert cli_message(caught.value) == "Ugyldig tall for «--dager»: «0» er for lite. Skriv et heltall fra 1 til 365."
    with pytest.raises(InvalidInput, match="«400» er for stort. Skriv et heltall som er høyst 365."):
        parse_int("400", "--dager", max=365)
    with pytest.raises(InvalidInput, match="«ti» er ikke et heltall. Skriv et heltall som er minst 1."):
        parse_int("ti", "--dager", min=1)
