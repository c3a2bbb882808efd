"""Reading council meeting plans (møteplaner) from CSV and iCalendar files.

A political approval can only happen at a meeting, so the imported dates decide when the
approval stage can end. A plan is therefore imported whole or not at all: every bad row is
reported in one Norwegian message, with its line and field, and no partial list is ever
returned — a half-imported plan would quietly move deadlines.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

import icalendar

from avtaleflyt.domain.calendar import oslo_date
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.formatting import InvalidValue, parse_date

KOMMUNESTYRE = "kommunestyre"
FORMANNSKAP = "formannskap"
COUNTY = "county"
BODIES = (KOMMUNESTYRE, FORMANNSKAP, COUNTY)

# Word stems people use for each body. Definite forms ("kommunestyret", "fylkestinget")
# and compounds in titles ("Formannskapsmøte") are covered by matching on the stem.
# Bodø's council is "bystyret"; it is the kommunestyre in law.
_BODY_STEMS: dict[str, str] = {
    "kommunestyre": KOMMUNESTYRE,
    "bystyre": KOMMUNESTYRE,
    "formannskap": FORMANNSKAP,
    "fylkesting": COUNTY,
    "fylkesutvalg": COUNTY,
    "fylkesråd": COUNTY,
}
_KNOWN_BODIES = "kommunestyre, formannskap eller fylkesting"
_BODY_NAMES = {
    KOMMUNESTYRE: "kommunestyret",
    FORMANNSKAP: "formannskapet",
    COUNTY: "fylkeskommunen",
}
_KOMMUNENUMMER = re.compile(r"\d{4}")
_FYLKESNUMMER = re.compile(r"\d{2}")  # a county meeting row may name its county

_COLUMNS: dict[str, tuple[str, ...]] = {
    "kommunenummer": ("kommunenummer",),
    "organ": ("organ", "body"),
    "dato": ("dato", "date"),
    "tittel": ("tittel", "title"),
}
_REQUIRED_COLUMNS = ("kommunenummer", "organ", "dato")


@dataclass(frozen=True)
class MeetingRow:
    """One meeting as read from the file. `body` is one of BODIES; `kommunenummer` is None
    only for county meetings; `line` points back into the file for later messages.
    A county meeting may name its county by fylkesnummer (`county_code`, "18") or through
    one of the county's municipalities (`kommunenummer`)."""

    kommunenummer: str | None
    body: str
    date: date
    title: str | None
    line: int | None
    county_code: str | None = None


class MeetingPlanInvalid(InvalidInput):
    """The plan was refused. `problems` holds one Norwegian sentence per problem, for a
    user interface that wants to show them as a list rather than as one message."""

    def __init__(self, problems: list[str]) -> None:
        listing = "\n".join(f"- {p}" for p in problems)
        super().__init__(
            f"Møteplanen ble ikke importert fordi den har {len(problems)} feil. "
            f"Rett filen og prøv igjen:\n{listing}"
        )
        self.problems = tuple(problems)


def normalize_body(text: str) -> str | None:
    """The body key for a name such as "Kommunestyret", "fylkestinget" or "county";
    None when the name is not a body we know."""
    word = text.strip().lower()
    if word in BODIES:
        return word
    for stem, body in _BODY_STEMS.items():
        if re.fullmatch(rf"{stem}(?:e?t)?", word):
            return body
    return None


def parse_csv(text: str) -> list[MeetingRow]:
    """Rows from a spreadsheet export. The delimiter is whichever of ";" and "," the
    header uses more: Excel with Norwegian settings writes ";", most other tools ",".
    """
    text = text.removeprefix("\ufeff")
    header_line = next((line for line in text.splitlines() if line.strip()), None)
    if header_line is None:
        raise InvalidInput("Møteplanen er tom.")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] = []
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header = [cell.strip().lower() for cell in cells]
            break
    columns = _find_columns(header)

    rows: list[MeetingRow] = []
    problems = _Problems()
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        line = reader.line_num
        where = f"Linje {line}"
        if any(cell.strip() for cell in cells[len(header) :]):
            # Usually a title with an unquoted delimiter; empty trailing cells are harmless.
            problems.add(
                f"{where}: har {len(cells)} felt, men overskriften har {len(header)}"
                f" (bruk anførselstegn rundt tekst som inneholder «{delimiter}»)"
            )
            continue
        values = {name: cells[i].strip() if i < len(cells) else "" for name, i in columns.items()}
        body = _body_from_column(values["organ"], where, problems)
        county_code = None
        if body == COUNTY and _FYLKESNUMMER.fullmatch(values["kommunenummer"]):
            county_code, values["kommunenummer"] = values["kommunenummer"], ""
        nummer = _checked_kommunenummer(values["kommunenummer"], body, where, problems)
        meeting_date: date | None = None
        try:
            meeting_date = parse_date(values["dato"], field="dato")
        except InvalidValue as error:
            problems.add(f"{where}, «dato»: {error.problem}")
        if body is not None and meeting_date is not None:
            title = values.get("tittel") or None
            rows.append(MeetingRow(nummer, body, meeting_date, title, line, county_code))
    problems.raise_if_any()
    return rows


def parse_ics(
    data: bytes,
    default_kommunenummer: str | None = None,
    default_body: str | None = None,
) -> list[MeetingRow]:
    """Meetings from a calendar feed, one per VEVENT.

    The body comes from the event's SUMMARY when it names one ("Kommunestyremøte"), else
    from default_body. Beware that a municipality's full feed also holds committee
    meetings that name no body; with a default they would all be imported as that body.
    Cancelled events (STATUS:CANCELLED) are skipped: an "AVLYST" meeting decides nothing.
    Times are converted to the date in Norway, so a meeting at 00:30 local time stored in
    UTC lands on the right day.
    """
    fallback_body = _checked_default_body(default_body)
    fallback_nummer = _checked_default_kommunenummer(default_kommunenummer)
    try:
        events = icalendar.Calendar.from_ical(data).walk("VEVENT")
    except ValueError:
        raise InvalidInput("Filen er ikke en gyldig iCalendar-fil (.ics).") from None
    lines: list[int | None] = list(_event_lines(data))
    if len(lines) != len(events):
        lines = [None] * len(events)

    rows: list[MeetingRow] = []
    problems = _Problems()
    for number, (event, line) in enumerate(zip(events, lines), start=1):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        where = f"Linje {line}" if line is not None else f"Hendelse {number}"
        if "RRULE" in event:
            problems.add(
                f"{where}, «RRULE»: gjentakende møter støttes ikke; legg inn hvert møte for seg"
            )
            continue
        summary = str(event.get("SUMMARY", "")).strip()
        body = _body_from_summary(summary, fallback_body, where, problems)
        own_nummer = str(event.get("X-KOMMUNENUMMER", "")).strip()
        nummer = _checked_kommunenummer(
            own_nummer or fallback_nummer or "", body, where, problems, field="X-KOMMUNENUMMER"
        )
        meeting_date = _event_date(event, where, problems)
        if body is not None and meeting_date is not None:
            rows.append(MeetingRow(nummer, body, meeting_date, summary or None, line))
    problems.raise_if_any()
    return rows


# -- shared checks ---------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self._items: list[str] = []

    def add(self, sentence: str) -> None:
        self._items.append(sentence if sentence.endswith(".") else f"{sentence}.")

    def raise_if_any(self) -> None:
        if self._items:
            raise MeetingPlanInvalid(self._items)


def _find_columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for name, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in header:
                columns[name] = header.index(alias)
                break
    missing = [f"«{name}»" for name in _REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InvalidInput(
            f"Møteplanen mangler kolonnen {' og '.join(missing)} i første linje. "
            "Første linje må ha kolonnene kommunenummer, organ og dato (tittel kan tas med)."
        )
    return columns


def _checked_kommunenummer(
    nummer: str, body: str | None, where: str, problems: _Problems, field: str = "kommunenummer"
) -> str | None:
    """County meetings may lack a kommunenummer; the municipality's own bodies may not."""
    if nummer and not _KOMMUNENUMMER.fullmatch(nummer):
        problems.add(f"{where}, «{field}»: {_not_a_kommunenummer(nummer)}")
    elif not nummer and body in (KOMMUNESTYRE, FORMANNSKAP):
        problems.add(f"{where}, «{field}»: mangler; møter i {_BODY_NAMES[body]} gjelder én kommune")
    return nummer or None


def _body_from_column(text: str, where: str, problems: _Problems) -> str | None:
    if not text:
        problems.add(f"{where}, «organ»: mangler; bruk {_KNOWN_BODIES}")
        return None
    body = normalize_body(text)
    if body is None:
        problems.add(f"{where}, «organ»: «{text}» er ikke et kjent organ; bruk {_KNOWN_BODIES}")
    return body


def _body_from_summary(
    summary: str, fallback: str | None, where: str, problems: _Problems
) -> str | None:
    lowered = summary.lower()
    named = {body for stem, body in _BODY_STEMS.items() if stem in lowered}
    if len(named) == 1:
        return named.pop()
    if fallback is not None and (not named or fallback in named):
        return fallback
    if named:
        problems.add(
            f"{where}, «SUMMARY»: «{summary}» nevner flere organer"
            f" ({' og '.join(_BODY_NAMES[body] for body in sorted(named))});"
            " oppgi hvilket organ som møtes"
        )
    else:
        problems.add(
            f"{where}, «SUMMARY»: «{summary}» sier ikke hvilket organ som møtes;"
            f" skriv {_KNOWN_BODIES} i tittelen, eller oppgi organ for hele filen"
        )
    return None


def _event_date(event: icalendar.Event, where: str, problems: _Problems) -> date | None:
    if "DTSTART" not in event:
        problems.add(f"{where}, «DTSTART»: møtet mangler startdato")
        return None
    value = event.decoded("DTSTART")
    if isinstance(value, datetime):
        # A floating time (no zone) is already Norwegian wall-clock time.
        return oslo_date(value) if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    problems.add(f"{where}, «DTSTART»: «{value}» er ikke en gyldig dato")
    return None


def _event_lines(data: bytes | str) -> list[int]:
    """Line number of each BEGIN:VEVENT, in the order icalendar returns the events, so
    problems can point into the file. Folding never splits a BEGIN line."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def _checked_default_body(default_body: str | None) -> str | None:
    if default_body is None:
        return None
    body = normalize_body(default_body)
    if body is None:
        raise InvalidInput(
            f"«{default_body}» er ikke et kjent organ; bruk {_KNOWN_BODIES}.", field="organ"
        )
    return body


def _checked_default_kommunenummer(nummer: str | None) -> str | None:
    if nummer is None or not nummer.strip():
        return None
    nummer = nummer.strip()
    if not _KOMMUNENUMMER.fullmatch(nummer):
        raise InvalidInput(f"{_not_a_kommunenummer(nummer)}.", field="kommunenummer")
    return nummer


def _not_a_kommunenummer(nummer: str) -> str:
    # Spreadsheets drop leading zeros, so Oslo's 0301 arrives as 301: say so.
    return f"«{nummer}» er ikke et kommunenummer med fire sifre (for eksempel 1836 eller 0301)"


# -- plausibility ------------------------------------------------------------------------

_WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")


def meeting_warning(on: date, cal, body: str | None = None) -> str | None:
    """A Norwegian warning when a meeting date is implausible — a public holiday (or a day
    the offices are closed), a weekend, or July, when councils rarely meet — naming the
    day. The meeting is still accepted: councils do sometimes meet on odd days, and a
    refused date would be worse than a questioned one. None for an ordinary day."""
    from avtaleflyt.formatting import format_weekday_date

    who = f"Møtet i {_BODY_NAMES[body]}" if body in _BODY_NAMES else "Møtet"
    day = format_weekday_date(on)
    name = cal.holiday_name(on)
    if name:
        return f"{who} {day} er på en helligdag eller fridag ({name}). Stemmer datoen?"
    if on.weekday() >= 5:
        return f"{who} {day} er på en {_WEEKDAYS[on.weekday()]}. Stemmer datoen?"
    if on.month == 7:
        return (f"{who} {day} er i juli, da kommunene vanligvis ikke har politiske møter. "
                "Stemmer datoen?")
    return None


def short_date(d: date) -> str:
    """'4. juni' (the year left out, as in a history line about a meeting plan)."""
    from avtaleflyt.formatting import format_date

    return format_date(d).rsplit(" ", 1)[0]


def body_name(body: str) -> str:
    """'kommunestyret', 'formannskapet', 'fylkeskommunen'."""
    return _BODY_NAMES.get(body, body)
