"""Meeting-plan changes as Prefect flow runs: adding a meeting can move deadlines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow

from avtaleflyt import runtime
from avtaleflyt.services import meetings


@flow(name="add-meeting")
def add_meeting(body: str, meeting_date: date, kommunenummer: str | None = None,
                title: str | None = None, today: date | None = None,
                actor: str | None = None, county: str | None = None) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        return meetings.add_meeting(session=s, kommunenummer=kommunenummer, body=body,
                                    on=meeting_date, title=title, ctx=ctx,
                                    county=county).as_dict()


@flow(name="import-meetings")
def import_meetings(path: str, kommunenummer: str | None = None, body: str | None = None,
                    today: date | None = None, actor: str | None = None,
                    county: str | None = None) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        return meetings.import_meetings(session=s, path=Path(path), kommunenummer=kommunenummer,
                                        body=body, ctx=ctx, county=county).as_dict()
