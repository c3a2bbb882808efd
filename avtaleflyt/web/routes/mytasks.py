"""Mine oppgaver: the coordinator's own open tasks, and completing several with one date.

Bulk completion runs the same `complete-task` flow as the case page's "Gjort" and
`avtaleflyt task done`, once per task. Every task is checked first (services/mytasks.py); if
any is refused, the form comes back naming each refused task and nothing is done for any of
them — the same rule as `task done ID ID …` on the command line.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from avtaleflyt import runtime
from avtaleflyt.domain.errors import Conflict, DomainError, NotFound
from avtaleflyt.formatting import parse_date
from avtaleflyt.services import dashboard, mytasks
from avtaleflyt.services.users import UserView

from ..auth import check_csrf, current_user, flash

router = APIRouter()
User = Annotated[UserView, Depends(current_user)]
F = Annotated[str, Form()]


def _page(request: Request, user: UserView, side: Any = None, status_code: int = 200,
          alle: bool = False, **extra: Any):
    with runtime.session() as s:
        page = mytasks.my_tasks(s, runtime.today(), user.scope,
                                page=dashboard.page_number(side), with_municipalities=alle,
                                user_id=user.id)
        milestones = mytasks.closed_by_facts(s, [r.id for r in page.rows])
    extra.setdefault("errors", {})
    extra.setdefault("values", {})
    extra.setdefault("refused", [])
    return request.app.state.pages.render(request, "mytasks.html.j2", status_code,
                                          title="Mine oppgaver", user=user, page=page,
                                          rows=page.rows, alle=alle, milestones=milestones,
                                          **extra)


@router.get("/mine-oppgaver")
def my_tasks(request: Request, user: User, side: str | None = None, alle: str | None = None):
    return _page(request, user, side, alle=alle == "1")


@router.post("/mine-oppgaver")
def complete_tasks(request: Request, user: User, csrf_token: F = "", date: F = "",
                   idempotency_key: F = "", alle: F = "",
                   task_id: Annotated[list[str], Form()] = []):  # noqa: B006 (FastAPI form)
    check_csrf(request, csrf_token)
    values = {"date": date, "task_id": set(task_id)}
    try:
        ids = mytasks.parse_task_ids(task_id)
        on = parse_date(date, "date") if date.strip() else runtime.today()
        with runtime.session() as s:
            refusals = mytasks.check_completions(s, ids, on, runtime.ctx(), user.scope)
    except DomainError as e:
        return _page(request, user, alle=alle == "1", status_code=422, values=values,
                     errors={e.field if e.field in ("date", "task_id") else "_": e.message})
    if refusals:
        first = refusals[0].error
        status = 404 if isinstance(first, NotFound) else 409 if isinstance(first, Conflict) else 422
        return _page(request, user, alle=alle == "1", status_code=status, values=values,
                     refused=[r.message for r in refusals],
                     errors={"_": "Ingen av oppgavene ble markert som gjort. Rett opp og "
                                  "prøv igjen."})
    done = 0
    key = (idempotency_key or "").strip()[:60]
    for task_id_ in ids:
        try:
            result = runtime.run_command(
                "complete_task", key=f"{key}:{task_id_}" if key else None,
                today=runtime.today(), actor=user.username, task_id=task_id_, done_on=on)
        except DomainError as e:  # changed since the check: report it, keep what is done
            flash(request, f"Oppgave {task_id_}: {e.message}")
            continue
        done += 1
        flash(request, result["message"])
    if len(ids) > 1:
        flash(request, f"{done} av {len(ids)} oppgaver er behandlet.")
    return RedirectResponse("/mine-oppgaver?alle=1" if alle == "1" else "/mine-oppgaver",
                            status_code=303)
