"""Deadlines the sweep maintains: political tasks on the meeting plan, recurring duties,
and the reminders owed today, written to the outbox.

Every function here is set-based: a fixed number of queries however many cases there are.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import (
    DUTY_PREFIX,
    EventKind,
    ReminderKind,
    TaskFamily,
    task_family,
)
from avtaleflyt.domain import deadlines as dl
from avtaleflyt.domain.duties import DutyRules, plan_duties
from avtaleflyt.domain.machine import NewEvent
from avtaleflyt.domain.facts import FactKind, Outcome
from avtaleflyt.domain.stages import CaseStatus, Party, Stage, pipeline
from avtaleflyt.formatting import format_date
from avtaleflyt.models import (
    AgreementTerms,
    ContactPerson,
    County,
    Event,
    Municipality,
    OnboardingCase,
    Reminder,
    Task,
    utcnow,
)
from avtaleflyt.notifications.channels import (
    TargetBook,
    contact_key,
    coordinator_key,
    leader_key,
)

from .context import Ctx
from .scope import EVERYWHERE, Scope
from .store import add_events, add_tasks, terms_of

POLITICAL_KEYS = (dl.SAKSFRAMLEGG, dl.COUNCIL, dl.COUNTY)
_DECISION_KEY = {FactKind.COUNCIL_DECISION.value: dl.COUNCIL,
                 FactKind.COUNTY_DECISION.value: dl.COUNTY}


def _active_cases(session: Session, stage: Stage, case_ids: list[int] | None = None,
                  scope: Scope = EVERYWHERE):
    """(case, municipality, fylkesnummer) of the stage's active cases in `scope`."""
    q = (select(OnboardingCase, Municipality, County.code)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .join(County, col(County.id) == Municipality.county_id)
         .where(OnboardingCase.stage == stage.value,
                OnboardingCase.status == CaseStatus.ACTIVE.value))
    if case_ids is not None:
        q = q.where(col(OnboardingCase.id).in_(case_ids))
    return session.exec(scope.where(q, Municipality.county_id)).all()


def _touch(session: Session, case: OnboardingCase) -> None:
    """A change to a case's tasks bumps its version, so a stale concurrent write fails."""
    case.updated_at = utcnow()
    session.add(case)


def _insert_reminders(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on the reminder's unique key, on both backends, as one
    statement compiled once and executed with every row (executemany; SQLAlchemy batches
    the rows into multi-row statements itself)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    table = Reminder.__table__  # type: ignore[attr-defined]  # Core: no ORM bulk bookkeeping
    stmt = (insert(table).on_conflict_do_nothing(
        index_elements=["task_id", "kind", "due_on", "step", "recipient"])
        .returning(table.c.id))
    # RETURNING counts what was new; rowcount is -1 for this statement on psycopg.
    return len(session.execute(stmt, [{**r, "created_at": now} for r in rows]).all())


# --- political approval on the meeting plan ------------------------------------------------


def schedule_political_cases(*, session: Session, ctx: Ctx, case_ids: list[int] | None = None,
                             commit: bool = True, scope: Scope = EVERYWHERE) -> int:
    """Point every political case's tasks at the right meetings. Returns how many tasks
    changed. Moves append a EventKind.MEETING_MOVED event and tell the coordinator; a case without
    a meeting plan gets a "no_plan" notice for the coordinator (once per stage entry)."""
    from .meetings import meetings_by_scope, meetings_of_bodies, saksgang_by_municipality

    cases = _active_cases(session, Stage.POLITICAL_APPROVAL, case_ids, scope)
    if not cases:
        return 0
    ids = [c.id for c, _, _ in cases]
    tasks: dict[int, dict[str, Task]] = defaultdict(dict)
    for t in session.exec(select(Task).where(col(Task.case_id).in_(ids),
                                             col(Task.key).in_(POLITICAL_KEYS))).all():
        tasks[t.case_id][t.key] = t
    postponed: dict[int, dict[str, date]] = defaultdict(dict)
    # Through the cases' own events (ix_event_case_id): `kind || ''` keeps SQLite from
    # choosing ix_event_kind, which holds every decision of the whole history.
    for e in session.exec(select(Event).where(
            col(Event.case_id).in_(ids),
            col(Event.kind).concat("").in_(list(_DECISION_KEY)))).all():
        if e.details.get("outcome") == Outcome.POSTPONED.value:
            key = _DECISION_KEY[e.kind]
            postponed[e.case_id][key] = max(e.occurred_on,
                                            postponed[e.case_id].get(key, e.occurred_on))
    earliest = min(c.stage_entered_on for c, _, _ in cases)
    council_m, county_m = meetings_by_scope(session, {m.id for _, m, _ in cases}, earliest)
    bodies_m = meetings_of_bodies(session, {m.id for _, m, _ in cases}, earliest)
    own_saksgang = saksgang_by_municipality(session, {m.id for _, m, _ in cases})
    changed = 0
    notices: list[dict[str, Any]] = []
    for case, m, code in cases:
        cctx = ctx.for_county(code)
        lead = cctx.config.due_amount(dl.SAKSFRAMLEGG)
        coordinator = coordinator_key(code)
        mine = tasks.get(case.id, {})
        views = {k: dl.OpenTask(k, t.due_on, t.done_on) for k, t in mine.items()}
        first_body = (own_saksgang.get(m.id) or cctx.config.saksgang)[0]
        changes = dl.schedule_political(
            tasks=views, council_meetings=council_m.get(m.id, []),
            county_meetings=county_m.get(m.county_id, []), postponed=postponed[case.id],
            today=ctx.today, lead_working_days=lead, cal=cctx.calendar,
            first_body_meetings=(None if first_body == "kommunestyre"
                                 else bodies_m.get((m.id, first_body), [])))
        events = []
        for ch in changes:
            t = mine[ch.key]
            before = t.due_on
            t.due_on = ch.due_on
            session.add(t)
            changed += 1
            kind = EventKind.MEETING_PLANNED if ch.reason == "planned" else EventKind.MEETING_MOVED
            events.append(NewEvent(kind, ctx.today, {
                "task_id": t.id, "key": t.key, "reason": ch.reason,
                "from": before.isoformat() if before else None,
                "to": ch.due_on.isoformat() if ch.due_on else None,
                "meeting": ch.meeting.isoformat() if ch.meeting else None}))
            if ch.reason in ("moved", "postponed", "missed", "replanned") \
                    and ch.due_on is not None \
                    and ch.key != dl.SAKSFRAMLEGG:
                notices.append({"task_id": t.id, "case_id": case.id, "kind": ReminderKind.MOVED,
                                "due_on": ch.due_on, "step": 0, "recipient": coordinator,
                                "created_on": ctx.today})
        if events:
            add_events(session, m, case, events, ctx)
            _touch(session, case)
        council = mine.get(dl.COUNCIL)
        county = mine.get(dl.COUNTY)
        for t in (council, county):
            if t is not None and t.done_on is None and t.due_on is None:
                notices.append({"task_id": t.id, "case_id": case.id, "kind": ReminderKind.NO_PLAN,
                                "due_on": case.stage_entered_on, "step": 0,
                                "recipient": coordinator, "created_on": ctx.today})
    session.flush()
    _insert_reminders(session, notices)
    if commit:
        session.commit()
    return changed


def close_saksframlegg(session: Session, municipality: Municipality, case: OnboardingCase,
                       on: date, ctx: Ctx) -> None:
    """A council decision means the case document reached the council: close its task."""
    task = session.exec(select(Task).where(Task.case_id == case.id,
                                           Task.key == dl.SAKSFRAMLEGG,
                                           col(Task.done_on).is_(None))).first()
    if task is None:
        return
    task.done_on = on
    session.add(task)
    add_events(session, municipality, case, [NewEvent(EventKind.TASK_DONE, on, {
        "task_id": task.id, "key": task.key, "title": task.title,
        "reason": "council_decision"})], ctx)


def missing_meeting_plan(session: Session, case_id: int) -> list[str]:
    """What the case's "waiting for" should add: the bodies whose meeting plan is missing."""
    rows = session.exec(select(Task.key).where(
        Task.case_id == case_id, col(Task.key).in_((dl.COUNCIL, dl.COUNTY)),
        col(Task.done_on).is_(None), col(Task.due_on).is_(None))).all()
    out = []
    if dl.COUNCIL in rows:
        out.append("møteplan for kommunestyret (avtaleflyt meeting add KNR --body "
                   "kommunestyre --date …)")
    if dl.COUNTY in rows:
        code = session.exec(
            select(County.code).join(Municipality, col(Municipality.county_id) == County.id)
            .join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)
            .where(OnboardingCase.id == case_id)).first()
        out.append(f"møteplan for fylkeskommunens organ (avtaleflyt meeting add county "
                   f"--county {code} --body county --date …)")
    return out


# --- recurring duties --------------------------------------------------------------------------


def _duty_rules(ctx: Ctx) -> DutyRules:
    r = ctx.config.reminders
    return DutyRules(horizon_months=r.horizon_months, plan_and_budget_due=r.plan_and_budget_due,
                     statistics_default=r.statistics_default,
                     statistics_deadlines=r.statistics_deadlines,
                     local_report_day=r.local_report_day,
                     statistics_input_days_before=r.statistics_input_days_before,
                     evaluation_months_before_notice=r.evaluation_months_before_notice)


ALL_PLANNED = date(9999, 12, 31)  # duties_until when every duty of the agreement is planned


def _horizon(today: date, ctx: Ctx) -> date:
    from dateutil.relativedelta import relativedelta

    return today + relativedelta(months=ctx.config.reminders.horizon_months)


def generate_duties(*, session: Session, ctx: Ctx, case_ids: list[int] | None = None,
                    commit: bool = True, scope: Scope = EVERYWHERE) -> int:
    """Create the recurring duties of running cases up to the horizon. Idempotent, and
    incremental: each case stores the due date of its next unplanned duty
    (`duties_until`), and only cases where that date has come within the horizon (or that
    were never planned) are read and planned again — a handful a day, not every running
    case. The queries do not depend on how many cases there are."""
    configs = [ctx, *(ctx.for_county(code) for code in ctx.config.counties)]
    widest = max(_horizon(ctx.today, c) for c in configs)
    q = (select(OnboardingCase, Municipality, County.code)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .join(County, col(County.id) == Municipality.county_id)
         .where(OnboardingCase.stage == pipeline().terminal.value,
                OnboardingCase.status == CaseStatus.ACTIVE.value,
                or_(col(OnboardingCase.duties_until).is_(None),
                    col(OnboardingCase.duties_until) <= widest)))
    if case_ids is not None:
        q = q.where(col(OnboardingCase.id).in_(case_ids))
    cases = [(c, m, code) for c, m, code in session.exec(
        scope.where(q, Municipality.county_id)).all()
             if c.duties_until is None
             or c.duties_until <= _horizon(ctx.today, ctx.for_county(code))]
    if not cases:
        return 0
    ids = [c.id for c, _, _ in cases]
    # Duties need the dates and counts of the terms, not the responsibility split.
    terms_by_case = {row.case_id: terms_of(row) for row in session.exec(
        select(AgreementTerms).where(col(AgreementTerms.case_id).in_(ids))).all()}
    ends = notice_ends(session, ids)
    existing: dict[int, set[str]] = defaultdict(set)
    for cid, key in session.exec(select(Task.case_id, Task.key).where(
            col(Task.case_id).in_(ids), col(Task.key).like(DUTY_PREFIX + "%"))).all():
        existing[cid].add(key)
    created = 0
    for case, m, code in cases:
        terms = terms_by_case.get(case.id)
        if terms is None:
            continue
        cctx = ctx.for_county(code)
        rules = _duty_rules(cctx)
        in_horizon = plan_duties(terms, entered_on=case.stage_entered_on, today=ctx.today,
                                 rules=rules, cal=cctx.calendar, ends_on=ends.get(case.id))
        planned = [p for p in in_horizon if p.key not in existing[case.id]]
        # The duties of the next horizon too (pure and cheap): the first one beyond this
        # horizon is when the case needs planning again. Planned from the later of today
        # and the first period's end, so a fixed term's whole agreement is seen and an
        # agreement that renews itself always has a next one (it has no last duty).
        keys = {p.key for p in in_horizon}
        ahead = max(terms.end_date, _horizon(ctx.today, cctx))
        later = [p.due_on for p in plan_duties(terms, entered_on=case.stage_entered_on,
                                               today=ahead, rules=rules,
                                               cal=cctx.calendar, ends_on=ends.get(case.id))
                 if p.key not in keys]
        case.duties_until = min(later) if later else ALL_PLANNED
        session.add(case)
        if not planned:
            continue
        n = add_tasks(session, case, planned)
        created += n
        add_events(session, m, case, [NewEvent(EventKind.DUTIES_PLANNED, ctx.today, {
            "count": n, "until": max(p.due_on for p in planned).isoformat()})], ctx)
        _touch(session, case)
    if commit:
        session.commit()
    return created


def notice_ends(session: Session, case_ids: list[int]) -> dict[int, date]:
    """case id → the last day of its agreement after notice (`notice_given` events, whose
    details keep the end date computed when it was recorded). One query."""
    if not case_ids:
        return {}
    return {cid: date.fromisoformat(details["ends_on"]) for cid, details in session.exec(
        select(Event.case_id, Event.details).where(
            col(Event.case_id).in_(case_ids),
            # the cases' own events, not every notice of the history (`kind || ''`: SQLite)
            col(Event.kind).concat("") == FactKind.NOTICE_GIVEN.value)).all()
        if details.get("ends_on")}


def duties_after_notice(*, session: Session, case: OnboardingCase, given_on: date,
                        ends_on: date, ctx: Ctx) -> list[NewEvent]:
    """After notice: open renewal duties up to the end are settled (done on the day notice
    was given), and open duties the agreement no longer has (periods after `ends_on`, their visits,
    evaluations, reminders of a renewal) are removed — unless a reminder about them was
    already written to the outbox, which keeps its task. The case is planned again by the
    next sweep (`duties_until` cleared). Returns the history event, if anything changed."""
    from .store import load_terms

    _, terms = load_terms(session, case.id)
    if terms is None:
        return []
    rules = _duty_rules(ctx)
    keep = {p.key for p in plan_duties(terms, entered_on=case.stage_entered_on,
                                       today=ends_on, rules=rules, cal=ctx.calendar,
                                       ends_on=ends_on)}
    reminded = set(session.exec(select(Reminder.task_id).join(
        Task, col(Task.id) == Reminder.task_id).where(Task.case_id == case.id)).all())
    settled, removed = [], []
    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             col(Task.key).like(DUTY_PREFIX + "%"),
                                             col(Task.done_on).is_(None))).all():
        if task_family(t.key) is TaskFamily.DUTY_RENEWAL and t.due_on is not None \
                and t.due_on <= ends_on:  # the decision it asked for is made
            t.done_on = given_on
            session.add(t)
            settled.append(t.title)
        elif t.key not in keep and t.id not in reminded:
            removed.append(t.key)
            session.delete(t)
    case.duties_until = None
    session.add(case)
    if not (settled or removed):
        return []
    return [NewEvent(EventKind.DUTIES_AFTER_NOTICE, given_on, {
        "settled": len(settled), "removed": len(removed), "keys": sorted(removed)})]


# --- what is owed today ------------------------------------------------------------------------


def _open_tasks_until(session: Session, until: date, scope: Scope = EVERYWHERE):
    """Open tasks of active cases due up to `until`, as rows of the columns the sweep and
    `deadlines` read (no ORM objects: a morning's sweep reads every one of them): id, key,
    title, stage, responsible, contact_id, due_on, case_id, municipality_id, kommunenummer,
    municipality (its name) and code (the fylkesnummer)."""
    return session.execute(scope.where(
        select(col(Task.id), col(Task.key), col(Task.title), col(Task.stage),
               col(Task.responsible), col(Task.contact_id), col(Task.due_on),
               col(Task.case_id), col(Municipality.id).label("municipality_id"),
               col(Municipality.kommunenummer), col(Municipality.name).label("municipality"),
               col(County.code))
        .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .join(County, col(County.id) == Municipality.county_id)
        .where(OnboardingCase.status == CaseStatus.ACTIVE.value,
               col(Task.done_on).is_(None), col(Task.due_on).is_not(None),
               col(Task.due_on) <= until)
        .order_by(col(Task.due_on), col(Task.id)), Municipality.county_id)).all()


def primary_contacts(session: Session, municipality_ids: set[int]) -> dict[int, ContactPerson]:
    """The primary contact of each municipality (one query)."""
    if not municipality_ids:
        return {}
    rows = session.exec(select(ContactPerson).where(
        col(ContactPerson.municipality_id).in_(municipality_ids),
        col(ContactPerson.is_primary).is_(True)).order_by(col(ContactPerson.id))).all()
    out: dict[int, ContactPerson] = {}
    for c in rows:
        out.setdefault(c.municipality_id, c)
    return out


def owed_reminders(session: Session, ctx: Ctx, targets: TargetBook,
                   scope: Scope = EVERYWHERE) -> list[dict[str, Any]]:
    """The outbox rows owed today (whether or not they exist already). Two queries."""
    rows = _open_tasks_until(session, _reminder_horizon(ctx), scope)
    contacts = (primary_contacts(session, {t.municipality_id for t in rows})
                if targets.has_smtp else {})
    # What is owed depends on the task's due date, its family and its county's rules only:
    # worked out once per distinct (county, family, due date), not once per task.
    owed: dict[tuple[str, bool, date], list[dl.ReminderDue]] = {}
    out: list[dict[str, Any]] = []
    for task in rows:
        renewal = task_family(task.key) is TaskFamily.DUTY_RENEWAL
        key = (task.code, renewal, task.due_on)
        if key not in owed:
            cctx = ctx.for_county(task.code)
            r = cctx.config.reminders
            owed[key] = dl.reminders_due(
                dl.DueTask(0, task.key, task.due_on), ctx.today, cctx.calendar,
                upcoming_working_days=r.upcoming_working_days,
                escalate_after_working_days=r.escalate_after_working_days,
                renewal_days_before=r.renewal_days_before)
        for rem in owed[key]:
            base = {"task_id": task.id, "case_id": task.case_id, "kind": rem.kind,
                    "due_on": rem.due_on, "step": rem.step, "created_on": ctx.today}
            for who in _recipients(rem.kind, task, contacts.get(task.municipality_id),
                                   targets, task.code):
                out.append({**base, "recipient": who})
    return out


def _recipients(kind: str, task: Any, contact: ContactPerson | None,
                targets: TargetBook, county: str) -> list[str]:
    """Recipient keys for one reminder. The coordinator and leader are the case's county's
    ("coordinator:18"), so a county's digest never holds another county's cases."""
    coordinator = coordinator_key(county)
    if kind == ReminderKind.ESCALATION:
        return [leader_key(county) if targets.has_leader_for(county) else coordinator]
    if task.contact_id is not None and targets.has_smtp:
        who = [contact_key(task.contact_id)]  # assigned to a named contact (task assign)
        if kind == ReminderKind.OVERDUE:
            who.append(coordinator)
        return who
    if task.responsible == Party.MUNICIPALITY.value and contact is not None:
        who = [contact_key(contact.id)]
        if kind == ReminderKind.OVERDUE:
            who.append(coordinator)  # the coordinator chases what the municipality owes
        return who
    return [coordinator]


def _reminder_horizon(ctx: Ctx) -> date:
    """The last due date that can be owed a reminder today, under any county's rules."""
    configs = [ctx.config, *ctx.config.counties.values()]
    return ctx.today + timedelta(days=max(
        dl.lookahead_days(c.reminders.upcoming_working_days, c.reminders.renewal_days_before)
        for c in configs))


def _written(session: Session, until: date, scope: Scope) -> set[tuple]:
    """The outbox keys already written for the open tasks `owed_reminders` reads (one
    query, joined on the same conditions: no list of ids)."""
    return set(session.exec(scope.where(
        select(col(Reminder.task_id), col(Reminder.kind), col(Reminder.due_on),
               col(Reminder.step), col(Reminder.recipient))
        .join(Task, col(Task.id) == Reminder.task_id)
        .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(OnboardingCase.status == CaseStatus.ACTIVE.value,
               col(Task.done_on).is_(None), col(Task.due_on).is_not(None),
               col(Task.due_on) <= until), Municipality.county_id)).all())


def collect_reminders(*, session: Session, ctx: Ctx, targets: TargetBook,
                      commit: bool = True, scope: Scope = EVERYWHERE) -> int:
    """Write today's owed reminders (of `scope`'s cases) to the outbox. Returns how many
    were new.

    Most of what is owed today was written on an earlier day (an overdue task is owed its
    overdue reminder every day): those are left out before the INSERT, which then carries
    only the new rows (71 of 924 at bench size; inserting all with ON CONFLICT DO NOTHING
    took 165 ms on PostgreSQL). The INSERT still skips a row written meanwhile by a
    concurrent sweep."""
    owed = owed_reminders(session, ctx, targets, scope)
    if owed:
        written = _written(session, _reminder_horizon(ctx), scope)
        owed = [r for r in owed if (r["task_id"], r["kind"], r["due_on"], r["step"],
                                    r["recipient"]) not in written]
    n = _insert_reminders(session, owed)
    if commit:
        session.commit()
    return n


def deadline_rows(session: Session, today: date, days: int, scope: Scope = EVERYWHERE
                  ) -> list[dict[str, Any]]:
    """Open tasks of active cases in `scope` due within `days` days, overdue ones included."""
    out = []
    for task in _open_tasks_until(session, today + timedelta(days=days), scope):
        left = (task.due_on - today).days
        out.append({
            "kommunenummer": task.kommunenummer, "municipality": task.municipality,
            "task_id": task.id,
            "key": task.key, "title": task.title, "stage": task.stage,
            "responsible": task.responsible, "due_on": task.due_on.isoformat(),
            "due_label": format_date(task.due_on), "days_left": left, "overdue": left < 0,
        })
    return out

