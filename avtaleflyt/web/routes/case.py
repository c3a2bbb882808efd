"""Sak: one municipality's case, and the forms that change it.

Each form is validated with the same functions the CLI uses before any flow starts; a
refusal — from the validation or from the domain inside the flow — comes back on the same
form with the field marked, and nothing is written. Success is post/redirect/get.
"""

from __future__ import annotations

import datetime as dt  # form fields are called `date`
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from avtaleflyt import runtime
from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound, ref
from avtaleflyt.domain.facts import facts_possible, form_fields, likely_next
from avtaleflyt.domain.kinds import StatusAction
from avtaleflyt.domain.stages import CaseStatus, Stage
from avtaleflyt.domain.text import check_text
from avtaleflyt.formatting import format_date_short, parse_date
from avtaleflyt.services import preflight
from avtaleflyt.services.dashboard import case_task_contacts
from avtaleflyt.services import document_store
from avtaleflyt.services.documents import list_documents
from avtaleflyt.services.facts import build_fact, parse_theme
from avtaleflyt.services.meetings import list_meetings
from avtaleflyt.services.privacy import log_access
from avtaleflyt.services.queries import case_detail
from avtaleflyt.services.store import get_municipality
from avtaleflyt.services.users import UserView

from .. import charts
from ..auth import check_csrf, current_user, flash

F = Annotated[str, Form()]


class CaseNotVisible(Exception):
    """The municipality does not exist, or lies in a county the user may not see: both get
    the same 404 page, so a user cannot even tell another county's case exists."""

    def __init__(self, message: str, status_code: int = 404) -> None:
        self.message = message
        self.status_code = status_code  # 422 for a malformed kommunenummer


def visible_knr(request: Request, knr: str,
                user: Annotated[UserView, Depends(current_user)]) -> str:
    """Every /sak/{knr} route goes through this before it reads or changes anything."""
    request.state.user = user
    with runtime.session() as s:
        try:
            get_municipality(s, knr, user.scope)
        except DomainError as e:
            if request.method == "GET" and _KNR.match(knr):
                # A refused look at a case is logged too: the DPO sees who tried to read
                # another county's case (the user still only gets the 404).
                log_access(s, username=user.username, action="case_page_denied",
                           kommunenummer=knr, object=request.url.path[:200])
            raise CaseNotVisible(e.message, _status(e)) from None
    return knr


_KNR = re.compile(r"^\d{4}$")


router = APIRouter(dependencies=[Depends(visible_knr)])
User = Annotated[UserView, Depends(current_user)]

# Errors about something the form has no field for go to the form's general message.
_NOT_A_FORM_FIELD = {"kommunenummer", "task_id"}


def _field(e: DomainError) -> str:
    name = e.field or "_"
    return "_" if name in _NOT_A_FORM_FIELD else name


def _status(e: DomainError) -> int:
    if isinstance(e, NotFound):
        return 404
    return 409 if isinstance(e, Conflict) else 422


def _page(request: Request, user: UserView, knr: str, status_code: int = 200, **extra: Any):
    try:
        with runtime.session() as s:
            detail = case_detail(s, knr, runtime.today(), with_personal_data=True)
            documents = list_documents(session=s, kommunenummer=knr)
            meetings = list_meetings(s, knr, since=runtime.today())[:8]
            from avtaleflyt.services.split import split_rows

            split = split_rows(s, knr)
            assigned = case_task_contacts(s, detail["case_id"])
            from avtaleflyt.services.people import assignee_choices

            assignees = assignee_choices(s, knr)
            attention = _attention(s, knr, detail)
            if status_code == 200 and request.method == "GET":
                # The page shows the case and its contact persons (personal data).
                log_access(s, username=user.username, action="case_page", kommunenummer=knr,
                           case_id=detail["case_id"],
                           object=f"kontaktpersoner: {len(detail.get('contacts', []))}")
        if user.scope.national:
            # A county's notes are seen outside the county only when it shared them
            # (`note add --share`); a national user sees the others' shared ones.
            hidden = sum(1 for n in detail["notes"] if not n.get("shared"))
            detail["notes"] = [n for n in detail["notes"] if n.get("shared")]
            extra.setdefault("hidden_notes", hidden)
        # Open tasks first (by due date), then what is done.
        detail["tasks"].sort(key=lambda t: (t["done_on"] is not None, t["due_on"] or "9999",
                                            "" if t["done_on"] is None else t["done_on"]))
    except DomainError as e:
        return request.app.state.pages.render(request, "error.html.j2", _status(e),
                                              title="Fant ikke saken", message=e.message,
                                              user=user)
    fact_form = _fact_form(detail)
    if extra.get("form") == "fact":
        # A refusal about a field this case's form does not show (a fact of another
        # stage) is shown as the form's general message, once.
        shown = {"fact", "date"} | {f.name for g in fact_form["groups"] for f in g["fields"]}
        extra["errors"] = {(k if k in shown else "_"): v
                           for k, v in extra.get("errors", {}).items()}
    return request.app.state.pages.render(
        request, "case.html.j2", status_code, title=detail["municipality"], user=user, d=detail,
        timeline=charts.case_timeline(detail), documents=documents, meetings=meetings,
        assigned=assigned, split=split, fact_form=fact_form, attention=attention,
        assignees=assignees, **extra)


def _attention(s, knr: str, detail: dict[str, Any]):
    """Days in stage against the norm, deadline moves, står fast: the board's line."""
    from avtaleflyt.services.dashboard import case_attention, case_moves
    from avtaleflyt.services.store import county_codes

    ctx = runtime.ctx()
    m = get_municipality(s, knr)
    config = ctx.config.for_county(county_codes(s, ctx).get(m.county_id))
    return case_attention(stage=Stage(detail["stage"]), status=detail["status"],
                          entered_on=dt.date.fromisoformat(detail["stage_entered_on"]),
                          moves=case_moves(s, detail["case_id"]), today=runtime.today(),
                          config=config)


def _fact_form(detail: dict[str, Any]) -> dict[str, Any]:
    """The facts the case can take now (none when it is on hold or closed), the one most
    likely next, and their fields grouped by the facts that use them."""
    possible = facts_possible(Stage(detail["stage"]), CaseStatus(detail["status"]))
    recorded = [(e["kind"], e.get("details") or {}) for e in detail["history"]]
    groups: dict[tuple[str, ...], list] = {}
    for f, used_by in form_fields(possible):
        groups.setdefault(tuple(s.cli_name for s in used_by), []).append(f)
    by_name = {s.cli_name: s for s in possible}
    likely = likely_next(possible, recorded)
    return {"facts": possible, "likely": likely.cli_name if likely else None,
            "groups": [{"facts": [by_name[k] for k in keys], "fields": fields}
                       for keys, fields in groups.items()]}


def _refused(request, user, knr, form: str, e: DomainError, values: dict[str, Any]):
    return _page(request, user, knr, _status(e), form=form, values=values,
                 errors={_field(e): e.message})


def _require_task_of(knr: str, task_id: int) -> None:
    """A task is completed from its own case's page; an id from another page is refused."""
    from avtaleflyt.services.store import task_kommunenummer

    with runtime.session() as s:
        if task_kommunenummer(s, task_id) != knr:
            raise NotFound("Oppgaven hører ikke til denne saken. Velg en oppgave fra listen.",
                           field="task_id")


def _date_or_none(value: str, field: str = "date"):
    return parse_date(value, field) if value and value.strip() else None


def _preflight(check, **params: Any) -> None:
    """The domain's refusal before a flow starts (services/preflight.py), so a refused
    form never shows up as a failed flow run; the flow checks again in its transaction."""
    with runtime.session() as s:
        check(session=s, **params)


def _run(user: UserView, name: str, key: str, **params: Any) -> dict[str, Any]:
    """Store the command (with the form's idempotency key) and run its flow, which gets
    only the command's id: the note text, the reason and the login name stay in our
    database. A form without a key (an old page) gets a new one."""
    return runtime.run_command(name, key=key or None, today=runtime.today(),
                               actor=user.username, **params)


def _done(request: Request, knr: str, result: dict[str, Any]):
    message = result["message"]
    for warning in result.get("warnings") or []:
        message += f" Advarsel: {warning}"
    for t in result.get("transitions", []):
        message += (f" Ny fase: {Stage(t['to']).label} fra "
                    f"{format_date_short(dt.date.fromisoformat(t['on']))}.")
    from avtaleflyt.services.next_step import next_step

    with runtime.session() as s:  # what comes next, read after the change
        step = next_step(session=s, kommunenummer=knr, ctx=runtime.ctx())
    if step:
        message += f" {step['text']}"
    flash(request, message)
    return RedirectResponse(f"/sak/{knr}", status_code=303)


@router.get("/sak/{knr}")
def case_page(request: Request, user: User, knr: str):
    return _page(request, user, knr)


@router.get("/sak/{knr}/dokument/{kind}/{version}.{fmt}")
def document(request: Request, user: User, knr: str, kind: str, version: int, fmt: str):
    """A stored document of the municipality, looked up in the database (never a path
    taken from the URL)."""
    with runtime.session() as s:
        try:
            docs = list_documents(session=s, kommunenummer=knr)
        except DomainError as e:
            return request.app.state.pages.render(request, "error.html.j2", _status(e),
                                                  title="Fant ikke dokumentet",
                                                  message=e.message, user=user)
    doc = next((d for d in docs if (d["kind"], d["version"], d["format"]) ==
                (kind, version, fmt)), None)
    if doc is None:
        return request.app.state.pages.render(request, "error.html.j2", 404,
                                              title="Fant ikke dokumentet",
                                              message="Dokumentet finnes ikke.", user=user)
    with runtime.session() as s:
        data = document_store.read_blob(s, doc["sha256"])
        log_access(s, username=user.username, action="document", kommunenummer=knr,
                   case_id=doc.get("case_id"), object=f"{kind} v{version} ({fmt})")
    media = {"html": "text/html; charset=utf-8", "docx": "application/vnd.openxmlformats-"
             "officedocument.wordprocessingml.document",
             "pdf": "application/pdf"}.get(fmt, "application/octet-stream")
    # HTML documents are downloaded rather than shown, so they never run in our origin.
    name = doc["path"].rsplit("/", 1)[-1]
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "ETag": f'"{doc["sha256"]}"', "Cache-Control": "private, no-store"})


@router.post("/sak/{knr}/fakta")
def record_fact(request: Request, user: User, knr: str, csrf_token: F = "",
                idempotency_key: F = "", fact: F = "",
                date: F = "", outcome: F = "", reference: F = "", party: F = "",
                start: F = "", years: F = "", notice_months: F = "", price: F = "",
                position_share: F = "", site_visits: F = "", months: F = "", renewal: F = "",
                situation: F = ""):
    check_csrf(request, csrf_token)
    values = {"fact": fact, "date": date, "outcome": outcome, "reference": reference,
              "party": party, "start": start, "years": years, "months": months,
              "renewal": renewal, "notice_months": notice_months,
              "price": price, "position_share": position_share, "site_visits": site_visits,
              "situation": situation}
    try:
        if not fact.strip():
            raise InvalidInput(f"{ref('fact')} mangler: velg hva som skjedde.", field="fact")
        # Fields filled in for another fact are refused by name (the script disables the
        # fields of facts not chosen, so they are not even sent).
        options = {k: v for k, v in values.items()
                   if k not in ("fact", "date", "situation") and v.strip()}
        on = _date_or_none(date)
        ctx = runtime.ctx(actor=user.username)
        fact_input = build_fact(fact, on or ctx.today, options, ctx)
        # The municipality's situation (needs-assessed only) is personal text: checked here,
        # stored by the command inbox in `personal_text`.
        extra = {}
        if situation.strip():
            from avtaleflyt.services.cases import check_situation
            from avtaleflyt.services.texts import clean

            check_situation(fact_input, situation)
            extra["situation"] = clean(situation, "situation", required=False)
        _preflight(preflight.check_fact, kommunenummer=knr, fact=fact_input, ctx=ctx)
        result = _run(user, "record_fact", idempotency_key, kommunenummer=knr, fact=fact,
                      occurred_on=on, options=options, **extra)
    except DomainError as e:
        return _refused(request, user, knr, "fact", e, values)
    return _done(request, knr, result)


@router.post("/sak/{knr}/oppgave")
def complete_task(request: Request, user: User, knr: str, csrf_token: F = "",
                  task_id: F = "", date: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    values = {"task_id": task_id, "date": date}
    try:
        on = _date_or_none(date)
        if not task_id.isdigit():
            raise NotFound("Velg en oppgave fra listen.", field="task_id")
        _require_task_of(knr, int(task_id))
        result = _run(user, "complete_task", idempotency_key, task_id=int(task_id), done_on=on)
    except DomainError as e:
        # The task's row may have no form (done since), so the message goes to the top;
        # the row's date field is still marked when the date was the problem.
        errors = {"_": e.message}
        if _field(e) == "date":
            errors["date"] = e.message
        return _page(request, user, knr, _status(e), form=f"task-{task_id}", values=values,
                     errors=errors)
    return _done(request, knr, result)


@router.post("/sak/{knr}/notat")
def add_note(request: Request, user: User, knr: str, csrf_token: F = "", theme: F = "other",
             text: F = "", date: F = "", share: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    values = {"theme": theme, "text": text, "date": date, "share": share}
    try:
        on = _date_or_none(date)
        parse_theme(theme)
        check_text(text, "text", 5000, multiline=True)
        result = _run(user, "add_note", idempotency_key, kommunenummer=knr, theme=theme,
                      text=text, noted_on=on, shared=bool(share))
    except DomainError as e:
        return _refused(request, user, knr, "note", e, values)
    return _done(request, knr, result)


@router.post("/sak/{knr}/vent")
def hold(request: Request, user: User, knr: str, csrf_token: F = "", date: F = "",
         reason: F = "", idempotency_key: F = ""):
    return _status_action(request, user, knr, StatusAction.HOLD, csrf_token, date, reason,
                          idempotency_key)


@router.post("/sak/{knr}/gjenoppta")
def resume(request: Request, user: User, knr: str, csrf_token: F = "", date: F = "",
           idempotency_key: F = ""):
    return _status_action(request, user, knr, StatusAction.RESUME, csrf_token, date, "",
                          idempotency_key)


@router.post("/sak/{knr}/trekk")
def withdraw(request: Request, user: User, knr: str, csrf_token: F = "", date: F = "",
             reason: F = "", confirm: F = "", idempotency_key: F = ""):
    """Withdraw the case (it closes): only with the confirmation box ticked."""
    return _status_action(request, user, knr, StatusAction.WITHDRAW, csrf_token, date, reason,
                          idempotency_key, confirmed=bool(confirm))


def _status_action(request, user, knr, action, csrf_token, date, reason, idempotency_key,
                   confirmed: bool = True):
    check_csrf(request, csrf_token)
    values = {"date": date, "reason": reason}
    try:
        if not confirmed:
            raise InvalidInput("Kryss av for å bekrefte at saken trekkes: den avsluttes, og "
                               "ingenting mer kan registreres på den.", field="confirm")
        on = _date_or_none(date)
        if len(reason) > 500:
            raise InvalidInput(f"{ref('reason')} er for lang (høyst 500 tegn).",
                               field="reason")
        ctx = runtime.ctx(actor=user.username)
        _preflight(preflight.check_status_change, kommunenummer=knr, action=action,
                   on=on or ctx.today, ctx=ctx, reason=reason)
        result = _run(user, "change_status", idempotency_key, kommunenummer=knr,
                      action=action, on=on, reason=reason.strip() or None)
    except DomainError as e:
        return _refused(request, user, knr, action, e, values)
    return _done(request, knr, result)


# --- contact persons: correct and erase (personal data, never a flow) ---------------------

_CONTACT_FIELDS = {"name", "role", "email", "phone", "primary"}


@router.post("/sak/{knr}/kontakt/{contact_id}")
def edit_contact(request: Request, user: User, knr: str, contact_id: int, csrf_token: F = "",
                 name: F = "", role: F = "", email: F = "", phone: F = "", primary: F = ""):
    """Correct a contact person of this municipality (another municipality's id: 404)."""
    from avtaleflyt.services.people import edit_contact as edit

    check_csrf(request, csrf_token)
    values = {"name": name, "role": role, "email": email, "phone": phone, "primary": primary}
    try:
        with runtime.session() as s:
            result = edit(session=s, contact_id=contact_id, name=name, role=role,
                          email=email, phone=phone, primary=bool(primary),
                          ctx=runtime.ctx(actor=user.username), scope=user.scope,
                          kommunenummer=knr).as_dict()
    except DomainError as e:
        return _contact_refused(request, user, knr, contact_id, e, values)
    return _done(request, knr, result)


@router.post("/sak/{knr}/kontakt/{contact_id}/slett")
def erase_contact(request: Request, user: User, knr: str, contact_id: int,
                  csrf_token: F = "", confirm: F = ""):
    """Erase a contact person of this municipality everywhere (needs the confirm box)."""
    from avtaleflyt.services.people import erase_contact as erase

    check_csrf(request, csrf_token)
    try:
        if not confirm:
            raise InvalidInput("Kryss av for å bekrefte at kontaktpersonen skal slettes.",
                               field="confirm")
        with runtime.session() as s:
            result = erase(session=s, contact_id=contact_id,
                           ctx=runtime.ctx(actor=user.username), scope=user.scope,
                           kommunenummer=knr).as_dict()
    except DomainError as e:
        return _contact_refused(request, user, knr, contact_id, e, {})
    return _done(request, knr, result)


def _contact_refused(request, user, knr, contact_id, e: DomainError, values):
    if isinstance(e, NotFound):
        return request.app.state.pages.render(request, "error.html.j2", 404,
                                              title="Fant ikke kontaktpersonen",
                                              message=e.message, user=user)
    field = _field(e)
    errors = {field if field in _CONTACT_FIELDS | {"confirm"} else "_": e.message}
    return _page(request, user, knr, _status(e), form=f"contact-{contact_id}", values=values,
                 errors=errors)


# --- meetings: move and cancel (issue 14) ---------------------------------------------------


def _meeting_of(knr: str, meeting_id: int, user: UserView) -> None:
    """A meeting is changed from the page of a municipality it concerns: its own bodies'
    meetings, or its county's body. Another id gives the same 404 as an unknown one."""
    from avtaleflyt.services.meetings import _get_meeting

    with runtime.session() as s:
        meeting = _get_meeting(s, meeting_id, user.scope)
        m = get_municipality(s, knr, user.scope)
        if meeting.municipality_id not in (None, m.id) or meeting.county_id != m.county_id:
            raise NotFound(f"Fant ikke møte {meeting_id} for {m.name}.", field="id")


@router.post("/sak/{knr}/mote/{meeting_id}/flytt")
def move_meeting(request: Request, user: User, knr: str, meeting_id: int, csrf_token: F = "",
                 date: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    fid = f"meeting-{meeting_id}"
    try:
        if not date.strip():
            raise InvalidInput("«Ny dato» mangler: skriv datoen møtet flyttes til.",
                               field="date")
        on = parse_date(date, "date")
        _meeting_of(knr, meeting_id, user)
        result = _run(user, "move_meeting", idempotency_key, meeting_id=meeting_id,
                      meeting_date=on)
    except DomainError as e:
        return _page(request, user, knr, _status(e), form=fid, values={"date": date},
                     errors={"date": e.message})
    return _done(request, knr, result)


@router.post("/sak/{knr}/mote/{meeting_id}/avlys")
def cancel_meeting(request: Request, user: User, knr: str, meeting_id: int,
                   csrf_token: F = "", confirm: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    fid = f"meeting-{meeting_id}"
    try:
        if not confirm:
            raise InvalidInput("Kryss av for å bekrefte at møtet er avlyst.", field="confirm")
        _meeting_of(knr, meeting_id, user)
        result = _run(user, "cancel_meeting", idempotency_key, meeting_id=meeting_id)
    except DomainError as e:
        return _page(request, user, knr, _status(e), form=fid, values={},
                     errors={"confirm": e.message})
    return _done(request, knr, result)


# --- the case's responsibility split (grenseoppgang) -----------------------------------------


@router.post("/sak/{knr}/grenseoppgang")
def change_split(request: Request, user: User, knr: str, csrf_token: F = "", action: F = "",
                 row: F = "", task: F = "", responsible: F = "", idempotency_key: F = ""):
    check_csrf(request, csrf_token)
    fid = f"split-{row}" if action in ("set", "remove") else "split-add"
    values = {"task": task, "responsible": responsible}
    try:
        if action not in ("set", "add", "remove"):
            raise InvalidInput("Ukjent endring av grenseoppgangen.", field="action")
        with runtime.session() as s:
            from avtaleflyt.services.split import split_rows

            d = split_rows(s, knr)
        if not d["editable"]:
            raise Conflict("Avtalen er signert; grenseoppgangen kan ikke endres.")
        if action != "add" and not (row.isdigit() and 1 <= int(row) <= len(d["rows"])):
            raise InvalidInput("Velg en rad i grenseoppgangen.", field="row")
        if action == "add":
            check_text(task, "task", 300)
        params = {"row": int(row) if row.isdigit() else None,
                  "task": task.strip() or None, "responsible": responsible.strip() or None}
        result = _run(user, "change_split", idempotency_key, kommunenummer=knr,
                      action=action, **params)
    except DomainError as e:
        field = _field(e)
        return _page(request, user, knr, _status(e), form=fid, values=values,
                     errors={field if field in ("task", "responsible") else "_":
                             e.message})
    return _done(request, knr, result)


# --- who owns a task: the coordinator role, a user of the county, a contact person -----------


@router.post("/sak/{knr}/oppgave/{task_id}/ansvarlig")
def assign_task(request: Request, user: User, knr: str, task_id: int, csrf_token: F = "",
                assignee: F = "", idempotency_key: F = ""):
    """The same command as `avtaleflyt task assign ID [--user NAME | --contact ID]`."""
    from avtaleflyt.services.people import parse_assignee

    check_csrf(request, csrf_token)
    fid = f"assign-{task_id}"
    try:
        _require_task_of(knr, task_id)
        contact_id, username = parse_assignee(assignee)
        _preflight(preflight.check_assign, task_id=task_id, contact_id=contact_id,
                   user=username, ctx=runtime.ctx(actor=user.username))
        result = _run(user, "assign_task", idempotency_key, task_id=task_id,
                      contact_id=contact_id, username=username)
    except DomainError as e:
        field = "assignee" if e.field in ("assignee", "user", "contact") else "_"
        return _page(request, user, knr, _status(e), form=fid, values={"assignee": assignee},
                     errors={field: e.message})
    return _done(request, knr, result)
