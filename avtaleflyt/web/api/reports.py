"""/api/v1 deadlines, reminders and reports: what is due, what was sent, and the
experience report.

The rows are those of `deadlines --json`, `reminders list --json` and `report list --json`,
limited to the token user's county (a national user sees every county, and may name one
with `county`, as `--county` does).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from avtaleflyt import runtime
from avtaleflyt.domain.errors import NotFound
from avtaleflyt.services.scope import Scope

from .base import ApiUser, IdempotencyKey, Page, PageParams, paged
from .direct import once

router = APIRouter(tags=["Frister og rapporter"])

CountyQuery = Annotated[str | None, Query(
    description="Bare dette fylket (fylkesnummer, f.eks. 18), som «--county».")]


def county_scope(session: Session, scope: Scope, county: str | None) -> Scope:
    """The user's scope, narrowed to `county` when given. A county user naming another
    county gets "not found", like a county that does not exist."""
    from avtaleflyt.services.scope import scope_for_code

    if county is None or not str(county).strip():
        return scope
    wanted = scope_for_code(session, county, "county")
    if not scope.allows(wanted.county_id):
        raise NotFound(f"Fant ikke fylke «{wanted.county_code}».", field="county")
    return wanted


@router.get("/deadlines", response_model=Page[dict[str, Any]],
            summary="Frister (som «deadlines --json»)")
def deadlines(user: ApiUser, paging: PageParams,
              days: Annotated[int, Query(ge=0, le=3650)] = 14,
              county: CountyQuery = None) -> dict[str, Any]:
    """Åpne oppgaver med frist de neste `days` dagene og dem som er passert, som
    `deadlines --json`."""
    from avtaleflyt.services.deadlines import deadline_rows

    with runtime.session() as s:
        rows = deadline_rows(s, runtime.today(), days, county_scope(s, user.scope, county))
    return paged(rows, paging.page, paging.per_page)


@router.get("/reminders", response_model=Page[dict[str, Any]],
            summary="Påminnelser (som «reminders list --json»)")
def reminders(user: ApiUser, paging: PageParams,
              days: Annotated[int, Query(ge=1, le=3650)] = 30) -> dict[str, Any]:
    """Påminnelsene i utboksen laget de siste `days` dagene, nyeste først, som
    `reminders list --json`."""
    from avtaleflyt.services.reminders import reminder_rows

    since = runtime.today() - timedelta(days=days)
    with runtime.session() as s:
        rows = reminder_rows(s, since=since, ctx=runtime.ctx(), scope=user.scope)
    return paged(rows, paging.page, paging.per_page)


@router.get("/reports", response_model=Page[dict[str, Any]],
            summary="Lagrede erfaringsrapporter (som «report list --json»)")
def reports(user: ApiUser, paging: PageParams, county: CountyQuery = None) -> dict[str, Any]:
    """De lagrede erfaringsrapportene, som `report list --json`."""
    from avtaleflyt.services.documents import list_documents

    with runtime.session() as s:
        rows = list_documents(session=s, read_scope=county_scope(s, user.scope, county))
    return paged(rows, paging.page, paging.per_page)


class ExperienceIn(BaseModel):
    """As `report experience [--county NR] [--format html|docx|pdf]`; `store: false` is
    `--out FIL`: the rendered file is the answer, and no version is stored."""

    model_config = ConfigDict(extra="forbid")
    county: str | None = None
    format: str = "html"
    store: bool = True


@router.get("/reports/experience",
            summary="Erfaringsrapportens tall (som «report experience --json»)")
def experience_figures(user: ApiUser, county: CountyQuery = None) -> dict[str, Any]:
    """Erfaringsrapportens tall per fase, som `report experience --json`."""
    from avtaleflyt.services.documents import experience_figures as figures

    with runtime.session() as s:
        scope = county_scope(s, user.scope, county)
        return figures(session=s, ctx=runtime.ctx(), scope=scope)


@router.post("/reports/experience", status_code=201,
             summary="Lag erfaringsrapporten (som «report experience»)")
def experience_report(user: ApiUser, key: IdempotencyKey, body: ExperienceIn) -> dict[str, Any]:
    """Lag og lagre en ny versjon av erfaringsrapporten (som `report experience`): et
    fylkes, eller sammenligningen av fylkene for en nasjonal bruker uten `county`."""
    from avtaleflyt.services import documents

    from .documents import file_answer, stored_answer

    fmt = documents.check_format(body.format)
    if not body.store:
        with runtime.session() as s:
            rendered = documents.render(session=s, kind="experience_report", formats=(fmt,),
                                        ctx=runtime.ctx(actor=user.username),
                                        read_scope=county_scope(s, user.scope, body.county))
        return file_answer(rendered.files[fmt], fmt, f"{rendered.kind}.{fmt}")

    def go() -> dict[str, Any]:
        with runtime.session() as s:
            scope = county_scope(s, user.scope, body.county)
            [row] = documents.store_document(session=s, kind="experience_report",
                                             formats=(fmt,), ctx=runtime.ctx(actor=user.username),
                                             read_scope=scope)
            return stored_answer(row)

    return once(user, key, "experience_report", go)
