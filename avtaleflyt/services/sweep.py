"""The daily sweep: advance what dates opened, keep deadlines on the meeting plan, generate
duties, write today's reminders to the outbox, and send one digest per recipient.

Each step is its own transaction, and each is idempotent, so a sweep that dies anywhere can
simply be run again. `dry_run_session` gives a session whose every commit is undone at the
end: a dry run goes through the very same steps and then throws them away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_
from sqlmodel import Session, col, select

from avtaleflyt.domain import machine
from avtaleflyt.domain.stages import (
    CHECKLIST_MILESTONES,
    STAGE_ORDER,
    STAGE_RULES,
    CaseStatus,
    Stage,
)
from avtaleflyt.models import (
    AgreementTerms,
    Digest,
    Municipality,
    OnboardingCase,
    Task,
    utcnow,
)
from avtaleflyt.notifications.channels import Deliver, TargetBook
from avtaleflyt.notifications.channels import deliver as apprise_deliver

from . import cases, deadlines, reminders
from .context import Ctx
from .scope import EVERYWHERE, Scope
from .store import renewals_recorded, terms_of

Progress = Callable[[str], None]


@dataclass
class SweepResult:
    today: str
    dry_run: bool
    advanced: list[dict[str, Any]] = field(default_factory=list)
    tasks_rescheduled: int = 0
    duties_created: int = 0
    reminders_new: int = 0
    digests_built: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)  # masked targets only
    overdue_tasks: int = 0
    access_log_deleted: int = 0  # entries older than [privacy] access_log_days
    day_off: str | None = None  # set when today is a day off: nothing was collected or sent

    @property
    def sent_count(self) -> int:
        return sum(1 for s in self.sent if s["status"] == reminders.SENT)

    @property
    def failed_count(self) -> int:
        return sum(1 for s in self.sent if s["status"] in (reminders.FAILED, reminders.GAVE_UP))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sent_count": self.sent_count, "failed_count": self.failed_count}

    def table(self) -> list[dict[str, Any]]:
        """The artifact's rows, with masked targets and no secrets: one per coordinator or
        leader digest (at most two per county), and the contacts' digests counted in one
        row per status, so the table has a bounded size however many contacts there are."""
        rows, contacts = [], {}
        for s in self.sent:
            if s["recipient"].startswith("contact:"):
                c = contacts.setdefault(reminders.status_text(s), {
                    "n": 0, "items": 0, "targets": set(), "errors": []})
                c["n"] += 1
                c["items"] += s["items"]
                c["targets"].update(t["target"].split(" → ")[0] for t in s["targets"])
                c["errors"].extend(t["error"] for t in s["targets"] if t.get("error"))
                continue
            rows.append({"mottaker": s.get("recipient_label") or s["recipient"],
                         "status": reminders.status_text(s),
                         "punkter": s["items"],
                         "mål": ", ".join(t["target"] for t in s["targets"]) or "–",
                         "feil": "; ".join(t["error"] for t in s["targets"]
                                           if t.get("error"))[:500] or ""})
        for status, c in sorted(contacts.items()):
            errors = sorted(set(c["errors"]))
            rows.append({"mottaker": f"kontaktpersoner ({c['n']})", "status": status,
                         "punkter": c["items"], "mål": ", ".join(sorted(c["targets"])) or "–",
                         "feil": ("; ".join(errors[:3]) + (f" (+{len(errors) - 3} til)"
                                                           if len(errors) > 3 else ""))[:500]})
        return rows


def advance_cases(*, session: Session, ctx: Ctx, scope: Scope = EVERYWHERE
                  ) -> list[dict[str, Any]]:
    """Run the stage of every active case whose gate a date can open (the table's
    `date_driven` stages): setup waiting for its start date, and running agreements that a
    date changes today — a renewal period begun and not recorded, or the last day passed
    (`machine.running_date_due`; an agreement that simply runs on is not run, as one in its
    first period never was). One query finds the candidates, two more read their recorded
    renewals and notice ends.

    A case in a stage whose gate also needs its checklist done, with a mandatory task of
    that stage still open, is left out: no date can open its gate (`machine.milestones`),
    and the first sweep after the last such task is done finds the case again. Without
    this, every sweep would load and re-check each of those cases (about ten queries each)."""
    driven = [st.value for st in STAGE_ORDER if STAGE_RULES[st].date_driven]
    checklist_gated = [st.value for st in STAGE_ORDER if STAGE_RULES[st].date_driven
                       and CHECKLIST_MILESTONES.intersection(STAGE_RULES[st].exit_requires)]
    checklist_open = (select(Task.id).where(Task.case_id == OnboardingCase.id,
                                            Task.stage == OnboardingCase.stage,
                                            col(Task.mandatory), col(Task.done_on).is_(None))
                      .exists())
    rows = session.exec(scope.where(
        select(OnboardingCase, Municipality, AgreementTerms)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .join(AgreementTerms, col(AgreementTerms.case_id) == OnboardingCase.id)
        .where(OnboardingCase.status == CaseStatus.ACTIVE.value,
               col(OnboardingCase.stage).in_(driven),
               ~and_(col(OnboardingCase.stage).in_(checklist_gated), checklist_open),
               col(AgreementTerms.start_date) <= ctx.today), Municipality.county_id)).all()
    running = [case.id for case, _m, _t in rows if STAGE_RULES[Stage(case.stage)].terminal]
    renewed = renewals_recorded(session, running)
    notice_ends = deadlines.notice_ends(session, running)
    out = []
    for case, m, terms in rows:
        # A running agreement is run only when a date changes it today: a renewal period
        # begun and not recorded, or its last day passed (`machine.running_date_due`).
        if STAGE_RULES[Stage(case.stage)].terminal and not machine.running_date_due(
                terms_of(terms), ctx.today, renewed[case.id], notice_ends.get(case.id)):
            continue
        for run in cases.advance(session=session, kommunenummer=m.kommunenummer, ctx=ctx):
            if run.transition is not None:
                out.append({"kommunenummer": m.kommunenummer, **run.transition})
            elif run.status != CaseStatus.ACTIVE.value:
                out.append({"kommunenummer": m.kommunenummer, "status": run.status})
    return out


def keep_deadlines(*, session: Session, ctx: Ctx, result: SweepResult | None = None,
                   say: Progress | None = None, scope: Scope = EVERYWHERE) -> SweepResult:
    """The sweep's first half: what dates change by themselves. Cases whose start date came
    move on, political deadlines follow the meeting plans, running agreements get their
    duties. Sends nothing (the demo runs this on each simulated day)."""
    say = say or (lambda _msg: None)
    result = result or SweepResult(ctx.today.isoformat(), False)
    say("Flytter saker der en dato har åpnet porten …")
    result.advanced = advance_cases(session=session, ctx=ctx, scope=scope)
    say("Holder fristene i politisk behandling i takt med møteplanene …")
    result.tasks_rescheduled = deadlines.schedule_political_cases(session=session, ctx=ctx,
                                                                  scope=scope)
    say("Lager faste oppgaver i drift …")
    result.duties_created = deadlines.generate_duties(session=session, ctx=ctx, scope=scope)
    return result


def run_sweep(*, session: Session, ctx: Ctx, targets: TargetBook, dry_run: bool = False,
              now: datetime | None = None, deliver: Deliver = apprise_deliver,
              progress: Progress | None = None, scope: Scope = EVERYWHERE) -> SweepResult:
    """The whole sweep. With dry_run the caller's session must be a `dry_run_session`:
    nothing is sent, and what would be sent is returned instead. With a county `scope`
    (`services.scope.scope_for_code`) only that county's cases, digests and messages."""
    say = progress or (lambda _msg: None)
    result = SweepResult(ctx.today.isoformat(), dry_run)
    keep_deadlines(session=session, ctx=ctx, result=result, say=say, scope=scope)
    if not ctx.calendar.is_working_day(ctx.today):  # issue 14: digests on working days only
        from avtaleflyt.formatting import format_weekday_date

        name = ctx.calendar.holiday_name(ctx.today)
        result.day_off = format_weekday_date(ctx.today) + (f" ({name})" if name else "")
        say(f"{result.day_off} er ikke en arbeidsdag: ingen påminnelser sendes i dag.")
        return result
    say("Finner frister og skriver påminnelser …")
    result.reminders_new = deadlines.collect_reminders(session=session, ctx=ctx,
                                                       targets=targets, scope=scope)
    say("Lager én oppsummering per mottaker …")
    result.digests_built = len(reminders.build_digests(session=session, ctx=ctx, scope=scope))
    result.overdue_tasks = reminders.overdue_count(session, ctx.today, scope)
    if dry_run:
        result.sent = preview(session=session, ctx=ctx, targets=targets, now=now, scope=scope)
        return result
    say("Sender …")
    result.sent = [asdict(r) for r in reminders.send_due_digests(
        session=session, ctx=ctx, targets=targets, now=now, deliver=deliver, scope=scope)]
    say("Sletter gamle oppslag i tilgangsloggen …")
    from .privacy import purge_access_log

    result.access_log_deleted = purge_access_log(
        session=session, days=ctx.config.access_log_days, now=now)
    return result


def preview(*, session: Session, ctx: Ctx, targets: TargetBook,
            now: datetime | None = None, scope: Scope = EVERYWHERE) -> list[dict[str, Any]]:
    """What a sweep would send now, to whom (masked), with the full text. Writes nothing."""
    now = now or utcnow()
    due = session.exec(select(Digest).where(reminders.sendable(ctx, now),
                                            reminders.in_scope(scope))
                       .order_by(col(Digest.sweep_on), col(Digest.id))).all()
    emails = reminders.contact_emails(session, [d.recipient for d in due])
    labels = reminders.recipient_labels(session, ctx, (d.recipient for d in due))
    rows = []
    for d in due:
        chosen = targets.targets_for(d.recipient, emails.get(d.recipient))
        rows.append({
            "digest_id": d.id, "recipient": d.recipient, "status": "would_send",
            "items": d.item_count, "title": d.title, "text": d.body_text,
            "targets": [{"target": t.masked, "ok": None, "error": None} for t in chosen],
            "recipient_label": labels[d.recipient], "no_target": not chosen})
    return rows


@contextmanager
def dry_run_session(url: str) -> Iterator[Session]:
    """A session whose commits become savepoints inside one outer transaction that is
    rolled back at the end, so everything the sweep wrote disappears."""
    with _dry_run_engine(url).connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint",
                          expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@lru_cache(maxsize=4)
def _dry_run_engine(url: str):
    """The dry runs' engine, one per database and process (SQLAlchemy keeps compiled
    statements per engine: a process that previews often compiles them once). No pool:
    nothing is held between dry runs. SQLite's driver needs to be told to leave
    transactions to SQLAlchemy for savepoints to work."""
    import sqlalchemy as sa
    from sqlalchemy import event

    from avtaleflyt.settings import normalise_database_url

    url = normalise_database_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, poolclass=sa.NullPool)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                              poolclass=sa.NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _rec):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine
