"""Read-only checks that run the domain's rules before a flow starts.

Starting Prefect (a temporary server) takes seconds; a typo or an out-of-order fact should be
refused in milliseconds. These functions load the case, ask the domain exactly what the
service will ask, and write nothing. The flow repeats the check inside its transaction, so a
change made in between is still caught there.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from avtaleflyt.domain import machine
from avtaleflyt.domain.text import check_text
from avtaleflyt.domain.machine import FactInput
from avtaleflyt.domain.kinds import StatusAction
from avtaleflyt.domain.stages import CaseStatus

from .context import Ctx
from .store import get_case, get_municipality, latest_case, snapshot


def check_open(*, session: Session, kommunenummer: str, opened_on: date, ctx: Ctx) -> None:
    m = get_municipality(session, kommunenummer)
    current = latest_case(session, m)
    machine.open_case(municipality=m.name, opened_on=opened_on, today=ctx.today,
                      has_open_case=current is not None and CaseStatus(current.status).is_open)


def check_fact(*, session: Session, kommunenummer: str, fact: FactInput, ctx: Ctx) -> None:
    m, case = get_case(session, kommunenummer)
    from .store import county_ctx

    ctx = county_ctx(session, m, ctx)
    machine.record_fact(snapshot(session, m, case), fact, ctx.today, ctx.calendar)


def check_status_change(*, session: Session, kommunenummer: str, action: str, on: date,
                        ctx: Ctx, reason: str | None = None) -> None:
    """An unknown action is refused like any bad input (never accepted unchecked)."""
    act = StatusAction.parse(action)
    check_text(reason, "reason", 500, required=False, multiline=True)
    m, case = get_case(session, kommunenummer)
    state = snapshot(session, m, case)
    match act:
        case StatusAction.HOLD:
            machine.hold(state, on, ctx.today, None)
        case StatusAction.RESUME:
            machine.resume(state, on, ctx.today)
        case StatusAction.WITHDRAW:
            machine.withdraw(state, on, ctx.today, None)


def check_note(*, session: Session, kommunenummer: str, noted_on: date, ctx: Ctx) -> None:
    """What `people.add_note` refuses about the case and the date (the text is checked
    by the caller, as the note's form and the CLI do)."""
    from .people import check_note_date

    _, case = get_case(session, kommunenummer)
    check_note_date(case, noted_on, ctx)


def check_assign(*, session: Session, task_id: int, ctx: Ctx, contact_id: int | None = None,
                 user: str | None = None) -> None:
    from .people import check_assignment

    check_assignment(session=session, task_id=task_id, contact_id=contact_id, user=user)


def check_meeting_import(*, session: Session, path, kommunenummer: str | None,
                         body: str | None, ctx: Ctx, county: str | None = None) -> None:
    """`meeting import`: the file is read and every row resolved (all or nothing), as the
    import does, without storing anything."""
    from pathlib import Path

    from .meetings import check_plan_file

    check_plan_file(session, Path(path), kommunenummer=kommunenummer, body=body,
                    county=county)
