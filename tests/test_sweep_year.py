"""A year for one municipality, swept every working day through the sweep service (no
Prefect), with a real HTTP endpoint for the coordinator and the leader and a real SMTP server
for the municipality's contact. Every reminder in the outbox arrives exactly once, and no
recipient gets more than one digest a day."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from sqlmodel import select

from avtaleflyt.domain.calendar import default_calendar
from avtaleflyt.services import cases, people
from avtaleflyt.services.store import case_tasks, get_case
from avtaleflyt.services.sweep import run_sweep
from avtaleflyt.models import Digest, Reminder
from avtaleflyt.notifications.channels import TargetBook

from .conftest import ctx_for
from .reminder_support import (
    LEADER_SECRET,
    HookServer,
    SmtpServer,
    add_meeting,
    advance,
    record,
    tasks_by_key,
    working_days,
)

KNR = "1836"
START, END = date(2027, 1, 4), date(2027, 12, 31)


def _script(session, day):
    """What the coordinator records on `day` (before that day's sweep)."""
    ctx = ctx_for(day)
    if day == START:
        cases.open_case(session=session, kommunenummer=KNR, opened_on=day, ctx=ctx)
        people.add_contact(session=session, kommunenummer=KNR, name="Kari Kommune",
                           role="kommunedirektør", email="kari@rodoy.example", phone=None,
                           primary=True, ctx=ctx)
        for on in (date(2027, 3, 18), date(2027, 6, 17), date(2027, 9, 23)):
            add_meeting(session, KNR, "kommunestyre", on, day)
        add_meeting(session, None, "county", date(2027, 4, 20), day)
    steps = {
        date(2027, 1, 20): [("meeting-held", {})],
        date(2027, 1, 27): [("needs-assessed", {})],
        date(2027, 2, 1): [("intent-confirmed", {})],
        date(2027, 4, 20): [("county-decision", {"outcome": "approved"})],
        date(2027, 6, 17): [("council-decision", {"outcome": "approved"})],
        date(2027, 6, 21): [("terms-set", {"start": "2027-09-01", "years": "2",
                                           "notice_months": "3", "site_visits": "4"})],
        date(2027, 6, 28): [("signed", {"party": "municipality"}),
                            ("signed", {"party": "county"})],
    }
    for kind, options in steps.get(day, []):
        record(session, KNR, kind, day, **options)
    advance(session, KNR, day)
    t = tasks_by_key(session, KNR)
    if day == date(2027, 5, 20):  # the case document, late for March, in time for June
        cases.complete_task(session=session, task_id=t["political.saksframlegg"].id, on=day,
                            ctx=ctx)
    if day == date(2027, 8, 16):
        for task in t.values():
            if task.stage == "system_setup" and task.done_on is None:
                cases.complete_task(session=session, task_id=task.id, on=day, ctx=ctx)
    # The coordinator does each monthly follow-up on its due day; visits are left undone.
    for task in t.values():
        if task.key.startswith("duty.followup.") and task.due_on == day:
            cases.complete_task(session=session, task_id=task.id, on=day, ctx=ctx)


def test_a_year_swept_every_working_day(sqlite_url):
    from avtaleflyt import db

    hook, smtp = HookServer().start(), SmtpServer().start()
    targets = TargetBook(coordinator=(hook.url("coordinator"),),
                         leader=(hook.url("leader", LEADER_SECRET),), smtp_url=smtp.url)
    per_day: Counter = Counter()
    try:
        with db.session_scope(sqlite_url) as session:
            days = list(working_days(default_calendar(), START, END))
            for day in days:
                _script(session, day)
                for sent in run_sweep(session=session, ctx=ctx_for(day), targets=targets).sent:
                    assert sent["status"] == "sent", sent
                    per_day[(sent["recipient"], day)] += 1
            # 260 weekdays from 4 January, less Easter (3), Ascension, 17 May and 24 December.
            assert len(days) == 254

            reminders = session.exec(select(Reminder)).all()
            digests = {d.id: d for d in session.exec(select(Digest)).all()}
            _, case = get_case(session, KNR)
            tasks = {t.id: t for t in case_tasks(session, case.id)}
    finally:
        hook.stop()
        smtp.stop()

    # Once per recipient per day, and every reminder in a digest that was sent.
    assert max(per_day.values()) == 1
    assert all(r.digest_id is not None and digests[r.digest_id].status == "sent"
               for r in reminders)
    assert len({(r.task_id, r.kind, r.due_on, r.step, r.recipient) for r in reminders}) \
        == len(reminders)
    assert sum(d.item_count for d in digests.values()) == len(reminders)
    # What arrived where matches the digests exactly.
    by_recipient = Counter(d.recipient for d in digests.values())
    assert len(hook.to("coordinator")) == by_recipient["coordinator:18"]
    assert len(hook.to("leader")) == by_recipient["leader:18"]
    assert len(smtp.messages) == sum(n for r, n in by_recipient.items()
                                     if r.startswith("contact:"))
    # Each message is dated the day it was sent.
    for post in hook.posts:
        assert re.search(r"\d{1,2}\. \w+ 2027$", post[1]["title"])

    owed = {(tasks[r.task_id].key, r.kind, r.step, r.created_on) for r in reminders}
    # The case document: 7 and 1 working days before 25 February, on the day, then moved.
    assert ("political.saksframlegg", "upcoming", 7, date(2027, 2, 16)) in owed
    assert ("political.saksframlegg", "upcoming", 1, date(2027, 2, 24)) in owed
    assert ("political.saksframlegg", "due", 0, date(2027, 2, 25)) in owed
    assert ("political.council", "moved", 0, date(2027, 2, 26)) in owed
    assert not any(k == "political.saksframlegg" and kind == "overdue"
                   for k, kind, _, _ in owed)
    # After the move: due 27 May; 7 working days before is 18 May (17 May is a holiday).
    assert ("political.saksframlegg", "upcoming", 7, date(2027, 5, 18)) in owed
    # Setup is the municipality's: its contact is reminded by e-mail, not the coordinator.
    setup = [r for r in reminders if tasks[r.task_id].stage == "system_setup"]
    assert {(tasks[r.task_id].responsible, r.recipient.split(":")[0]) for r in setup} == \
        {("municipality", "contact"), ("county", "coordinator")}
    # Running operation from 1 September; undone visits escalate to the leader.
    assert ("duty.followup.2027-09", "upcoming", 1, date(2027, 9, 29)) in owed
    assert not any(k.startswith("duty.followup.") and kind in ("due", "overdue")
                   for k, kind, _, _ in owed)  # done on the day, before the sweep
    visit = next(k for k, *_ in owed if k.startswith("duty.visit."))
    assert any(k == visit and kind == "escalation" for k, kind, _, _ in owed)
    assert any(r.recipient == "leader:18" for r in reminders)
    # Every deadline fell on a working day.
    assert all(default_calendar().is_working_day(t.due_on) for t in tasks.values()
               if t.due_on is not None)

