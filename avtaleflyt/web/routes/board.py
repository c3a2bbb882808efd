"""Oversikt (the board), Restanser (overdue) and Kommende frister (next 30 days).

Every list is counted, filtered, ordered and paged in SQL (services/dashboard.py): a page
costs what it shows, not the installation's history.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from avtaleflyt import runtime
from avtaleflyt.domain.stages import CaseStatus, Party, Stage
from avtaleflyt.services import dashboard, mytasks
from avtaleflyt.services.users import UserView

from ..auth import current_user

router = APIRouter()
User = Annotated[UserView, Depends(current_user)]


def _choice(value: str | None, allowed) -> str | None:
    return value if value in {a.value for a in allowed} else None


@router.get("/")
def overview(request: Request, user: User, status: str | None = None,
             ansvar: str | None = None, fase: str | None = None, side: str | None = None,
             oppfolging: str | None = None):
    status = _choice(status, CaseStatus)
    owner = _choice(ansvar, Party)
    stage = _choice(fase, Stage)
    follow_up = oppfolging == "1"  # "Trenger oppfølging": only overdue or stuck cases
    ctx = runtime.ctx()
    today = ctx.today
    with runtime.session() as s:
        if stage is not None:
            page = dashboard.board_column(s, today, Stage(stage),
                                          page=dashboard.page_number(side), status=status,
                                          owner=owner, scope=user.scope, config=ctx.config,
                                          follow_up=follow_up)
            return request.app.state.pages.render(
                request, "board_column.html.j2", title=f"Oversikt – {Stage(stage).label}",
                user=user, stage=Stage(stage), page=page, status=status, owner=owner,
                follow_up=follow_up, states=dashboard.DeadlineState.LABELS)
        board = dashboard.board(s, today, status=status, owner=owner, scope=user.scope,
                                config=ctx.config, follow_up=follow_up)
    return request.app.state.pages.render(
        request, "board.html.j2", title="Oversikt", user=user, columns=board.columns,
        counts=board.counts, total=board.total, status=status, owner=owner,
        follow_up=follow_up, states=dashboard.DeadlineState.LABELS)


@router.get("/restanser")
def overdue(request: Request, user: User, ansvar: str | None = None,
            side: str | None = None, gruppering: str | None = None):
    owner = _choice(ansvar, Party)
    today = runtime.today()
    with runtime.session() as s:
        counts = dashboard.overdue_counts(s, today, user.scope)
        if gruppering == "person":
            # Per person (Noark's restanseliste per saksbehandler): printable as it is.
            people, page = mytasks.overdue_by_person(s, today, user.scope,
                                                     page=dashboard.page_number(side))
            return request.app.state.pages.render(
                request, "overdue.html.j2", title="Restanser per person", user=user,
                people=people, page=page, groups={}, counts=counts, owner=None, parties=[])
        parties = [Party(owner)] if owner else list(Party)
        # All parties: the oldest of each, half a page each; one party: all of it, paged.
        per_page = dashboard.PAGE_SIZE if owner else dashboard.PAGE_SIZE // len(parties)
        groups = {p.value: dashboard.overdue_tasks(
            s, today, user.scope, responsible=p.value,
            page=dashboard.page_number(side) if owner else 1, per_page=per_page,
            total=counts[p.value])
            for p in parties}
    return request.app.state.pages.render(request, "overdue.html.j2", title="Restanser",
                                          user=user, groups=groups, counts=counts,
                                          owner=owner, parties=parties, people=None)


@router.get("/frister")
def upcoming(request: Request, user: User, side: str | None = None):
    with runtime.session() as s:
        page = dashboard.upcoming_tasks(s, runtime.today(), 30, user.scope,
                                        page=dashboard.page_number(side))
    return request.app.state.pages.render(request, "upcoming.html.j2",
                                          title="Kommende frister", user=user,
                                          rows=page.rows, page=page)
