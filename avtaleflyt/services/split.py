"""Each case's own responsibility split (grenseoppgang).

A case gets a copy of its county's default split (`[split]` in the configuration, per
county under `[county."NR".split]`) when it opens. The coordinator changes it row by row —
change who owns a row, reword it, add or remove one — until the agreement is signed by
either party; then the split is part of the signed agreement and changes are refused.

`case_split(session, case)` is what the documents read (the samarbeidsavtale, the
checklist and the yearly report)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.agreement import DEFAULT_SPLIT, ResponsibilityRow
from avtaleflyt.domain.errors import Conflict, InvalidInput, ref
from avtaleflyt.domain.machine import NewEvent, fmt
from avtaleflyt.domain.facts import FactKind
from avtaleflyt.domain.stages import CaseStatus, Party
from avtaleflyt.domain.text import check_text
from avtaleflyt.models import CaseSplitRow, Event, OnboardingCase

from .context import Ctx
from .store import add_events, commit_case, county_ctx, get_case

MAX_ROWS = 60


def default_split(ctx: Ctx) -> list[ResponsibilityRow]:
    """The county's default split from the configuration (`ctx` already for the county)."""
    rows = ctx.config.split
    if not rows:
        return list(DEFAULT_SPLIT)
    return [ResponsibilityRow(task, Party(who)) for task, who in rows]


def seed_split(session: Session, case: OnboardingCase, ctx: Ctx) -> None:
    """Give a new case its county's default split (`ctx` for the case's county)."""
    for i, r in enumerate(default_split(ctx)):
        session.add(CaseSplitRow(case_id=case.id, position=i, task=r.task,
                                 responsible=r.responsible.value))


def _rows(session: Session, case_id: int) -> list[CaseSplitRow]:
    return list(session.exec(select(CaseSplitRow).where(CaseSplitRow.case_id == case_id)
                             .order_by(col(CaseSplitRow.position))).all())


def case_split(session: Session, case: OnboardingCase | int) -> list[ResponsibilityRow]:
    """The case's responsibility split, in order. A case opened before the split belonged
    to the case (and not migrated) reads as the built-in default."""
    from .store import case_split_rows

    case_id = case if isinstance(case, int) else case.id
    return case_split_rows(session, case_id) or list(DEFAULT_SPLIT)


def split_rows(session: Session, kommunenummer: str) -> dict[str, Any]:
    """For `case split show` and the dashboard: numbered rows and whether they can change."""
    m, case = get_case(session, kommunenummer)
    signed = _signed_on(session, case)
    return {"kommunenummer": m.kommunenummer, "municipality": m.name,
            "editable": signed is None and CaseStatus(case.status).is_open,
            "signed_on": signed.isoformat() if signed else None,
            "rows": [{"row": i, "task": r.task, "responsible": r.responsible.value,
                      "responsible_label": r.responsible.label}
                     for i, r in enumerate(case_split(session, case), start=1)]}


def _signed_on(session: Session, case: OnboardingCase):
    return session.exec(select(Event.occurred_on).where(
        Event.case_id == case.id, Event.kind == FactKind.SIGNED.value)
        .order_by(col(Event.occurred_on))).first()


def _party(value: str | None) -> Party | None:
    if value is None:
        return None
    from avtaleflyt.domain.facts import PARTY_VALUES

    return Party(PARTY_VALUES.parse(value, "responsible"))


def change_split(*, session: Session, kommunenummer: str, action: str, ctx: Ctx,
                 row: int | None = None, task: str | None = None,
                 responsible: str | None = None) -> dict[str, Any]:
    """Change one row: action "set" (row, and a new task text and/or responsible), "add"
    (task, responsible; appended) or "remove" (row). Refused once the agreement is signed
    or the case is closed; nothing is changed by a refused edit."""
    m, case = get_case(session, kommunenummer)
    ctx = county_ctx(session, m, ctx)
    if not CaseStatus(case.status).is_open:
        raise Conflict(f"Saken for {m.name} er avsluttet; grenseoppgangen kan ikke endres.")
    signed = _signed_on(session, case)
    if signed is not None:
        raise Conflict(f"Avtalen for {m.name} er signert ({fmt(signed)}); grenseoppgangen er "
                       "en del av den signerte avtalen og kan ikke endres.")
    if action not in ("set", "add", "remove"):
        raise InvalidInput(f"Ukjent endring «{action}»; bruk set, add eller remove.",
                           field="action")
    rows = _rows(session, case.id)
    if not rows:  # a case from before the split belonged to the case
        seed_split(session, case, ctx)
        session.flush()
        rows = _rows(session, case.id)
    who = _party(responsible)
    text = check_text(task, "task", 300, required=action == "add") \
        if task is not None or action == "add" else None
    if action == "add":
        if who is None:
            raise InvalidInput(f"{ref('responsible')} mangler: oppgi kommunen eller "
                               "fylkeskommunen.", field="responsible")
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(f"Grenseoppgangen kan ha høyst {MAX_ROWS} rader.", field="task")
        target = CaseSplitRow(case_id=case.id, position=len(rows), task=text,
                              responsible=who.value)
        session.add(target)
        details = {"action": "add", "row": len(rows) + 1, "task": text,
                   "responsible": who.value}
    else:
        if row is None or not 1 <= row <= len(rows):
            raise InvalidInput(f"«ROW»: rad {row} finnes ikke; grenseoppgangen har rad 1–"
                               f"{len(rows)} (se «avtaleflyt case split show "
                               f"{m.kommunenummer}»).", field="row")
        target = rows[row - 1]
        if action == "remove":
            details = {"action": "remove", "row": row, "task": target.task,
                       "responsible": target.responsible}
            session.delete(target)
            session.flush()
            for later in rows[row:]:  # keep positions dense; one at a time for the unique key
                later.position -= 1
                session.add(later)
                session.flush()
        else:
            if text is None and who is None:
                raise InvalidInput(f"Oppgi hva som skal endres: {ref('task')} og/eller "
                                   f"{ref('responsible')}.", field="task")
            if (text or target.task) == target.task and \
                    (who.value if who else target.responsible) == target.responsible:
                return {"kommunenummer": m.kommunenummer, "municipality": m.name,
                        "changed": False, "message": f"Rad {row} er allerede slik; ingen "
                        "endring."}
            details = {"action": "set", "row": row, "from_task": target.task,
                       "from": target.responsible}
            if text:
                target.task = text
            if who:
                target.responsible = who.value
            details.update({"task": target.task, "responsible": target.responsible})
            session.add(target)
    add_events(session, m, case, [NewEvent(EventKind.SPLIT_CHANGED, ctx.today, details)], ctx)
    commit_case(session, case)
    verb = {"add": "lagt til", "remove": "fjernet", "set": "endret"}[action]
    return {"kommunenummer": m.kommunenummer, "municipality": m.name, "changed": True,
            "message": f"Grenseoppgangen for {m.name}: rad {details['row']} {verb}."}
