"""The calendar feed: open task deadlines as all-day events, by a secret per-user token.

Calendar apps cannot log in, so the address itself is the credential; only its SHA-256 is
stored, and `avtaleflyt user revoke-feed` turns it off. Each task keeps the UID
`task-<id>@avtaleflyt`, so a moved deadline moves the event instead of adding one; SEQUENCE
is the case's version, which grows with every change to the case.

The feed is bounded: deadlines from `[dashboard] feed_days_back` days back to
`feed_days_ahead` days ahead (30 and 400 by default), so it costs the same however much
history the installation holds. Calendar apps poll it: each answer carries an `ETag` and a
`Last-Modified`, and a request with a matching `If-None-Match` (or, without one, an
`If-Modified-Since` no older than the feed's last change) gets 304 Not Modified after one
aggregate query, without building the calendar.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from avtaleflyt import runtime
from avtaleflyt.domain.stages import Party, Stage
from avtaleflyt.services import dashboard
from avtaleflyt.services.privacy import log_access_many
from avtaleflyt.services.users import user_for_feed_token

router = APIRouter()

_SCOPES = {"all": None, "county": Party.COUNTY.value, "municipality": Party.MUNICIPALITY.value}
_NAMES = {"all": "Avtaleflyt – alle frister", "county": "Avtaleflyt – fylkets frister",
          "municipality": "Avtaleflyt – kommunenes frister"}


_FORMAT = "2"  # bump when the feed's rendering changes, so every cached copy is stale


def _etag(version: dashboard.FeedVersion, ansvar: str, scope_key: str) -> str:
    raw = (f"{_FORMAT}|{ansvar}|{scope_key}|{version.first}|{version.last}|{version.count}|"
           f"{version.id_sum}|{version.last_change.isoformat() if version.last_change else ''}")
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _last_modified(version: dashboard.FeedVersion, today) -> datetime:
    """The latest change to a case in the feed, or the start of today if later (the window
    moves with the date). Whole seconds, as HTTP dates have."""
    start = datetime.combine(today, time(0), tzinfo=UTC)
    changed = max(filter(None, (version.last_change, start)))
    return changed.replace(microsecond=0)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        return etag in {m.strip().removeprefix("W/") for m in match.split(",")} or \
            match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return modified <= when
    return False


# The iCalendar text is written here rather than through the icalendar package's objects,
# which cost about half a millisecond of CPU per event (a feed holds thousands); the output
# is the same: RFC 5545 TEXT escaping, lines folded at 75 octets, properties in that
# package's order (tests read the feed back with it).

def _text(value: str) -> str:
    return (value.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;")
            .replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
            .replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Lines longer than 75 octets folded: each part the longest run of whole characters
    of at most 74 octets (a continuation line starts with a space), never ending in the
    first half of an escape; cut on the UTF-8 bytes, not a character at a time."""
    raw = line.encode()
    if len(raw) < 75:
        return line
    parts, start = [], 0
    while len(raw) - start > 74:
        end = start + 74
        while raw[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: not a character's start
            end -= 1
        if raw[end - 1] in b"\\^":  # never split an escape
            end -= 1
        parts.append(raw[start:end])
        start = end
    parts.append(raw[start:])
    return b"\r\n ".join(parts).decode()


def _stamp(value: datetime) -> str:
    """A timestamp in UTC (a naive one is UTC already: the column stores UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y%m%dT%H%M%SZ")


def _calendar(rows: list[dashboard.TaskRow], name: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//avtaleflyt//fjernledelse//NO",
             "CALSCALE:GREGORIAN", _fold(f"X-WR-CALNAME:{name}"),
             "REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-WR-TIMEZONE:Europe/Oslo"]
    stages = {s.value: _text(s.label) for s in Stage}
    parties = {p.value: _text(p.label) for p in Party}
    # What many events share (a case's timestamp, a stage, party and municipality's
    # description, a day) is written once.
    stamps: dict[datetime, str] = {}
    descriptions: dict[tuple[str, str, str], str] = {}
    days: dict[date, tuple[str, str]] = {}
    for r in rows:
        day = days.get(r.due_on)
        if day is None:
            day = days[r.due_on] = (f"DTSTART;VALUE=DATE:{r.due_on:%Y%m%d}",
                                    f"DTEND;VALUE=DATE:{r.due_on + timedelta(days=1):%Y%m%d}")
        lines += ["BEGIN:VEVENT", _fold(f"SUMMARY:{_text(f'{r.municipality}: {r.title}')}"),
                  *day]
        stamp = None
        if r.case_updated_at is not None:
            stamp = stamps.get(r.case_updated_at)
            if stamp is None:
                stamp = stamps[r.case_updated_at] = _stamp(r.case_updated_at)
            lines.append(f"DTSTAMP:{stamp}")
        party = parties[r.responsible]
        key = (r.stage, r.responsible, r.kommunenummer)
        description = descriptions.get(key)
        if description is None:
            description = descriptions[key] = _fold(
                f"DESCRIPTION:{stages[r.stage]}. Ansvar: {party}. "
                f"Kommunenummer {_text(r.kommunenummer)}.")
        lines += [f"UID:task-{r.id}@avtaleflyt", f"SEQUENCE:{r.case_version}",
                  f"CATEGORIES:{party}", description]
        if stamp is not None:
            lines.append(f"LAST-MODIFIED:{stamp}")
        lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


@router.get("/kalender/{token}.ics")
def feed(request: Request, token: str, ansvar: str = "all") -> Response:
    if ansvar not in _SCOPES:
        raise HTTPException(400, "«ansvar» må være county, municipality eller all.")
    today = runtime.today()
    rules = runtime.ctx().config.dashboard
    window = {"days_back": rules.feed_days_back, "days_ahead": rules.feed_days_ahead}
    conditional = ("if-none-match" in request.headers
                   or "if-modified-since" in request.headers)
    with runtime.session() as s:
        user = user_for_feed_token(session=s, token=token)
        if user is None:
            raise HTTPException(404, "Ukjent eller tilbaketrukket kalenderadresse.")
        # The feed shows what its owner may see: their county's deadlines only.
        rows = None
        if conditional:  # one aggregate query may be the whole answer (304)
            version = dashboard.feed_version(s, today, _SCOPES[ansvar], user.scope, **window)
        else:  # the rows are read anyway: their version is theirs, no second query
            rows = dashboard.feed_tasks(s, today, _SCOPES[ansvar], user.scope, **window)
            version = dashboard.feed_version_of(rows, today, **window)
        etag = _etag(version, ansvar, str(user.scope.county_id))
        modified = _last_modified(version, today)
        headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True),
                   "Cache-Control": "private, no-cache"}
        if _not_modified(request, etag, modified):
            # Nothing new is shown, so nothing new is logged: the 200 that delivered this
            # content was logged when it was fetched.
            return Response(status_code=304, headers=headers)
        if rows is None:
            rows = dashboard.feed_tasks(s, today, _SCOPES[ansvar], user.scope, **window)
        # One access log row per municipality the feed shows, so `audit --case KNR` finds it.
        log_access_many(s, username=user.username, action="feed",
                        kommunenumre=sorted({r.kommunenummer for r in rows}),
                        object=f"ansvar={ansvar}")
    body = _calendar(rows, _NAMES[ansvar])
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={**headers,
                             "Content-Disposition": f'inline; filename="avtaleflyt-{ansvar}.ics"'})
