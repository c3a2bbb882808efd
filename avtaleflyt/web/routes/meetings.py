"""Møteplan: the county's upcoming council meetings, and the forms that change the plan.

Adding, moving and cancelling a meeting and uploading a meeting plan (CSV or iCalendar) run
the same flows as `avtaleflyt meeting add|move|cancel|import` (`flows/meetings.py`) through
the command inbox; an upload's text goes into the command's payload (a meeting plan holds
no personal data), and the flow gets only the command's id. Each form is checked first with
the same service functions, read-only, so a refusal — a malformed line, a date in the past —
comes back on the form without a flow run and nothing is written; the flow checks again.

County scope: the page lists only meetings of the user's county, and a municipality, county
or meeting of another county is a 404, with the same words as one that does not exist.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from avtaleflyt import runtime
from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from avtaleflyt.domain.meetingplan import BODIES, COUNTY, MeetingPlanInvalid
from avtaleflyt.domain.text import check_text
from avtaleflyt.formatting import format_count, parse_date
from avtaleflyt.services import meetings
from avtaleflyt.services.queries import county_rows, municipality_rows
from avtaleflyt.services.scope import county_by_code
from avtaleflyt.services.store import get_municipality
from avtaleflyt.services.users import UserView

from ..auth import check_csrf, current_user, flash

router = APIRouter()
User = Annotated[UserView, Depends(current_user)]
F = Annotated[str, Form()]

PLAN_LIMIT = meetings.PLAN_MAX_BYTES
_FORM_OVERHEAD = 64 * 1024  # the form's other fields and the multipart framing
_TOO_BIG = ("Filen er for stor: en møteplan kan være høyst 1 MB. Ingenting ble importert. "
            "Del den opp, eller last opp bare de kommende møtene.")
_KNR = re.compile(r"^\d{4}$")
_COUNTY_CHOICE = re.compile(r"^fylke:(\d{2})$")
BODY_CHOICES = (("kommunestyre", "Kommunestyret"), ("formannskap", "Formannskapet"),
                (COUNTY, "Fylkeskommunens organ (fylkesting, fylkesutvalg)"))
_WARNINGS_SHOWN = 5
PER_MUNICIPALITY = 6  # meetings per municipality on the unfiltered page


class _Refused(Exception):
    """A form refused before anything ran: the page again, with the form's message."""

    def __init__(self, form: str, error: DomainError, field: str, problems=()) -> None:
        self.form, self.error, self.field, self.problems = form, error, field, list(problems)


def _status(e: DomainError) -> int:
    if isinstance(e, NotFound):
        return 404
    return 409 if isinstance(e, Conflict) else 422


def _not_found(request: Request, user: UserView, e: DomainError):
    return request.app.state.pages.render(request, "error.html.j2", 404, title="Fant ikke",
                                          message=e.message, user=user)


def _filter(kommune: str | None) -> str | None:
    """The page's municipality filter, if it is a kommunenummer (else no filter)."""
    kommune = (kommune or "").strip()
    return kommune if _KNR.match(kommune) else None


def _page(request: Request, user: UserView, kommune: str | None = None,
          status_code: int = 200, **extra: Any):
    today = runtime.today()
    with runtime.session() as s:
        try:
            chosen = get_municipality(s, kommune, user.scope) if kommune else None
        except DomainError as e:
            return _not_found(request, user, e)
        rows = meetings.list_meetings(s, chosen.kommunenummer if chosen else None, today,
                                      user.scope)
        places = municipality_rows(s, user.scope)
        counties = ([{"code": user.scope.county_code, "name": user.scope.county_name}]
                    if not user.scope.national else county_rows(s))
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["kommunenummer"] or f"fylke:{r['county_code']}"
        name = (f"{r['kommunenummer']} {r['municipality']}" if r["kommunenummer"]
                else f"Fylkeskommunen ({_county_name(counties, r['county_code'])})")
        groups.setdefault(key, {"name": name, "meetings": []})["meetings"].append(r)
    # Municipalities in number order; the county's own bodies last. Without a filter each
    # municipality shows its next few meetings (a county's whole year would be hundreds of
    # rows, each with its forms) and a link to all of them.
    ordered = sorted(groups.items(), key=lambda kv: (kv[0].startswith("fylke:"), kv[0]))
    for key, g in ordered:
        g["total"], g["knr"] = len(g["meetings"]), None if key.startswith("fylke:") else key
        if chosen is None and g["knr"]:
            g["meetings"] = g["meetings"][:PER_MUNICIPALITY]
    extra.setdefault("errors", {})
    extra.setdefault("values", {})
    extra.setdefault("form", None)
    extra.setdefault("problems", [])
    return request.app.state.pages.render(
        request, "meetings.html.j2", status_code, title="Møteplan", user=user,
        groups=[g for _, g in ordered], chosen=chosen, places=places, counties=counties,
        bodies=BODY_CHOICES, limit_mb=PLAN_LIMIT // (1024 * 1024), **extra)


def _county_name(counties: list[dict[str, Any]], code: str) -> str:
    name = next((c["name"] for c in counties if c["code"] == code), code)
    return (name or code).removesuffix(" fylkeskommune")


def _refused(request: Request, user: UserView, kommune: str | None, r: _Refused,
             values: dict[str, Any]):
    if isinstance(r.error, NotFound):
        return _not_found(request, user, r.error)
    return _page(request, user, kommune, _status(r.error), form=r.form, values=values,
                 errors={r.field: r.error.message}, problems=r.problems)


def _run(user: UserView, name: str, key: str, **params: Any) -> dict[str, Any]:
    """Store the command (with the form's idempotency key) and run its flow, as the case
    page does; the dashboard user's county limits what the flow may touch."""
    return runtime.run_command(name, key=key or None, today=runtime.today(),
                               actor=user.username, scope_county=user.scope.county_code,
                               **params)


def _done(request: Request, result: dict[str, Any], knr: str | None, back: str | None):
    """The result, its warnings and — for a municipality's meeting — what comes next in its
    case ("Neste frist: …"), as the case page says it; then back to the plan."""
    from avtaleflyt.services.next_step import next_step

    message = result["message"]
    warnings = list(result.get("warnings") or [])
    for warning in warnings[:_WARNINGS_SHOWN]:
        message += f" Advarsel: {warning}"
    if len(warnings) > _WARNINGS_SHOWN:
        more = len(warnings) - _WARNINGS_SHOWN
        message += f" … og {format_count(more, 'advarsel', 'advarsler')} til."
    if knr:
        with runtime.session() as s:
            step = next_step(session=s, kommunenummer=knr, ctx=runtime.ctx())
        if step:
            message += f" {step['text']}"
    flash(request, message)
    return RedirectResponse(f"/moter?kommune={back}" if back else "/moter", status_code=303)


@router.get("/moter")
def meetings_page(request: Request, user: User, kommune: str | None = None):
    kommune = (kommune or "").strip()
    if kommune and not _KNR.match(kommune):
        return _not_found(request, user, NotFound(
            f"Fant ingen kommune med kommunenummer «{kommune[:20]}»."))
    return _page(request, user, kommune or None)


def _place(s, user: UserView, choice: str, body: str) -> tuple[str | None, str | None]:
    """(kommunenummer, county code) the form's «Hvor» names, checked against the body."""
    if body not in BODIES:
        raise _Refused("meeting-add", InvalidInput(
            "«Organ» mangler: velg kommunestyret, formannskapet eller fylkeskommunens organ."),
            "organ")
    choice = choice.strip()
    if not choice:
        raise _Refused("meeting-add", InvalidInput(
            "«Hvor» mangler: velg kommunen (eller fylkeskommunen) som møtes."), "kommune")
    county = _COUNTY_CHOICE.match(choice)
    if county:
        c = county_by_code(s, county[1], "kommune")
        if not user.scope.allows(c.id):
            raise NotFound(f"Fant ikke fylke «{county[1]}».")
        if body != COUNTY:
            raise _Refused("meeting-add", InvalidInput(
                "«Organ»: fylkeskommunen møtes i fylkeskommunens organ; velg det, eller velg "
                "en kommune for kommunestyret eller formannskapet."), "organ")
        return None, c.code
    m = get_municipality(s, choice, user.scope)  # another county's: not found
    if body == COUNTY:
        raise _Refused("meeting-add", InvalidInput(
            f"«Hvor»: fylkeskommunens organ hører til fylket, ikke til {m.name}; velg "
            "fylkeskommunen under «Hvor»."), "kommune")
    return m.kommunenummer, None


_ADD_FIELDS = {"date": "date", "title": "title", "kommunenummer": "kommune",
               "kommune": "kommune", "county": "kommune", "body": "organ", "organ": "organ"}


def _answer(request: Request, user: UserView, back: str | None, form: str, e: Exception,
            field: str, values: dict[str, Any]):
    """A refusal: another county's (or an unknown) thing is a 404 page, anything else
    comes back on the form with `field` marked."""
    if isinstance(e, _Refused):
        return _refused(request, user, back, e, values)
    if isinstance(e, NotFound):
        return _not_found(request, user, e)
    return _refused(request, user, back, _Refused(form, e, field,
                                                  getattr(e, "problems", ())), values)


@router.post("/moter")
def add_meeting(request: Request, user: User, csrf_token: F = "", idempotency_key: F = "",
                kommune: F = "", organ: F = "", date: F = "", title: F = "", filter: F = ""):
    check_csrf(request, csrf_token)
    values = {"kommune": kommune, "organ": organ, "date": date, "title": title}
    back, fid = _filter(filter), "meeting-add"
    try:
        with runtime.session() as s:
            knr, county = _place(s, user, kommune, organ)
        on = _meeting_date(date, fid)
        title_ = check_text(title, "title", 200, required=False, label="«Tittel»")
        result = _run(user, "add_meeting", idempotency_key, body=organ, meeting_date=on,
                      kommunenummer=knr, title=title_, county=county)
    except (_Refused, DomainError) as e:
        field = _ADD_FIELDS.get(getattr(e, "field", None) or "", "_")
        return _answer(request, user, back, fid, e, field, values)
    return _done(request, result, knr, back)


def _meeting_date(value: str, form: str) -> date:
    if not value.strip():
        raise _Refused(form, InvalidInput("«Dato» mangler: skriv datoen møtet holdes."),
                       "date")
    on = parse_date(value, "date")
    if on < runtime.today():  # checked again inside the flow; answer before it starts
        from avtaleflyt.formatting import format_date

        raise _Refused(form, InvalidInput(
            f"«Dato»: {format_date(on)} er før i dag ({format_date(runtime.today())}); "
            "legg inn kommende møter."), "date")
    return on


def _meeting_in_scope(user: UserView, meeting_id: int) -> str | None:
    """The kommunenummer of the meeting's municipality (None for a county body). Another
    county's meeting, or one that does not exist, is NotFound."""
    from avtaleflyt.models import Municipality

    with runtime.session() as s:
        meeting = meetings._get_meeting(s, meeting_id, user.scope)
        m = s.get(Municipality, meeting.municipality_id) if meeting.municipality_id else None
        return m.kommunenummer if m else None


@router.post("/moter/{meeting_id}/flytt")
def move_meeting(request: Request, user: User, meeting_id: int, csrf_token: F = "",
                 idempotency_key: F = "", date: F = "", filter: F = ""):
    check_csrf(request, csrf_token)
    fid, back = f"meeting-{meeting_id}", _filter(filter)
    try:
        knr = _meeting_in_scope(user, meeting_id)
        if not date.strip():
            raise InvalidInput("«Ny dato» mangler: skriv datoen møtet flyttes til.",
                               field="date")
        on = parse_date(date, "date")
        result = _run(user, "move_meeting", idempotency_key, meeting_id=meeting_id,
                      meeting_date=on)
    except (_Refused, DomainError) as e:
        return _answer(request, user, back, fid, e, "date", {"date": date})
    return _done(request, result, knr, back)


@router.post("/moter/{meeting_id}/avlys")
def cancel_meeting(request: Request, user: User, meeting_id: int, csrf_token: F = "",
                   idempotency_key: F = "", confirm: F = "", filter: F = ""):
    check_csrf(request, csrf_token)
    fid, back = f"meeting-{meeting_id}", _filter(filter)
    try:
        knr = _meeting_in_scope(user, meeting_id)
        if not confirm:
            raise InvalidInput("Kryss av for å bekrefte at møtet er avlyst.", field="confirm")
        result = _run(user, "cancel_meeting", idempotency_key, meeting_id=meeting_id)
    except (_Refused, DomainError) as e:
        return _answer(request, user, back, fid, e, "confirm", {})
    return _done(request, result, knr, back)


# --- uploading a meeting plan --------------------------------------------------------------


class _TooBig(Exception):
    pass


class _Unreadable(Exception):
    pass


async def _read_form(request: Request) -> dict[str, Any]:
    """The multipart form, read with a limit: a body over the limit is read to its end (so
    the browser gets our answer, not a reset connection) but never kept or parsed."""
    chunks, total = [], 0
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    async for chunk in request.stream():
        total += len(chunk)
        if total <= PLAN_LIMIT + _FORM_OVERHEAD:
            chunks.append(chunk)
    if total > PLAN_LIMIT + _FORM_OVERHEAD:
        raise _TooBig()
    if not multipart:  # no form a page of ours sends: no fields, so no CSRF token (403)
        return {}

    async def body():
        for chunk in chunks:
            yield chunk

    try:
        form = await MultiPartParser(request.headers, body(), max_files=1, max_fields=10,
                                     max_part_size=PLAN_LIMIT).parse()
    except MultiPartException:
        raise _Unreadable() from None
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read(PLAN_LIMIT + 1)
            await value.close()
            if len(data) > PLAN_LIMIT:
                raise _TooBig()
            fields[name] = (value.filename or "", data)
        else:
            fields.setdefault(name, value)
    return fields


def _plan_name(raw: str) -> str:
    """The uploaded file's own name, without any path a browser sent, for the messages."""
    name = PurePath(raw.replace("\\", "/")).name.strip() or "møteplanen"
    return re.sub(r"[\x00-\x1f\x7f]", "", name)[:100]


@router.post("/moter/last-opp")
async def upload_plan(request: Request, user: User):
    try:
        fields = await _read_form(request)
    except _TooBig:
        return await run_in_threadpool(_page, request, user, None, 413, form="plan-upload",
                                       errors={"file": _TOO_BIG})
    except _Unreadable:
        return await run_in_threadpool(
            _page, request, user, None, 400, form="plan-upload",
            errors={"file": "Opplastingen kunne ikke leses. Velg filen på nytt og prøv igjen; "
                            "ingenting ble importert."})
    return await run_in_threadpool(_import_plan, request, user, fields)


def _import_plan(request: Request, user: UserView, fields: dict[str, Any]):
    check_csrf(request, str(fields.get("csrf_token", "")))
    kommune = str(fields.get("kommune", "")).strip()
    organ = str(fields.get("organ", "")).strip()
    back, fid = _filter(str(fields.get("filter", ""))), "plan-upload"
    values = {"kommune": kommune, "organ": organ}
    raw_name, data = fields.get("plan") or ("", b"")
    name = _plan_name(raw_name)
    try:
        if not data:
            raise InvalidInput("«Fil» mangler: velg møteplanen (CSV eller .ics) du vil laste "
                               "opp.", field="file")
        if organ and organ not in BODIES:
            raise _Refused(fid, InvalidInput("«Organ»: velg et organ fra listen."), "organ")
        county = user.scope.county_code  # county rows without a fylkesnummer: the user's
        text = meetings.plan_text(data, name)
        with runtime.session() as s:
            knr = get_municipality(s, kommune, user.scope).kommunenummer if kommune else None
            count = meetings.check_plan(s, text, name, kommunenummer=knr, body=organ or None,
                                        county=county, scope=user.scope)
        if not count:
            raise InvalidInput(f"{name} har ingen møter å importere.", field="file")
        result = _run(user, "import_meetings", str(fields.get("idempotency_key", "")),
                      plan=text, filename=name, kommunenummer=knr, body=organ or None,
                      county=county)
    except MeetingPlanInvalid as e:
        # The list below the field names each line; the field's message says what happened.
        summary = InvalidInput(f"Møteplanen {name} ble ikke importert fordi den har "
                               f"{format_count(len(e.problems), 'feil', 'feil')}. Ingenting "
                               "ble lagret. Rett filen og prøv igjen:")
        return _refused(request, user, back, _Refused(fid, summary, "file", e.problems), values)
    except (_Refused, DomainError) as e:
        field = {"kommunenummer": "kommune", "organ": "organ"}.get(
            getattr(e, "field", None) or "", "file")
        return _answer(request, user, back, fid, e, field, values)
    return _done(request, result, None, back)
