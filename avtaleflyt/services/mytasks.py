"""Mine oppgaver (a coordinator's own open tasks), bulk completion, and Restanser grouped per
person.

A dashboard user is the county's coordinator: the tasks that are theirs are the open tasks
whose responsible party is the county, within the user's county scope (a national user sees
every county's). Tasks are never assigned to a dashboard user by name — `task assign` names a
contact person in the municipality — so "assigned to me" is "assigned to my role".

Read models here are set-based like services/dashboard.py; `check_completions` runs the same
domain rule as `cases.complete_task` for several tasks and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case as sql_case
from sqlalchemy import func
from sqlmodel import Session, col, select

from avtaleflyt.domain import machine
from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from avtaleflyt.domain.stages import Party
from avtaleflyt.models import ContactPerson, Municipality, Task

from .context import Ctx
from .dashboard import PAGE_SIZE, Page, TaskRow, _open_task_query, _paged_tasks, _task_columns
from .scope import EVERYWHERE, Scope
from .store import get_task, latest_case, snapshot, to_view

COORDINATOR = Party.COUNTY.value
MAX_BULK = PAGE_SIZE  # a bulk completion covers at most one page of tasks


def my_tasks(session: Session, today: date, scope: Scope = EVERYWHERE, *, page: int = 1,
             per_page: int = PAGE_SIZE, with_municipalities: bool = False) -> Page:
    """The coordinator role's open tasks with a deadline in active cases in scope (with
    `with_municipalities`, the municipalities' tasks as well: the coordinator records those
    too, e.g. the setup items), due first, a page at a time (two queries)."""
    return _paged_tasks(session, today, page, per_page, scope,
                        responsible=None if with_municipalities else COORDINATOR)


def closed_by_facts(session: Session, task_ids: list[int]) -> set[int]:
    """Those of these tasks that close when a fact is recorded (a milestone), so they
    cannot be ticked off by hand. One query."""
    if not task_ids:
        return set()
    return set(session.exec(select(Task.id).where(col(Task.id).in_(task_ids),
                                                  col(Task.milestone).is_not(None))).all())


@dataclass(frozen=True)
class Refusal:
    task_id: int
    message: str  # names the task
    error: DomainError  # the refusal `complete_task` gives for this task alone


def check_completions(session: Session, task_ids: list[int], on: date, ctx: Ctx,
                      scope: Scope = EVERYWHERE) -> list[Refusal]:
    """Every refusal `complete_task` would give for these tasks done on `on`, task by task,
    without writing. A task outside `scope` is "not found", like an unknown id."""
    from avtaleflyt.models import OnboardingCase

    refusals = []
    for task_id in task_ids:
        try:
            task = get_task(session, task_id)
        except NotFound as e:
            refusals.append(Refusal(task_id, f"Oppgave {task_id}: finnes ikke.", e))
            continue
        case = session.get(OnboardingCase, task.case_id)
        m = session.get(Municipality, case.municipality_id)
        try:
            if not scope.allows(m.county_id):  # said exactly as for an unknown id
                raise NotFound(f"Fant ingen oppgave med id {task_id}. Se oppgavene med "
                               "«avtaleflyt case show KNR».", field="task_id")
            latest = latest_case(session, m)
            if latest is None or latest.id != case.id:
                raise Conflict(f"Oppgave {task_id} hører til en tidligere, avsluttet sak for "
                               f"{m.name}.")
            machine.complete_task(snapshot(session, m, case), to_view(task), on, ctx.today)
        except NotFound as e:
            refusals.append(Refusal(task_id, f"Oppgave {task_id}: finnes ikke.", e))
        except DomainError as e:
            refusals.append(Refusal(task_id, f"Oppgave {task_id} «{task.title}» ({m.name}): "
                                             f"{e.message}", e))
    return refusals


def refusal_error(refusals: list[Refusal], count: int) -> DomainError | None:
    """The one error for a refused completion of `count` tasks: a single task's own error
    word for word, or every refusal listed and that none was marked done."""
    if not refusals:
        return None
    if count == 1:
        return refusals[0].error
    text = "\n".join(r.message for r in refusals)
    return type(refusals[0].error)(f"{text}\nIngen av de {count} oppgavene ble markert som "
                                   "gjort.")


def parse_task_ids(values: list[str], field: str = "task_id") -> list[int]:
    """Checked task ids from a form or the command line: whole numbers, at least one, at
    most MAX_BULK, each once (in the order given)."""
    ids: list[int] = []
    for v in values:
        v = str(v).strip()
        if not v.isdigit():
            raise InvalidInput(f"Oppgave-id «{v}» er ikke et heltall.", field=field)
        if int(v) not in ids:
            ids.append(int(v))
    if not ids:
        raise InvalidInput("Velg minst én oppgave.", field=field)
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"Høyst {MAX_BULK} oppgaver om gangen (du valgte {len(ids)}).",
                           field=field)
    return ids


UNASSIGNED = "Ikke tildelt"


@dataclass
class PersonGroup:
    """Overdue tasks of one person (or role): `name` as shown, with their number in all."""

    name: str
    total: int
    rows: list[TaskRow]


def _person_key():
    """0 the coordinator role, 1 a named contact person, 2 nobody named (the municipality's
    tasks without `task assign`)."""
    return sql_case((Task.responsible == COORDINATOR, 0),
                    (col(Task.contact_id).is_not(None), 1), else_=2)


def overdue_by_person(session: Session, today: date, scope: Scope = EVERYWHERE, *,
                      page: int = 1, per_page: int = PAGE_SIZE) -> tuple[list[PersonGroup], Page]:
    """Overdue open tasks grouped by whom they are assigned to: the county's coordinator,
    each named contact person (by name), then the unassigned; oldest first within a group.
    The list is paged (a group may continue on the next page); each group carries its full
    count. Three queries."""
    until = today - timedelta(days=1)
    key = _person_key()
    name = func.coalesce(col(ContactPerson.name), "")

    def joined(q):
        return q.outerjoin(ContactPerson, col(ContactPerson.id) == Task.contact_id)

    counts = session.exec(joined(_open_task_query((key, name, func.count()), scope,
                                                  due_until=until))
                          .group_by(key, name)).all()
    total = sum(int(n) for _k, _n, n in counts)
    page = min(max(page, 1), max(1, -(-total // per_page)))
    q = (joined(_open_task_query((*_task_columns(), key, name), scope, due_until=until))
         .order_by(key, name, col(Task.due_on), col(Municipality.kommunenummer), col(Task.id))
         .offset((page - 1) * per_page).limit(per_page))
    by_group: dict[tuple[int, str], int] = {(int(k), n): int(c) for k, n, c in counts}
    groups: list[PersonGroup] = []
    current: tuple[int, str] | None = None
    for *cols, k, n in session.exec(q).all() if total else []:
        tid, knr, mname, stage, title, resp, due, version, updated = cols
        if (int(k), n) != current:
            current = (int(k), n)
            label = ("Fylkets koordinator" if current[0] == 0
                     else n if current[0] == 1 else UNASSIGNED)
            groups.append(PersonGroup(label, by_group.get(current, 0), []))
        groups[-1].rows.append(TaskRow(tid, knr, mname, stage, title, resp, due,
                                       abs((today - due).days), version, updated))
    return groups, Page([r for g in groups for r in g.rows], total, page, per_page)
