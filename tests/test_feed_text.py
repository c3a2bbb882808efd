"""The calendar feed's iCalendar text is written by the route itself (the icalendar package's
objects cost too much per event for a feed of thousands). What a calendar app reads back must
be exactly the task: titles with commas, semicolons, backslashes, line breaks and long
Norwegian text survive, and no line is longer than RFC 5545's 75 octets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from icalendar import Calendar

from avtaleflyt.domain.stages import Party, Stage
from avtaleflyt.services.dashboard import TaskRow
from avtaleflyt.web.routes.feed import _calendar

TITLES = [
    "Lever saksframlegg, budsjett; plan",
    "Sti C:\\bibliotek\\rapport og \\N bokstavelig",
    "To linjer\nandre linje",
    "Månedsrapport fra lokalt ansatte til biblioteksjefen (æøå ÆØÅ) " * 3,
    "x" * 72 + "\\,;" * 10,
]


def test_the_feed_reads_back_as_the_tasks():
    stamp = datetime(2026, 3, 20, 8, 30, 15, tzinfo=UTC)
    rows = [TaskRow(i + 1, "1804", "Bodø, by", "running_operation", title, "county",
                    date(2026, 4, i + 1), 0, i + 2,
                    stamp if i % 2 else stamp.astimezone(timezone(timedelta(hours=2))))
            for i, title in enumerate(TITLES)]
    text = _calendar(rows, "Avtaleflyt – alle frister")
    assert all(len(line) <= 75 for line in text.split(b"\r\n"))
    cal = Calendar.from_ical(text)
    assert str(cal["x-wr-calname"]) == "Avtaleflyt – alle frister"
    events = list(cal.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [
        f"Bodø, by: {t.replace(chr(92) + 'N', chr(10))}" for t in TITLES]
    for row, e in zip(rows, events, strict=True):
        assert str(e["uid"]) == f"task-{row.id}@avtaleflyt"
        assert e.decoded("dtstart") == row.due_on
        assert e.decoded("dtend") == row.due_on + timedelta(days=1)
        assert int(e["sequence"]) == row.case_version
        assert e.decoded("dtstamp") == stamp and e.decoded("last-modified") == stamp
        assert str(e["description"]) == \
            f"{Stage.RUNNING_OPERATION.label}. Ansvar: {Party.COUNTY.label}. Kommunenummer 1804."


def _fold_by_characters(line: str) -> str:
    """RFC 5545 folding a character at a time, as the icalendar package's `foldline` does
    it (which is deprecated there): parts of at most 74 octets, an escape never split."""
    parts, current, size = [], [], 0
    for char in line:
        n = len(char.encode())
        if current and size + n >= 75:
            if len(current) > 1 and current[-1] in "\\^":
                carry = current.pop()
                parts.append("".join(current))
                current, size = [carry], len(carry.encode())
            else:
                parts.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += n
    if current:
        parts.append("".join(current))
    return "\r\n ".join(parts)


def test_long_lines_are_folded_a_character_at_a_time_would_fold_them():
    """`_fold` cuts the UTF-8 bytes instead of walking the characters: the same parts,
    also where a two-, three- or four-byte character or the first half of an escape meets
    the 74-octet boundary."""
    import random

    from avtaleflyt.web.routes.feed import _fold

    rng = random.Random(12)
    alphabet = "abc XYZ,;:\\^æøåÆØÅé€😀"
    lines = ["x" * n for n in range(0, 160)]
    lines += ["x" * n + ch + "y" * 80 for n in range(68, 76) for ch in "\\^æ€😀"]
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
              for _ in range(3000)]
    for line in lines:
        assert _fold(line) == _fold_by_characters(line), line
