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


@router.get("/deadlines", response_model=Page[dict[str, Any]])
def deadlines(user: ApiUser, paging: PageParams,
              days: Annotated[int, Query(ge=0, le=3650)] = 14,
              county: CountyQuery = None) -> dict[str, Any]:
    """Åpne oppgaver med frist de neste `days` dagene og dem som er passert, som
    `deadlines --json`."""
    from avtaleflyt.services.deadlines import deadline_rows

    with runtime.session() as s:
        rows = deadline_rows(s, runtime.today(), days, county_scope(s, user.scope, county))
    return paged(rows, paging.page, paging.per_page)


@router.get("/reminders", response_model=Page[dict[str, Any]])
def reminders(user: ApiUser, paging: PageParams,
              days: Annotated[int, Query(ge=1, le=3650)] = 30) -> dict[str, Any]:
    """Påminnelsene i utboksen laget de siste `days` dagene, nyeste først, som
    `reminders list --json`."""
    from avtaleflyt.services.reminders import reminder_rows

    since = runtime.today() - timedelta(days=days)
    with runtime.session() as s:
        rows = reminder_rows(s, since=since, ctx=runtime.ctx())
        if not user.scope.national:
            rows = [r for r in rows if r["kommunenummer"] in _knrs(s, user.scope)]
    return paged(rows, paging.page, paging.per_page)


def _knrs(session: Session, scope: Scope) -> set[str]:
    from sqlmodel import select

    from avtaleflyt.models import Municipality

    return set(session.exec(scope.where(select(Municipality.kommunenummer),
                                        Municipality.county_id)).all())


@router.get("/reports", response_model=Page[dict[str, Any]])
def reports(user: ApiUser, paging: PageParams, county: CountyQuery = None) -> dict[str, Any]:
    """De lagrede erfaringsrapportene, som `report list --json`."""
    from avtaleflyt.services.documents import list_documents

    with runtime.session() as s:
        rows = list_documents(session=s, read_scope=county_scope(s, user.scope, county))
    return paged(rows, paging.page, paging.per_page)


class ExperienceIn(BaseModel):
    """As `report experience [--county NR] [--format html|docx|pdf]`."""

    model_config = ConfigDict(extra="forbid")
    county: str | None = None
    format: str = "html"


@router.get("/reports/experience")
def experience_figures(user: ApiUser, county: CountyQuery = None) -> dict[str, Any]:
    """Erfaringsrapportens tall per fase, som `report experience --json`."""
    from avtaleflyt.services.documents import experience_figures as figures

    with runtime.session() as s:
        scope = county_scope(s, user.scope, county)
        return figures(session=s, ctx=runtime.ctx(), scope=scope)


@router.post("/reports/experience", status_code=201)
def experience_report(user: ApiUser, key: IdempotencyKey, body: ExperienceIn) -> dict[str, Any]:
    """Lag og lagre en ny versjon av erfaringsrapporten (som `report experience`): et
    fylkes, eller sammenligningen av fylkene for en nasjonal bruker uten `county`."""
    from avtaleflyt.services import documents

    from .documents import stored_answer

    def go() -> dict[str, Any]:
        fmt = documents.check_format(body.format)
        with runtime.session() as s:
            scope = county_scope(s, user.scope, body.county)
            [row] = documents.store_document(session=s, kind="experience_report",
                                             formats=(fmt,), ctx=runtime.ctx(actor=user.username),
                                             read_scope=scope)
            return stored_answer(row)

    return once(user, key, "experience_report", go)
