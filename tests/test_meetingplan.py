from __future__ import annotations

from datetime import date

import pytest

from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.domain.meetingplan import (
    MeetingPlanInvalid,
    MeetingRow,
    normalize_body,
    parse_csv,
    parse_ics,
)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("kommunestyre", "kommunestyre"),
        ("Kommunestyret", "kommunestyre"),
        ("Bystyret", "kommunestyre"),
        ("FORMANNSKAPET", "formannskap"),
        ("county", "county"),
        ("Fylkesting", "county"),
        ("fylkestinget", "county"),
        ("Fylkesutvalget", "county"),
        ("fylkesrådet", "county"),
        ("Oppvekstutvalget", None),
        ("kommunestyremøte", None),  # a column holds a body, not a title
    ],
)
def test_body_names(name: str, body: str | None) -> None:
    assert normalize_body(name) == body


# -- CSV -------------------------------------------------------------------------------


def test_semicolon_file_from_excel_with_bom() -> None:
    text = (
        "\ufeffkommunenummer;organ;dato;tittel\r\n"
        "1836;Kommunestyret;17.09.2026;Avtale om bibliotekfaglig fjernledelse\r\n"
        "1836;formannskap;2026-09-03;\r\n"
        ";Fylkestinget;03.04.2027;Fylkestingets aprilmøte\r\n"
    )
    assert parse_csv(text) == [
        MeetingRow("1836", "kommunestyre", date(2026, 9, 17), "Avtale om bibliotekfaglig fjernledelse", 2),
        MeetingRow("1836", "formannskap", date(2026, 9, 3), None, 3),
        MeetingRow(None, "county", date(2027, 4, 3), "Fylkestingets aprilmøte", 4),  # 3 April
    ]


def test_comma_file_with_english_headers_and_leading_zero() -> None:
    text = 'body,kommunenummer,date,title\nkommunestyre,0301,2026-10-21,"Budsjett, økonomiplan",,\n\n'
    assert parse_csv(text) == [
        MeetingRow("0301", "kommunestyre", date(2026, 10, 21), "Budsjett, økonomiplan", 2)
    ]


def test_a_header_only_file_has_no_meetings() -> None:
    assert parse_csv("kommunenummer;organ;dato\n") == []


def test_every_bad_line_is_reported_and_nothing_is_returned() -> None:
    text = (
        "kommunenummer;organ;dato;tittel\n"
        "1836;kommunestyre;17.09.2026;ok\n"
        "1836;kommunestyre;31.02.2026;\n"
        "1836;kommunestyre;2026-13-01;\n"
        "301;formannskap;01.10.2026;\n"
        ";kommunestyre;01.10.2026;\n"
        "1836;eldrerådet;;\n"
    )
    with pytest.raises(MeetingPlanInvalid) as caught:
        parse_csv(text)
    assert caught.value.problems == (
        "Linje 3, «dato»: «31.02.2026» finnes ikke (februar 2026 har 28 dager).",
        "Linje 4, «dato»: «2026-13-01» er ikke en gyldig dato.",
        "Linje 5, «kommunenummer»: «301» er ikke et kommunenummer med fire sifre (for eksempel 1836 eller 0301).",
        "Linje 6, «kommunenummer»: mangler; møter i kommunestyret gjelder én kommune.",
        "Linje 7, «organ»: «eldrerådet» er ikke et kjent organ; bruk kommunestyre, formannskap eller fylkesting.",
        "Linje 7, «dato»: feltet er tomt.",
    )
    message = caught.value.message
    assert message.startswith("Møteplanen ble ikke importert fordi den har 6 feil.")
    assert "- Linje 4, «dato»: «2026-13-01» er ikke en gyldig dato." in message.splitlines()
    assert isinstance(caught.value, InvalidInput)


def test_a_title_with_an_unquoted_delimiter_is_caught() -> None:
    text = "kommunenummer,organ,dato,tittel\n1836,kommunestyre,17.09.2026,Budsjett, økonomiplan\n"
    with pytest.raises(MeetingPlanInvalid, match="Linje 2: har 5 felt, men overskriften har 4"):
        parse_csv(text)


def test_missing_columns_and_empty_file() -> None:
    with pytest.raises(InvalidInput, match="mangler kolonnen «organ» og «dato» i første linje"):
        parse_csv("kommunenummer;møtedato\n1836;17.09.2026\n")
    with pytest.raises(InvalidInput, match="Møteplanen er tom"):
        parse_csv("\ufeff\n  \n")


# -- iCalendar -------------------------------------------------------------------------


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//NO\r\n{body}END:VCALENDAR\r\n".encode()


def test_ics_dates_are_norwegian_dates_across_dst() -> None:
    data = ics(
        # 22:30 UTC on 30 October 2027 is 00:30 on 31 October in Oslo (still summer time).
        "UID:1\r\nDTSTART:20271030T223000Z\r\nSUMMARY:Kommunestyremøte\r\nX-KOMMUNENUMMER:1836",
        # 23:30 UTC on 27 March 2027 is 00:30 on 28 March (winter time, +01).
        "UID:2\r\nDTSTART:20270327T233000Z\r\nSUMMARY:Formannskapet",
        "UID:3\r\nDTSTART;TZID=Europe/Oslo:20270328T100000\r\nSUMMARY:Møte i fylkestinget",
        "UID:4\r\nDTSTART;VALUE=DATE:20270915\r\nSUMMARY:Budsjettmøte",
        "UID:5\r\nDTSTART:20270916T090000\r\nSUMMARY:Bystyret",  # floating local time
    )
    rows = parse_ics(data, default_kommunenummer="1836", default_body="Kommunestyret")
    assert [(r.kommunenummer, r.body, r.date, r.line) for r in rows] == [
        ("1836", "kommunestyre", date(2027, 10, 31), 4),
        ("1836", "formannskap", date(2027, 3, 28), 10),
        ("1836", "county", date(2027, 3, 28), 15),
        ("1836", "kommunestyre", date(2027, 9, 15), 20),
        ("1836", "kommunestyre", date(2027, 9, 16), 25),
    ]
    assert rows[2].title == "Møte i fylkestinget"


def test_ics_own_kommunenummer_wins_and_cancelled_meetings_are_skipped() -> None:
    data = ics(
        "UID:1\r\nDTSTART;VALUE=DATE:20270120\r\nSUMMARY:Kommunestyret\r\nX-KOMMUNENUMMER:1835",
        "UID:2\r\nDTSTART;VALUE=DATE:20270121\r\nSUMMARY:AVLYST: Kommunestyret\r\nSTATUS:CANCELLED",
        "UID:3\r\nDTSTART;VALUE=DATE:20270122\r\nSUMMARY:Fylkesutvalget",
    )
    rows = parse_ics(data)
    assert [(r.kommunenummer, r.body, r.date) for r in rows] == [
        ("1835", "kommunestyre", date(2027, 1, 20)),
        (None, "county", date(2027, 1, 22)),
    ]


def test_ics_problems_point_at_lines_and_nothing_is_returned() -> None:
    data = ics(
        "UID:1\r\nDTSTART;VALUE=DATE:20270120\r\nSUMMARY:Kommunestyret\r\nX-KOMMUNENUMMER:1836",
        "UID:2\r\nDTSTART;VALUE=DATE:20270121\r\nSUMMARY:Oppvekstutvalget",
        "UID:3\r\nDTSTART;VALUE=DATE:20270122\r\nSUMMARY:Formannskapet",
        "UID:4\r\nSUMMARY:Kommunestyret\r\nX-KOMMUNENUMMER:1836",
        "UID:5\r\nDTSTART;VALUE=DATE:20270101\r\nRRULE:FREQ=MONTHLY\r\nSUMMARY:Kommunestyret",
    )
    with pytest.raises(MeetingPlanInvalid) as caught:
        parse_ics(data)
    assert caught.value.problems == (
        "Linje 10, «SUMMARY»: «Oppvekstutvalget» sier ikke hvilket organ som møtes; "
        "skriv kommunestyre, formannskap eller fylkesting i tittelen, eller oppgi organ for hele filen.",
        "Linje 15, «X-KOMMUNENUMMER»: mangler; møter i formannskapet gjelder én kommune.",
        "Linje 20, «DTSTART»: møtet mangler startdato.",
        "Linje 25, «RRULE»: gjentakende møter støttes ikke; legg inn hvert møte for seg.",
    )


def test_ics_summary_naming_two_bodies_needs_a_default() -> None:
    data = ics("UID:1\r\nDTSTART;VALUE=DATE:20270120\r\nSUMMARY:Formannskap og kommunestyre\r\nX-KOMMUNENUMMER:1836")
    with pytest.raises(MeetingPlanInvalid, match=r"nevner flere organer \(formannskapet og kommunestyret\)"):
        parse_ics(data)
    assert parse_ics(data, default_body="formannskap")[0].body == "formannskap"


def test_ics_bad_file_and_bad_defaults_are_refused_up_front() -> None:
    with pytest.raises(InvalidInput, match="ikke en gyldig iCalendar-fil"):
        parse_ics(b"dette er ingen kalender")
    with pytest.raises(InvalidInput, match="«eldrerådet» er ikke et kjent organ"):
        parse_ics(ics(), default_body="eldrerådet")
    with pytest.raises(InvalidInput, match="«301» er ikke et kommunenummer med fire sifre"):
        parse_ics(ics(), default_kommunenummer="301")
