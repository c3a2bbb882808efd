"""Ny sak: open a case from the dashboard, as `avtaleflyt case open KNR [--date D]` does.

The form offers the municipalities of the user's county (every county's for a national user)
that have no open case. The same preflight and the same flow (`open-case`, through the command
inbox) as the CLI; a refusal comes back on the form with the field marked and nothing written;
success goes to the new case's page with what comes next.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request

from avtaleflyt import runtime
from avtaleflyt.domain.errors import DomainError, InvalidInput
from avtaleflyt.domain.stages import CaseStatus
from avtaleflyt.formatting import parse_date
from avtaleflyt.services import preflight
from avtaleflyt.services.queries import municipality_rows
from avtaleflyt.services.store import get_municipality
from avtaleflyt.services.users import UserView

from ..auth import check_csrf, current_user
from .case import _done, _run, _status

router = APIRouter()
User = Annotated[UserView, Depends(current_user)]
F = Annotated[str, Form()]


def _choices(user: UserView) -> dict[str, list[dict[str, Any]]]:
    """{county name: municipalities without an open case}, in kommunenummer order."""
    with runtime.session() as s:
        rows = municipality_rows(s, user.scope)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] is None or not CaseStatus(r["status"]).is_open:
            groups.setdefault(r["county"], []).append(r)
    return groups


def _form(request: Request, user: UserView, status_code: int = 200, **extra: Any):
    return request.app.state.pages.render(request, "newcase.html.j2", status_code,
                                          title="Ny sak", user=user, groups=_choices(user),
                                          **extra)


@router.get("/ny-sak")
def new_case_form(request: Request, user: User):
    return _form(request, user)


@router.post("/ny-sak")
def open_case(request: Request, user: User, csrf_token: F = "", kommunenummer: F = "",
              date: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    knr = kommunenummer.strip()
    values = {"kommunenummer": knr, "date": date}
    try:
        if not knr:
            raise InvalidInput("«Kommune» mangler: velg en kommune.",
                               field="kommunenummer")
        on = parse_date(date, "date") if date.strip() else None
        ctx = runtime.ctx(actor=user.username)
        with runtime.session() as s:
            # Another county's municipality is "not found", as on the case pages.
            get_municipality(s, knr, user.scope)
            preflight.check_open(session=s, kommunenummer=knr, opened_on=on or ctx.today,
                                 ctx=ctx)
        result = _run(user, "open_case", idempotency_key, kommunenummer=knr, opened_on=on)
    except DomainError as e:
        # A refusal about the case (it has one open already) is about the chosen municipality.
        field = "date" if e.field == "date" else "kommunenummer"
        return _form(request, user, _status(e), form="newcase", values=values,
                     errors={field: e.message})
    return _done(request, knr, result)
