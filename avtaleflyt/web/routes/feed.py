"""The calendar feed: open task deadlines as all-day events, by a secret per-user token.

Calendar apps cannot log in, so the address itself is the credential; only its SHA-256 is
stored, and `avtaleflyt user revoke-feed` turns it off. Each task keeps the UID
`task-<id>@avtaleflyt`, so a moved deadline moves the event instead of adding one; SEQUENCE
is the case's version, which grows with every change to the case.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from icalendar import Calendar, Event

from avtaleflyt import runtime
from avtaleflyt.domain.stages import Party, Stage
from avtaleflyt.services import dashboard
from avtaleflyt.services.privacy import log_access_many
from avtaleflyt.services.users import user_for_feed_token

router = APIRouter()

_SCOPES = {"all": None, "county": Party.COUNTY.value, "municipality": Party.MUNICIPALITY.value}
_NAMES = {"all": "Avtaleflyt – alle frister", "county": "Avtaleflyt – fylkets frister",
          "municipality": "Avtaleflyt – kommunenes frister"}


@router.get("/kalender/{token}.ics")
def feed(token: str, ansvar: str = "all") -> Response:
    if ansvar not in _SCOPES:
        raise HTTPException(400, "«ansvar» må være county, municipality eller all.")
    today = runtime.today()
    with runtime.session() as s:
        user = user_for_feed_token(session=s, token=token)
        if user is None:
            raise HTTPException(404, "Ukjent eller tilbaketrukket kalenderadresse.")
        # The feed shows what its owner may see: their county's deadlines only.
        rows = dashboard.feed_tasks(s, today, _SCOPES[ansvar], user.scope)
        # One access log row per municipality the feed shows, so `audit --case KNR` finds it.
        log_access_many(s, username=user.username, action="feed",
                        kommunenumre=sorted({r.kommunenummer for r in rows}),
                        object=f"ansvar={ansvar}")
    cal = Calendar()
    cal.add("prodid", "-//avtaleflyt//fjernledelse//NO")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", _NAMES[ansvar])
    cal.add("x-wr-timezone", "Europe/Oslo")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    for r in rows:
        ev = Event()
        ev.add("uid", f"task-{r.id}@avtaleflyt")
        ev.add("summary", f"{r.municipality}: {r.title}")
        ev.add("dtstart", r.due_on)
        ev.add("dtend", r.due_on + timedelta(days=1))
        ev.add("transp", "TRANSPARENT")
        ev.add("description", f"{Stage(r.stage).label}. Ansvar: {Party(r.responsible).label}. "
                              f"Kommunenummer {r.kommunenummer}.")
        ev.add("categories", [Party(r.responsible).label])
        ev.add("sequence", r.case_version)
        if r.case_updated_at is not None:
            ev.add("dtstamp", r.case_updated_at)
            ev.add("last-modified", r.case_updated_at)
        cal.add_component(ev)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'inline; filename="avtaleflyt-{ansvar}.ics"'})
