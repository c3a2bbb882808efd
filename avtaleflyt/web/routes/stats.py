"""Statistikk: the funnel, time per stage, and a forecast per active case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from avtaleflyt import runtime
from avtaleflyt.services import dashboard
from avtaleflyt.services.users import UserView

from .. import charts
from ..auth import current_user

router = APIRouter()


@router.get("/statistikk")
def statistics(request: Request, user: Annotated[UserView, Depends(current_user)]):
    with runtime.session() as s:
        st = dashboard.statistics(s, runtime.ctx(actor=user.username), user.scope)
    ranges, top = charts.stage_ranges(st.stages)
    return request.app.state.pages.render(
        request, "stats.html.j2", title="Statistikk", user=user, st=st,
        funnel=charts.funnel(st.funnel), ranges=ranges, top_days=top)
