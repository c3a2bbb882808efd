"""Data at a size for the scale tests: open cases through the product's own services, and a
history of closed cases written with SQL shaped exactly as the services write it (case rows,
their done tasks, their events), which would take far too long through the services."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.domain.stages import STAGE_ORDER, CaseStatus
from avtaleflyt.models import Event, Municipality, OnboardingCase, Task, utcnow
from avtaleflyt.services import cases

from .conftest import ctx_for


def municipalities(url: str, county: str | None = None) -> list[tuple[int, str]]:
    from avtaleflyt.models import County

    with db.session_scope(url) as s:
        q = select(Municipality.id, Municipality.kommunenummer).order_by(
            Municipality.kommunenummer)
        if county:
            q = q.join(County, County.id == Municipality.county_id).where(County.code == county)
        return list(s.exec(q).all())


def open_cases(url: str, n: int, on: date, county: str | None = None) -> list[str]:
    """Open a case in each of the first `n` municipalities (of `county`), through the
    services. Returns their kommunenumre."""
    knrs = [k for _, k in municipalities(url, county)[:n]]
    assert len(knrs) == n, f"only {len(knrs)} municipalities"
    with db.session_scope(url) as s:
        for knr in knrs:
            cases.open_case(session=s, kommunenummer=knr, opened_on=on, ctx=ctx_for(on))
    return knrs


def add_closed_history(url: str, n: int, *, first: date = date(2006, 1, 2),
                       tasks_per_case: int = 6, events_per_case: int = 5,
                       kommunenumre: list[str] | None = None) -> None:
    """`n` closed cases spread over the municipalities (all, or those named), each with its
    done tasks and its events (opened, stage moves, closed)."""
    munis = [m for m, k in municipalities(url)
             if kommunenumre is None or k in kommunenumre]
    closed = [CaseStatus.COMPLETED.value, CaseStatus.WITHDRAWN.value, CaseStatus.REJECTED.value]
    now = utcnow()
    engine = db.get_engine(url)
    with engine.begin() as conn:
        rows = []
        for i in range(n):
            opened = first + timedelta(days=i % 5000)
            rows.append({"municipality_id": munis[i % len(munis)],
                         "stage": STAGE_ORDER[i % len(STAGE_ORDER)].value,
                         "status": closed[i % 3], "opened_on": opened,
                         "stage_entered_on": opened + timedelta(days=30),
                         "closed_on": opened + timedelta(days=400), "on_hold_since": None,
                         "version": 3, "created_at": now, "updated_at": now})
        ids = [r[0] for r in conn.execute(
            sa.insert(OnboardingCase.__table__).returning(OnboardingCase.__table__.c.id),
            rows)]
        tasks, events = [], []
        for cid, r in zip(ids, rows, strict=True):
            for k in range(tasks_per_case):
                tasks.append({"case_id": cid, "stage": r["stage"], "key": f"history.{k}",
                              "title": f"Historisk oppgave {k + 1}",
                              "responsible": "county" if k % 2 else "municipality",
                              "contact_id": None, "mandatory": True, "milestone": None,
                              "due_on": r["opened_on"] + timedelta(days=10 * k),
                              "done_on": r["opened_on"] + timedelta(days=10 * k),
                              "created_at": now})
            for k in range(events_per_case):
                kind = ("case_opened", "stage_entered", "task_done", "task_done",
                        "case_closed")[k % 5]
                details = {"to": STAGE_ORDER[1].value} if kind == "stage_entered" else {}
                events.append({"municipality_id": r["municipality_id"], "case_id": cid,
                               "kind": kind, "occurred_on": r["opened_on"] + timedelta(days=k),
                               "recorded_at": now, "recorded_by": "historikk",
                               "details": details})
        conn.execute(sa.insert(Task.__table__), tasks)
        conn.execute(sa.insert(Event.__table__), events)


def add_done_duties(url: str, kommunenumre: list[str], *, years: int,
                    until: date = date(2026, 1, 1)) -> int:
    """Years of running operation under each named municipality's open case: the monthly
    duties (the county's follow-up, the local staff's report) done on their due date, each
    with its `task_done` event, in the shape the sweep and `complete_task` write them.
    Returns the number of tasks added."""
    now = utcnow()
    with db.session_scope(url) as s:
        open_ = s.exec(select(OnboardingCase.id, OnboardingCase.municipality_id)
                       .join(Municipality, Municipality.id == OnboardingCase.municipality_id)
                       .where(Municipality.kommunenummer.in_(kommunenumre),
                              OnboardingCase.status == CaseStatus.ACTIVE.value)).all()
    assert len(open_) == len(kommunenumre)
    tasks = []
    for cid, _mid in open_:
        for k in range(12 * years):
            month = date(until.year - years + k // 12, k % 12 + 1, 28)
            for kind, responsible in (("followup", "county"),
                                      ("local_report", "municipality")):
                tasks.append({"case_id": cid, "stage": "running_operation",
                              "key": f"duty.{kind}.{month:%Y-%m}",
                              "title": f"Plikt ({kind}, {month:%m.%Y})",
                              "responsible": responsible, "contact_id": None,
                              "mandatory": True, "milestone": None, "due_on": month,
                              "done_on": month, "created_at": now})
    engine = db.get_engine(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(
            sa.insert(Task.__table__).returning(Task.__table__.c.id), tasks)]
        muni = dict(open_)
        conn.execute(sa.insert(Event.__table__), [
            {"municipality_id": muni[t["case_id"]], "case_id": t["case_id"],
             "kind": "task_done", "occurred_on": t["done_on"], "recorded_at": now,
             "recorded_by": "fristsveip",
             "details": {"task_id": tid, "key": t["key"], "title": t["title"]}}
            for tid, t in zip(ids, tasks, strict=True)])
    return len(tasks)
