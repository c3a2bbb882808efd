"""Oversikt (the board), Restanser (overdue) and Kommende frister (next 30 days)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from avtaleflyt import runtime
from avtaleflyt.domain.stages import CaseStatus, Party
from avtaleflyt.services import dashboard
from avtaleflyt.services.users import UserView

from ..auth import current_user

router = APIRouter()
User = Annotated[UserView, Depends(current_user)]


def _choice(value: str | None, allowed) -> str | None:
    return value if value in {a.value for a in allowed} else None


@router.get("/")
def overview(request: Request, user: User, status: str | None = None,
             ansvar: str | None = None):
    status = _choice(status, CaseStatus)
    owner = _choice(ansvar, Party)
    today = runtime.today()
    with runtime.session() as s:
        columns = dashboard.board(s, today, status=status, owner=owner, scope=user.scope)
    total = sum(len(c) for c in columns.values())
    return request.app.state.pages.render(
        request, "board.html.j2", title="Oversikt", user=user, columns=columns, total=total,
        status=status, owner=owner, states=dashboard.DeadlineState.LABELS)


@router.get("/restanser")
def overdue(request: Request, user: User):
    with runtime.session() as s:
        groups = dashboard.overdue_tasks(s, runtime.today(), user.scope)
    return request.app.state.pages.render(request, "overdue.html.j2", title="Restanser",
                                          user=user, groups=groups)


@router.get("/frister")
def upcoming(request: Request, user: User):
    with runtime.session() as s:
        rows = dashboard.upcoming_tasks(s, runtime.today(), 30, user.scope)
    return request.app.state.pages.render(request, "upcoming.html.j2",
                                          title="Kommende frister", user=user, rows=rows)
