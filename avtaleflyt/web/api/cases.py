"""/api/v1/cases: list, open, show, record facts, hold, resume, withdraw, advance, notes.

Each write takes the CLI's option names as JSON keys, checks them with the CLI's own
functions and the preflight before any flow starts, and runs the same command through the
inbox as a Prefect flow run (base.run_write). A municipality outside the token user's county
is "not found" (404), exactly as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from avtaleflyt import runtime
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.domain.kinds import StatusAction

from .base import (
    ApiUser,
    IdempotencyKey,
    Page,
    PageParams,
    paged,
    preflight,
    run_write,
    visible,
)

router = APIRouter(tags=["Saker"])

Number = str | int | float
Knr = Annotated[str, Path(description="Kommunenummer, fire siffer.", examples=["1836"])]


class Input(BaseModel):
    """Unknown keys are refused by name, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class OpenCase(Input):
    kommunenummer: str = Field(description="Kommunenummer, fire siffer.", examples=["1836"])
    date: str | None = Field(None, description="Åpningsdato (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ). "
                             "Standard: i dag.")


class RecordFact(Input):
    fact: str = Field(description="Hva som skjedde, som i «case record» (meeting-held, "
                      "council-decision, …; norske navn virker også).",
                      examples=["council-decision"])
    date: str | None = None
    outcome: str | None = Field(None, description="approved|rejected|postponed eller "
                                "vedtatt|avslått|utsatt.")
    reference: str | None = None
    party: str | None = Field(None, description="municipality|county eller "
                              "kommunen|fylkeskommunen.")
    start: str | None = None
    years: Number | None = None
    months: Number | None = None
    renewal: str | None = None
    notice_months: Number | None = None
    price: Number | None = None
    position_share: Number | None = None
    site_visits: Number | None = None
    situation: str | None = None


class DateReason(Input):
    date: str | None = None
    reason: str | None = None


class DateOnly(Input):
    date: str | None = None


class Empty(Input):
    pass


class AddNote(Input):
    text: str
    theme: str = Field("annet", description="Tema, norsk navn eller engelsk nøkkel.")
    date: str | None = None
    share: bool = False


class StatusRow(BaseModel):
    kommunenummer: str
    municipality: str
    county_code: str
    county: str
    stage: str
    status: str
    next_deadline: str | None
    overdue_tasks: int


class CommandResult(BaseModel):
    """What the CLI's `--json` prints for the command; more keys may follow."""

    model_config = ConfigDict(extra="allow")
    message: str
    kommunenummer: str | None = None
    idempotency_key: str | None = None
    next_step: dict[str, Any] | None = None


def _date(value: str | None):
    if value is None or not value.strip():
        return None
    from avtaleflyt.formatting import parse_date

    return parse_date(value, "date")


@router.get("/cases", response_model=Page[StatusRow], summary="Alle saker (som «status»)")
def list_cases(user: ApiUser, paging: PageParams,
               county: Annotated[str | None, Query(description="Fylkesnummer.")] = None,
               stage: Annotated[str | None, Query(description="Fasens nøkkel.")] = None,
               status: Annotated[str | None, Query(description="Statusens nøkkel.")] = None
               ) -> dict[str, Any]:
    """Hver kommunes siste sak i fylket ditt (alle fylker for en nasjonal bruker), med
    de samme feltene som `status --json`."""
    from avtaleflyt.cli.entry import STATUS_KEYS
    from avtaleflyt.domain.stages import CaseStatus, Stage
    from avtaleflyt.services.queries import status_rows
    from avtaleflyt.services.scope import county_by_code

    for value, kind, field in ((stage, Stage, "stage"), (status, CaseStatus, "status")):
        if value is not None and value not in {k.value for k in kind}:
            known = ", ".join(k.value for k in kind)
            raise InvalidInput(f"Ukjent {field} «{value}» (kjente: {known}).", field=field)
    with runtime.session() as s:
        code = county_by_code(s, county, "county").code if county else None
        rows = status_rows(s, runtime.today(), user.scope)
    rows = [{k: r[k] for k in STATUS_KEYS} for r in rows
            if (code is None or r["county_code"] == code)
            and (stage is None or r["stage"] == stage)
            and (status is None or r["status"] == status)]
    return paged(rows, paging.page, paging.per_page)


@router.post("/cases", status_code=201, response_model=CommandResult,
             summary="Åpne en sak (som «case open»)")
def open_case(user: ApiUser, key: IdempotencyKey, body: OpenCase) -> dict[str, Any]:
    from avtaleflyt.services import preflight as checks

    knr = visible(user, body.kommunenummer)
    on = _date(body.date)
    preflight(checks.check_open, user=user, key=key, kommunenummer=knr,
              opened_on=on or runtime.today())
    return run_write(user, "open_case", key, kommunenummer=knr, opened_on=on)


@router.get("/cases/{knr}", summary="Vis saken (som «case show --json»)")
def show_case(request: Request, user: ApiUser, knr: Knr) -> dict[str, Any]:
    """Saken med oppgaver (id-er), historikk, avtalevilkår, notater og kontaktpersoner.
    Oppslaget logges i tilgangsloggen (kontaktpersoner er personopplysninger)."""
    from avtaleflyt.services.privacy import log_access
    from avtaleflyt.services.queries import case_detail

    visible(user, knr)
    with runtime.session() as s:
        d = case_detail(s, knr, runtime.today())
        log_access(s, username=user.username, action="api_case", kommunenummer=knr,
                   case_id=d["case_id"], object=f"kontaktpersoner: {len(d.get('contacts', []))}")
    if user.scope.national and not getattr(request.state, "local_cli", False):
        # As on the case page: outside its county, a county's note shows only if shared.
        # Serve's local token stands in for the CLI on this machine, which shows them all.
        d["notes"] = [n for n in d["notes"] if n.get("shared")]
    return d


@router.post("/cases/{knr}/facts", response_model=CommandResult,
             summary="Registrer noe som har skjedd (som «case record»)")
def record_fact(user: ApiUser, key: IdempotencyKey, knr: Knr,
                body: RecordFact) -> dict[str, Any]:
    from avtaleflyt.services import preflight as checks
    from avtaleflyt.services.cases import check_situation
    from avtaleflyt.services.facts import build_fact
    from avtaleflyt.services.texts import clean

    visible(user, knr)
    values = body.model_dump(exclude={"fact", "date", "situation"}, exclude_none=True)
    options = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
    on = _date(body.date)
    ctx = runtime.ctx(actor=user.username)
    fact_input = build_fact(body.fact, on or ctx.today, options, ctx)
    check_situation(fact_input, body.situation)
    clean(body.situation, "situation", required=False)  # refused before anything is stored
    preflight(checks.check_fact, user=user, key=key, kommunenummer=knr, fact=fact_input, ctx=ctx)
    extra = {"situation": body.situation} if body.situation is not None else {}
    return run_write(user, "record_fact", key, kommunenummer=knr, fact=body.fact,
                     occurred_on=on, options=options, **extra)


def _status(user, key, knr: str, action: StatusAction, date: str | None,
            reason: str | None) -> dict[str, Any]:
    from avtaleflyt.services import preflight as checks

    visible(user, knr)
    on = _date(date)
    preflight(checks.check_status_change, user=user, key=key, kommunenummer=knr,
              action=action, on=on or runtime.today(), reason=reason)
    return run_write(user, "change_status", key, kommunenummer=knr, action=action, on=on,
                     reason=reason)


@router.post("/cases/{knr}/hold", response_model=CommandResult,
             summary="Sett saken på vent (som «case hold»)")
def hold(user: ApiUser, key: IdempotencyKey, knr: Knr,
         body: Annotated[DateReason, Body()] = DateReason()) -> dict[str, Any]:
    return _status(user, key, knr, StatusAction.HOLD, body.date, body.reason)


@router.post("/cases/{knr}/resume", response_model=CommandResult,
             summary="Gjenoppta saken (som «case resume»)")
def resume(user: ApiUser, key: IdempotencyKey, knr: Knr,
           body: Annotated[DateOnly, Body()] = DateOnly()) -> dict[str, Any]:
    return _status(user, key, knr, StatusAction.RESUME, body.date, None)


@router.post("/cases/{knr}/withdraw", response_model=CommandResult,
             summary="Trekk saken (som «case withdraw»)")
def withdraw(user: ApiUser, key: IdempotencyKey, knr: Knr,
             body: Annotated[DateReason, Body()] = DateReason()) -> dict[str, Any]:
    return _status(user, key, knr, StatusAction.WITHDRAW, body.date, body.reason)


@router.post("/cases/{knr}/advance", response_model=CommandResult,
             summary="Kjør onboarding-flyten nå (som «case advance»)")
def advance(user: ApiUser, knr: Knr,
            body: Annotated[Empty, Body()] = Empty()) -> dict[str, Any]:
    """Flytter saken så langt portene tillater (f.eks. til Drift når startdatoen er nådd).
    Å kjøre den igjen endrer ikke mer, så den trenger ingen Idempotency-Key."""
    from avtaleflyt.cli.cases import advance_case
    from avtaleflyt.cli.output import _add_next_step

    visible(user, knr)
    result = advance_case(knr, actor=user.username)
    _add_next_step(result)
    return result


@router.post("/cases/{knr}/notes", response_model=CommandResult,
             summary="Legg til et erfaringsnotat (som «note add»)")
def add_note(user: ApiUser, key: IdempotencyKey, knr: Knr, body: AddNote) -> dict[str, Any]:
    from avtaleflyt.domain.text import check_text
    from avtaleflyt.services import preflight as checks
    from avtaleflyt.services.facts import parse_theme

    visible(user, knr)
    on = _date(body.date)
    parse_theme(body.theme)
    check_text(body.text, "text", 5000, multiline=True)
    preflight(checks.check_note, user=user, key=key, kommunenummer=knr,
              noted_on=on or runtime.today())
    return run_write(user, "add_note", key, kommunenummer=knr, theme=body.theme,
                     text=body.text, noted_on=on, shared=body.share)
