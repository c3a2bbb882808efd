"""The outbox end to end on SQLite and PostgreSQL, with a real HTTP endpoint receiving
Apprise json:// posts and a real SMTP server (aiosmtpd): once per recipient per day, a
claim only one sweep can win, a sweep killed mid-run, a failing target that recovers, and
no secret anywhere it should not be."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.services import cases, people, reminders
from avtaleflyt.services.sweep import dry_run_session, run_sweep
from avtaleflyt.models import Delivery, Digest, Reminder, utcnow
from avtaleflyt.notifications.channels import TargetBook, deliver

from .conftest import ctx_for
from .reminder_support import (
    HOOK_SECRET,
    LEADER_SECRET,
    SMTP_PASSWORD,
    HookServer,
    SmtpServer,
)

KNR = "1836"
OPENED = date(2027, 4, 1)
SWEEP = date(2027, 5, 21)  # "intent" (due 13 May) is 5 working days late: 17 May is a holiday
EMAIL = "ola.nordmann@rodoy.example"


@pytest.fixture
def hook():
    h = HookServer().start()
    yield h
    h.stop()


@pytest.fixture
def smtp():
    s = SmtpServer().start()
    yield s
    s.stop()


def _setup(session):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=OPENED, ctx=ctx_for(OPENED))
    people.add_contact(session=session, kommunenummer=KNR, name="Ola Nordmann",
                       role="kommunedirektør", email=EMAIL, phone=None, primary=True,
                       ctx=ctx_for(OPENED))


def _book(hook, smtp, *extra_coordinator):
    return TargetBook(coordinator=(hook.url("coordinator"), *extra_coordinator),
                      leader=(hook.url("leader", LEADER_SECRET),), smtp_url=smtp.url)


def _sweep(session, day, targets, **kw):
    return run_sweep(session=session, ctx=ctx_for(day), targets=targets, **kw)


def test_one_digest_per_recipient_and_a_rerun_sends_nothing(session, hook, smtp):
    _setup(session)
    targets = _book(hook, smtp)
    first = _sweep(session, SWEEP, targets)
    assert first.sent_count == 3 and first.failed_count == 0
    assert len(hook.to("coordinator")) == 1 and len(hook.to("leader")) == 1
    assert [m[1] for m in smtp.messages] == [[EMAIL]]
    rows = session.exec(select(Reminder)).all()
    assert first.reminders_new == len(rows) == 7  # 3 tasks: overdue (4) and escalation (3)
    kinds = {(r.kind, r.recipient.split(":")[0]) for r in rows}
    assert kinds == {("overdue", "coordinator"), ("escalation", "leader"),
                     ("overdue", "contact")}
    coordinator = hook.to("coordinator")[0]["message"]
    assert "Rødøy (1836)" in coordinator and "13. mai 2027" in coordinator
    assert "5 arbeidsdager på overtid" in coordinator
    mail = _decoded_mail(smtp.messages[0][2])
    assert "Kommunen bekrefter at den vil gå videre" in mail and "13. mai 2027" in mail
    assert "avtaleflyt task done" not in mail  # contacts are told what to do, not commands

    again = _sweep(session, SWEEP, targets)
    assert again.sent == [] and again.reminders_new == 0
    assert len(hook.posts) == 2 and len(smtp.messages) == 1
    assert session.exec(sa.select(sa.func.count()).select_from(Digest)).scalar() == 3


def _decoded_mail(raw: bytes) -> str:
    import email
    from email import policy

    msg = email.message_from_bytes(raw, policy=policy.default)
    return "\n".join(part.get_content() for part in msg.walk()
                     if part.get_content_maintype() == "text")


def test_only_one_claim_wins(db_url, session, hook, smtp):
    _setup(session)
    ctx = ctx_for(SWEEP)
    from avtaleflyt.services.deadlines import collect_reminders

    collect_reminders(session=session, ctx=ctx, targets=_book(hook, smtp))
    digest = reminders.build_digests(session=session, ctx=ctx)[0]
    now = utcnow()
    with db.session_scope(db_url) as a, db.session_scope(db_url) as b:
        wins = [reminders.claim(a, digest.id, ctx, now), reminders.claim(b, digest.id, ctx, now)]
    assert wins == [True, False]
    # Within the lease nobody takes it over; after it, exactly one sweep does.
    later = now + timedelta(minutes=ctx.config.reminders.claim_lease_minutes + 1)
    with db.session_scope(db_url) as a, db.session_scope(db_url) as b:
        assert reminders.claim(a, digest.id, ctx, now + timedelta(minutes=1)) is False
        assert [reminders.claim(a, digest.id, ctx, later),
                reminders.claim(b, digest.id, ctx, later)] == [True, False]


class Crash(Exception):
    pass


def _crashing(after_send: bool, on_call: int):
    calls = {"n": 0}

    def send(target, title, text, html):
        calls["n"] += 1
        if calls["n"] == on_call and not after_send:
            raise Crash("killed after claiming, before sending")
        result = deliver(target, title, text, html)
        if calls["n"] == on_call:
            raise Crash("killed after sending, before recording")
        return result

    return send


def _received(hook, smtp):
    return {"coordinator": len(hook.to("coordinator")), "leader": len(hook.to("leader")),
            "contact": len(smtp.messages)}


def test_sweep_killed_between_claim_and_send_is_rerun_without_duplicates(session, hook, smtp):
    _setup(session)
    targets = _book(hook, smtp)
    now = utcnow()
    with pytest.raises(Crash):
        _sweep(session, SWEEP, targets, now=now, deliver=_crashing(False, 2))
    session.rollback()
    assert sum(_received(hook, smtp).values()) == 1
    _sweep(session, SWEEP, targets, now=now + timedelta(minutes=1))  # within the lease
    assert sum(_received(hook, smtp).values()) == 2
    _sweep(session, SWEEP, targets, now=now + timedelta(minutes=30))  # lease expired
    assert _received(hook, smtp) == {"coordinator": 1, "leader": 1, "contact": 1}
    _sweep(session, SWEEP, targets, now=now + timedelta(hours=2))
    assert _received(hook, smtp) == {"coordinator": 1, "leader": 1, "contact": 1}
    statuses = session.exec(select(Digest.status)).all()
    assert sorted(statuses) == ["sent", "sent", "sent"]


def test_crash_between_send_and_record_repeats_at_most_that_one_message(session, hook, smtp):
    _setup(session)
    targets = _book(hook, smtp)
    now = utcnow()
    with pytest.raises(Crash):
        _sweep(session, SWEEP, targets, now=now, deliver=_crashing(True, 2))
    session.rollback()
    _sweep(session, SWEEP, targets, now=now + timedelta(minutes=30))
    _sweep(session, SWEEP, targets, now=now + timedelta(minutes=60))
    got = _received(hook, smtp)
    assert sorted(got.values()) == [1, 1, 2]


def test_failing_target_is_retried_and_reported_then_recovers(session, hook, smtp):
    broken = HookServer().start()
    try:
        broken.failing = True
        _setup(session)
        broken_url = broken.url("second", "Zweite-Hemmelig-5")
        targets = _book(hook, smtp, broken_url)
        r1 = _sweep(session, SWEEP, targets)
        coordinator = next(s for s in r1.sent if s["recipient"] == "coordinator:18")
        assert coordinator["status"] == "failed"
        assert len(hook.to("coordinator")) == 1  # the working target got it
        failed = session.exec(select(Delivery).where(Delivery.status == "failed")).one()
        assert "****" in failed.target and "Zweite-Hemmelig-5" not in failed.target
        digest = session.get(Digest, failed.digest_id)
        assert (digest.attempts, digest.next_attempt_on) == (1, SWEEP + timedelta(days=1))

        assert _sweep(session, SWEEP, targets).sent == []  # not before its retry day
        broken.failing = False
        next_day = date(2027, 5, 24)
        r2 = _sweep(session, next_day, targets)
        assert {(s["recipient"], s["status"]) for s in r2.sent} >= {("coordinator:18", "sent")}
        assert len(broken.to("second")) == 2  # yesterday's retried + today's report
        assert len(hook.to("coordinator")) == 2  # the retry skipped the target that had it
        report = broken.to("second")[-1]["message"]
        assert "kom ikke fram" in report and "Zweite-Hemmelig-5" not in report
        assert session.get(Digest, digest.id).status == "sent"
        assert _sweep(session, next_day, targets).sent == []
    finally:
        broken.stop()


def test_no_secret_reaches_the_database_results_or_logs(db_url, session, hook, smtp, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    _setup(session)
    broken = HookServer().start()
    broken.failing = True
    try:
        targets = _book(hook, smtp, broken.url("second", "Zweite-Hemmelig-5"))
        result = _sweep(session, SWEEP, targets)
        with dry_run_session(db_url) as dry:
            preview = run_sweep(session=dry, ctx=ctx_for(SWEEP + timedelta(days=3)),
                                targets=targets, dry_run=True)
    finally:
        broken.stop()
    secrets = [HOOK_SECRET, LEADER_SECRET, SMTP_PASSWORD, "Zweite-Hemmelig-5"]
    dump = json.dumps([result.as_dict(), result.table(), preview.as_dict()], default=str)
    engine = db.get_engine(db_url)
    with engine.connect() as c:
        for table in ("digest", "delivery", "reminder", "event", "task"):
            dump += json.dumps([list(r) for r in c.execute(sa.text(f"select * from {table}"))],
                               default=str)
    dump += caplog.text
    assert "****" in dump
    for s in secrets:
        assert s not in dump


def test_two_sweeps_at_once_send_each_digest_once(db_url, session, hook, smtp):
    """Two sweeps racing on the same day, each with its own connection: the outbox's unique
    key, the one-digest-per-day key and the claim let exactly one of them send each digest."""
    import threading

    _setup(session)
    targets = _book(hook, smtp)
    errors: list[BaseException] = []

    def one():
        try:
            with db.session_scope(db_url) as s:
                run_sweep(session=s, ctx=ctx_for(SWEEP), targets=targets)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert _received(hook, smtp) == {"coordinator": 1, "leader": 1, "contact": 1}
    assert sorted(session.exec(select(Digest.status)).all()) == ["sent", "sent", "sent"]


def test_no_configured_target_is_a_recorded_failure_not_a_crash(session, hook, smtp):
    _setup(session)
    result = _sweep(session, SWEEP, TargetBook())
    assert result.failed_count == len(result.sent) == 1  # contacts fall back to the coordinator
    digest = session.exec(select(Digest)).one()
    assert digest.recipient == "coordinator:18" and digest.status == "failed"
    assert "AVTALEFLYT_NOTIFY_URLS" in digest.last_error
    assert session.exec(select(Delivery)).one().target == "(ingen)"


def test_a_task_assigned_to_a_named_contact_reminds_that_contact(session, hook, smtp):
    _setup(session)
    other = "kari.kultur@rodoy.example"
    people.add_contact(session=session, kommunenummer=KNR, name="Kari Kultur",
                       role="kultursjef", email=other, phone=None, primary=False,
                       ctx=ctx_for(OPENED))
    from avtaleflyt.services.queries import municipality_contacts
    from avtaleflyt.services.store import case_tasks, get_case

    kari = next(c for c in municipality_contacts(session, KNR) if c["email"] == other)
    _, case = get_case(session, KNR)
    intent = next(t for t in case_tasks(session, case.id) if t.key == "first_contact.intent")
    people.assign_task(session=session, task_id=intent.id, contact_id=kari["id"],
                       ctx=ctx_for(OPENED))
    _sweep(session, SWEEP, _book(hook, smtp))
    assert [m[1] for m in smtp.messages] == [[other]]
    assert "Kommunen bekrefter" in _decoded_mail(smtp.messages[0][2])


def test_digest_html_escapes_what_it_shows():
    from avtaleflyt.notifications.digest import DigestContent, Item, render

    out = render(DigestContent("koordinator", [Item(
        "due", "Rødøy", "1836", "<script>x</script>", "13. mai 2027", "i dag", "A & B")]),
        date(2027, 5, 13))
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<script>x</script>" in out.text and out.title.endswith("13. mai 2027")


def test_reminders_for_work_since_done_or_cases_since_closed_are_not_sent(session, hook, smtp):
    """A reminder written to the outbox one day and still unsent later must not tell anyone
    about a case that has been withdrawn (or a task done) in the meantime."""
    _setup(session)
    ctx = ctx_for(SWEEP)
    from avtaleflyt.services.deadlines import collect_reminders

    assert collect_reminders(session=session, ctx=ctx, targets=_book(hook, smtp)) > 0
    cases.withdraw(session=session, kommunenummer=KNR, on=SWEEP, reason="ansatte selv",
                   ctx=ctx)
    result = _sweep(session, SWEEP, _book(hook, smtp))
    assert result.sent == [] and hook.posts == [] and smtp.messages == []


def test_a_sweep_that_outlived_its_lease_does_not_overwrite_or_repeat_the_takeover(
        db_url, session, hook, smtp, monkeypatch):
    """Sweep A claims its batch and then hangs in a channel past the lease; sweep B takes
    the digests over and delivers them. A's late failure must not turn B's `sent` into
    `failed` (the digest would go out again on the retry day), and A must not send the
    rest of its batch again. The clock is the boundary replaced here: A's channel call
    "takes" longer than the lease."""
    from avtaleflyt.notifications.channels import SendResult

    _setup(session)
    targets = _book(hook, smtp)
    now = utcnow()
    lease = ctx_for(SWEEP).config.reminders.claim_lease_minutes
    clock = {"t": 0.0}
    monkeypatch.setattr(reminders, "_monotonic", lambda: clock["t"])
    calls: list[int] = []

    def stalls_then_fails(target, title, text, html):
        calls.append(1)
        if len(calls) == 1:
            with db.session_scope(db_url) as b:
                took = reminders.send_due_digests(session=b, ctx=ctx_for(SWEEP), targets=targets,
                                                  now=now + timedelta(minutes=lease + 1))
            assert [r.status for r in took] == ["sent"] * 3
            clock["t"] += (lease + 1) * 60
            return SendResult(False, "tidsavbrudd")
        return deliver(target, title, text, html)

    first = _sweep(session, SWEEP, targets, now=now, deliver=stalls_then_fails)
    assert [s["status"] for s in first.sent] == ["failed"] and len(calls) == 1
    session.expire_all()
    assert sorted(session.exec(select(Digest.status)).all()) == ["sent", "sent", "sent"]
    assert _received(hook, smtp) == {"coordinator": 1, "leader": 1, "contact": 1}
