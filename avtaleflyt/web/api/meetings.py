"""/api/v1 meetings: list, add, move, cancel and import a meeting plan (møteplan).

Every change runs as `meeting add|move|cancel|import` does: the same checks first (an
unknown id, a past date or a bad file is refused before a flow starts), then the command
inbox and its Prefect flow run (`runtime.run_command`), with the token's user as actor.
A user of one county sees and changes only that county's meetings: another county's
meeting or municipality is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from avtaleflyt import runtime
from avtaleflyt.domain.errors import InvalidInput, NotFound
from avtaleflyt.services.scope import Scope

from .base import ApiUser, IdempotencyKey, Page, PageParams, Problem, paged, run_write
from .reports import county_scope

router = APIRouter(tags=["Møter"])

# A year's plan for a whole county is a few kilobytes; anything near this is not a plan.
MAX_UPLOAD_BYTES = 1024 * 1024


class MeetingIn(BaseModel):
    """As `meeting add KNR --body … --date … [--title …] [--county NR]`; `kommunenummer`
    is «county» (or left out) for the county's own body."""

    model_config = ConfigDict(extra="forbid")
    kommunenummer: str | None = None
    body: str = ""
    date: str = ""
    title: str | None = None
    county: str | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: str = ""


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _county_in_scope(code: str | None, scope: Scope) -> str | None:
    """The county a county-body meeting belongs to: the one given (it must be the user's
    own unless the user is national), else the user's own county."""
    if code is None or not str(code).strip():
        return None if scope.national else scope.county_code
    with runtime.session() as s:
        return county_scope(s, scope, code).county_code


def _saved(key: str | None) -> bool:
    """Whether the key's command has already changed something (`applied` or `done`): a
    retry of it is answered by the inbox, not checked again (a cancelled meeting is gone)."""
    from avtaleflyt.services import inbox

    if key is None:
        return False
    with runtime.session() as s:
        return inbox.status_of(s, key) in (inbox.APPLIED, inbox.DONE)


def _meeting_in_scope(meeting_id: int, scope: Scope, key: str | None) -> None:
    """An unknown id, or another county's meeting, is refused before a flow starts."""
    from avtaleflyt.services.meetings import _get_meeting
    from avtaleflyt.services.store import MAX_ID

    if _saved(key):
        return
    if not 0 < meeting_id <= MAX_ID:  # no database could hold it: as an unknown id
        raise NotFound(f"Fant ikke møte {meeting_id}. Se «avtaleflyt meeting list --all» "
                       "for møtenes id.", field="id")
    with runtime.session() as s:
        _get_meeting(s, meeting_id, scope)


@router.get("/meetings", response_model=Page[dict[str, Any]],
            summary="Møteplanen (som «meeting list --json»)")
def list_meetings(
    user: ApiUser,
    paging: PageParams,
    kommunenummer: Annotated[str | None, Query(
        description="Én kommunes møter (med fylkets organ), eller «county».")] = None,
    since: Annotated[str | None, Query(
        description="Møter fra og med denne datoen. Standard: i dag.")] = None,
    all: Annotated[bool, Query(description="Ta med møter som er holdt.")] = False,
    county: Annotated[str | None, Query(description="Bare dette fylkets møter.")] = None,
) -> dict[str, Any]:
    """Møteplanen, som `meeting list --json` (sortert etter dato)."""
    from avtaleflyt.formatting import parse_date
    from avtaleflyt.services.meetings import list_meetings as rows_of

    start = None if all else (parse_date(since, "since") if since else runtime.today())
    with runtime.session() as s:
        rows = rows_of(s, kommunenummer, start, county_scope(s, user.scope, county))
    return paged(rows, paging.page, paging.per_page)


@router.post("/meetings", status_code=201,
             summary="Legg inn et møte (som «meeting add»)")
def add_meeting(user: ApiUser, key: IdempotencyKey, body: MeetingIn) -> dict[str, Any]:
    """Legg inn ett møte (som `meeting add`). Saker i politisk behandling får frister etter
    det."""
    from avtaleflyt.formatting import format_date, parse_date
    from avtaleflyt.services import meetings
    from avtaleflyt.services.store import get_municipality

    on = parse_date(body.date, "--date")
    b = meetings.check_body(body.body)
    knr = body.kommunenummer
    kommune = None if knr is None or knr.strip().lower() == "county" else knr
    if b != "county" and kommune is None:
        raise InvalidInput(f"«KNR» mangler: {b} hører til en kommune (f.eks. 1836).",
                           field="kommunenummer")
    county = body.county
    if not _saved(key):  # a retry of a saved command gets its first answer unchecked
        if kommune is not None:
            with runtime.session() as s:
                get_municipality(s, kommune, user.scope)
        today = runtime.today()
        if on < today:  # checked again inside the flow; fail fast here
            raise InvalidInput(f"«--date»: møtet {format_date(on)} er før i dag "
                               f"({format_date(today)}); legg inn kommende møter.",
                               field="date")
        if b == "county":
            county = _county_in_scope(county, user.scope)
            if county is None:  # a national user: one county with cases, or name it
                with runtime.session() as s:
                    meetings.deciding_county(s, None)
    return run_write(user, "add_meeting", key, body=b, meeting_date=on,
                     kommunenummer=kommune, title=body.title, county=county)


@router.post("/meetings/{meeting_id}/move",
             summary="Flytt et møte (som «meeting move»)")
def move_meeting(user: ApiUser, key: IdempotencyKey, meeting_id: int,
                 body: MoveIn) -> dict[str, Any]:
    """Flytt et møte (som `meeting move ID --date …`); fristene følger med."""
    from avtaleflyt.formatting import parse_date

    on = parse_date(body.date, "--date")
    _meeting_in_scope(meeting_id, user.scope, key)
    return run_write(user, "move_meeting", key, meeting_id=meeting_id, meeting_date=on)


@router.post("/meetings/{meeting_id}/cancel",
             summary="Avlys et møte (som «meeting cancel»)")
def cancel_meeting(user: ApiUser, key: IdempotencyKey, meeting_id: int,
                   body: CancelIn | None = None) -> dict[str, Any]:
    """Avlys et møte (som `meeting cancel ID`); sakene får organets neste møte."""
    _meeting_in_scope(meeting_id, user.scope, key)
    return run_write(user, "cancel_meeting", key, meeting_id=meeting_id)


# --- importing a meeting plan ---------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9æøåÆØÅ._ -]+")

_IMPORT_BODY = {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "CSV (kommunenummer;organ;dato;tittel) eller .ics, høyst 1 MB."},
        "kommunenummer": {"type": "string",
                          "description": "For .ics: kommunen møtene gjelder."},
        "body": {"type": "string", "description": "For .ics: organet."},
        "county": {"type": "string",
                   "description": "Fylket for fylkeskommunens møter som ikke nevner det."},
    }}}}}


def _too_large() -> Problem:
    return Problem(413, "Filen er for stor", f"Møteplanen er større enn "
                   f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB. Ingenting ble importert; del "
                   "den opp eller fjern det som ikke er møter.", field="file",
                   error="PayloadTooLarge", exit_code=2)


@router.post("/meetings/import", openapi_extra={"requestBody": _IMPORT_BODY},
             summary="Importer en møteplan (som «meeting import»)")
async def import_meetings(request: Request, user: ApiUser,
                          key: IdempotencyKey) -> dict[str, Any]:
    """Importer en møteplan (som `meeting import FIL`): alt eller ingenting. Filen sendes som
    multipart-feltet `file`; en fil over 1 MB avvises med 413 før den leses."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise _too_large()
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception:  # noqa: BLE001 - a malformed body is the client's mistake
        raise InvalidInput("Møteplanen mangler: send filen som multipart-feltet «file».",
                           field="file") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("Møteplanen mangler: send filen som multipart-feltet «file».",
                           field="file")
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    await upload.close()
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large()
    name = _SAFE_NAME.sub("_", Path(upload.filename or "").name).strip(" .") or "moteplan.csv"
    options = {k: (str(form.get(k)).strip() or None) if form.get(k) is not None else None
               for k in ("kommunenummer", "body", "county")}
    return await run_in_threadpool(_import, user, key, data, name[:100], **options)


def _import(user, key: str | None, data: bytes, name: str, *, kommunenummer: str | None,
            body: str | None, county: str | None) -> dict[str, Any]:
    """Check the plan read-only first, then run `import-meetings` on a copy of the upload
    named as the user's file (the result says «Importerte … fra moteplan.csv»). The copy
    lives under the data directory, by idempotency key, until the flow run is over: a
    retried request with the same key writes the same file to the same place."""
    from avtaleflyt.services import inbox

    if county is not None:
        county = _county_in_scope(county, user.scope)
    elif not user.scope.national:
        county = user.scope.county_code
    if not _saved(key):
        try:
            _check_plan(data, name, user.scope, kommunenummer=kommunenummer, body=body,
                        county=county)
        except InvalidInput as e:
            e.field = e.field or "file"  # a bad line is the file's problem
            raise
    key = key or inbox.new_key()
    folder = runtime.settings().data_dir / "imports" / key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    try:
        return run_write(user, "import_meetings", key, path=str(path),
                         kommunenummer=kommunenummer, body=body, county=county)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_plan(data: bytes, name: str, scope: Scope, *, kommunenummer: str | None,
                body: str | None, county: str | None) -> None:
    """What the import would refuse, read-only (the dashboard's upload uses the same check):
    the file's format, every bad line, unknown municipalities — and, for a county user,
    another county's, named with the same words as unknown ones."""
    from avtaleflyt.services.meetings import check_plan, plan_text

    with runtime.session() as s:
        check_plan(s, plan_text(data, name), name, kommunenummer=kommunenummer, body=body,
                   county=county, scope=scope)


# --- a municipality's saksgang ---------------------------------------------------------------


class SaksgangIn(BaseModel):
    """As `meeting saksgang KNR --set formannskap,kommunestyre` («default»: the
    configuration's)."""

    model_config = ConfigDict(extra="forbid")
    set: str | list[str] = ""


@router.get("/cases/{knr}/saksgang",
            summary="Kommunens saksgang (som «meeting saksgang KNR --json»)")
def get_saksgang(user: ApiUser, knr: str) -> dict[str, Any]:
    """Organene saken behandles i, i rekkefølge; `own` sier om kommunen har sin egen."""
    from avtaleflyt.services.meetings import saksgang
    from avtaleflyt.services.store import get_municipality

    with runtime.session() as s:
        get_municipality(s, knr, user.scope)
        return saksgang(s, knr, runtime.ctx())


@router.post("/cases/{knr}/saksgang",
             summary="Sett kommunens saksgang (som «meeting saksgang KNR --set …»)")
def set_saksgang(user: ApiUser, key: IdempotencyKey, knr: str,
                 body: SaksgangIn) -> dict[str, Any]:
    """Saksframlegget skal være klart sin frist før møtet i det FØRSTE organet; fristene i
    en sak i politisk behandling følger med."""
    from avtaleflyt.config import check_saksgang
    from avtaleflyt.services.store import get_municipality

    value = body.set if isinstance(body.set, str) else ",".join(body.set)
    if not _saved(key):
        if value.strip().lower() != "default":
            try:
                check_saksgang([b.strip().lower() for b in value.replace(";", ",").split(",")
                                if b.strip()], "--set")
            except InvalidInput as e:
                e.field = "set"  # the CLI names its option; the body names the key
                raise
        with runtime.session() as s:
            get_municipality(s, knr, user.scope)
    return run_write(user, "set_saksgang", key, kommunenummer=knr, bodies=value)
