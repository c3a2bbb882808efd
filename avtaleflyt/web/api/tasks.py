"""/api/v1/tasks: mark checklist tasks done (several at once) and assign a task.

A task outside the token user's county is "not found", said exactly as for an unknown id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from avtaleflyt import runtime
from avtaleflyt.domain.errors import NotFound

from .base import ApiUser, IdempotencyKey, run_command, run_write, visible
from .cases import CommandResult, Input, _date

router = APIRouter(tags=["Oppgaver"])


class TasksDone(Input):
    task_ids: list[int | str] = Field(description="Oppgavenes id-er (se GET /cases/{knr}). "
                                      "Alle får samme dato.", examples=[[12, 13]])
    date: str | None = None


class Assign(Input):
    contact_id: int | None = Field(None, description="Kontaktpersonens id (bare for "
                                   "kommunens oppgaver).")
    user: str | None = Field(None, description="Brukernavnet til en aktiv bruker i sakens "
                             "fylke. Uten begge: tilbake til standard ansvarlig.")


@router.post("/tasks/done", response_model=list[CommandResult],
             summary="Marker oppgaver som gjort (som «task done ID …»)")
def tasks_done(user: ApiUser, key: IdempotencyKey, body: TasksDone) -> list[dict[str, Any]]:
    """Alle oppgavene sjekkes først: avvises én, blir ingen markert som gjort. Svaret er en
    liste med ett resultat per oppgave. Med flere oppgaver får hver sin nøkkel,
    `<Idempotency-Key>:<id>`, som på kommandolinjen."""
    from avtaleflyt.services import inbox, mytasks

    ids = mytasks.parse_task_ids([str(i) for i in body.task_ids], field="task_id")
    on = _date(body.date)
    ctx = runtime.ctx(actor=user.username)
    key = key or inbox.new_key()
    keys = {task_id: key if len(ids) == 1 else f"{key[:60]}:{task_id}" for task_id in ids}
    with runtime.session() as s:  # refused before any flow run starts
        pending = [t for t in ids if inbox.status_of(s, keys[t]) not in
                   (inbox.APPLIED, inbox.DONE)]
        refusals = mytasks.check_completions(s, pending, on or ctx.today, ctx, user.scope)
    if (refused := mytasks.refusal_error(refusals, len(ids))) is not None:
        raise refused
    if len(ids) == 1:
        return [run_write(user, "complete_task", key, task_id=ids[0], done_on=on)]
    return [run_command(user, "complete_task", keys[t], task_id=t, done_on=on) for t in ids]


@router.post("/tasks/{task_id}/assign", response_model=CommandResult,
             summary="Gi en oppgave en ansvarlig: kontaktperson eller bruker (som «task assign»)")
def assign(user: ApiUser, key: IdempotencyKey, task_id: int, body: Assign = Assign()
           ) -> dict[str, Any]:
    from avtaleflyt.services.store import get_task, task_kommunenummer

    with runtime.session() as s:
        get_task(s, task_id)  # an unknown id: NotFound
        knr = task_kommunenummer(s, task_id)
    try:
        visible(user, knr)
    except NotFound:  # another county's task: said exactly as for an unknown id
        raise NotFound(f"Fant ingen oppgave med id {task_id}. Se oppgavene med "
                       "«avtaleflyt case show KNR».", field="task_id") from None
    _check_assign(user, key, task_id, body)
    return run_write(user, "assign_task", key, task_id=task_id, contact_id=body.contact_id,
                     username=body.user)


def _check_assign(user, key, task_id: int, body: Assign) -> None:
    """`preflight.check_assign` (its `user` is the assignee; `preflight()` takes `user` for
    the token's user), skipped like every preflight for a retry already saved."""
    from avtaleflyt.services import inbox, preflight as checks

    with runtime.session() as s:
        if key is not None and inbox.status_of(s, key) in (inbox.APPLIED, inbox.DONE):
            return
        checks.check_assign(session=s, task_id=task_id, contact_id=body.contact_id,
                            user=body.user, ctx=runtime.ctx(actor=user.username))
