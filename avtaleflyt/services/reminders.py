"""The outbox's second half: one digest per recipient per day, sent through Apprise.

Claiming a digest is a compare-and-swap UPDATE that acts only when exactly one row changed,
so two sweeps (or a rerun) never send the same digest twice. A sweep that dies after
claiming leaves the digest in "sending"; after the lease it is taken over and sent — the
only case in which one digest can go out twice is a death between sending and recording.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (Connection, Engine, and_, bindparam, case, func, insert, or_,
                        union_all, update)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import ReminderKind
from avtaleflyt.domain.stages import CaseStatus
from avtaleflyt.formatting import format_date
from avtaleflyt.models import (
    ContactPerson,
    County,
    Delivery,
    Digest,
    Municipality,
    OnboardingCase,
    Reminder,
    Task,
    utcnow,
)
from avtaleflyt.notifications.channels import (
    CONTACT_PREFIX,
    COORDINATOR,
    LEADER,
    Deliver,
    SendResult,
    Sender,
    TargetBook,
    contact_key,
    coordinator_key,
    deliver as apprise_deliver,
    leader_key,
    role_and_county,
)
from avtaleflyt.notifications.digest import DigestContent, Item, render, when_text
from avtaleflyt.notifications.masking import scrub

from avtaleflyt.domain.kinds import (  # noqa: F401 - the words are re-exported from here
    FAILED, GAVE_UP, NO_TARGET_LABEL, PENDING, SENDING, SENT, STATUS_LABELS, status_text)

from .context import Ctx
from .scope import EVERYWHERE, Scope


def recipient_label(recipient: str, ctx: Ctx, libraries: dict[str, str] | None = None) -> str:
    """How a digest greets its recipient: "koordinator", "koordinator i Troms
    fylkesbibliotek" (the county's own labels, from its `[county."NR"]` section)."""
    role, county = role_and_county(recipient)
    config = ctx.config.for_county(county)
    where = f" i {libraries[county]}" if county and libraries and county in libraries else ""
    if role == COORDINATOR:
        return config.reminders.coordinator_label + where
    if role == LEADER:
        return config.reminders.leader_label + where
    return f"kontaktperson nr. {recipient.removeprefix(CONTACT_PREFIX)}"


def recipient_labels(session: Session, ctx: Ctx, recipients: Iterable[str]) -> dict[str, str]:
    """Each recipient key ("coordinator:18") by its Norwegian role name, for lists and
    tables ("koordinator i Nordland fylkesbibliotek")."""
    libraries = dict(session.exec(select(County.code, County.library_name)).all())
    return {r: recipient_label(r, ctx, libraries) for r in set(recipients)}


@dataclass(frozen=True)
class _Place:
    """What an item's action text needs of its municipality (no ORM object per item)."""

    name: str
    kommunenummer: str


def _action(kind: str, task: Task, m: Municipality | _Place, to_contact: bool, ctx: Ctx,
            library: str | None = None) -> str:
    knr = m.kommunenummer
    if kind == ReminderKind.NO_PLAN:
        body = "county --body county" if task.key == "political.county" else \
            f"{knr} --body kommunestyre"
        return ("Møteplanen har ikke noe møte som kan nås i tide. Legg inn møtene: "
                f"«avtaleflyt meeting add {body} --date ÅÅÅÅ-MM-DD» eller «avtaleflyt meeting "
                "import FIL».")
    if kind == ReminderKind.MOVED:
        return (f"{task.title} er flyttet til møtet {format_date(task.due_on)}"
                if task.due_on else f"{task.title} venter på neste møte") + (
            ": saksframlegget ble ikke levert i tide, vedtaket ble utsatt, eller møtet gikk "
            "uten at noe vedtak er registrert (registrer det hvis det ble fattet). "
            f"Se de nye fristene med «avtaleflyt case show {knr}».")
    if kind == ReminderKind.ESCALATION:
        return (f"Oppgaven har vært på overtid i minst "
                f"{ctx.config.reminders.escalate_after_working_days} arbeidsdager. "
                f"Følg opp med den ansvarlige ({_owner(task)}).")
    if to_contact:
        return ("Gjør oppgaven innen fristen og gi beskjed til "
                f"{library or 'fylkesbiblioteket'} når den er gjort.")
    if task.key == "political.saksframlegg":
        what = "Lever saksframlegget til kommunedirektøren"
        done = f"og marker det som gjort med «avtaleflyt task done {task.id}»"
    elif task.milestone:
        what = "Sørg for at dette skjer"
        done = f"og registrer det med «avtaleflyt case record {knr} …»"
    else:
        what = "Gjør oppgaven"
        done = f"og marker den som gjort med «avtaleflyt task done {task.id}»"
    late = " Fristen er passert." if kind == ReminderKind.OVERDUE else ""
    return f"{what} {done}.{late}"


def _owner(task: Task) -> str:
    return "kommunen" if task.responsible == "municipality" else "fylkeskommunen"


@dataclass
class BuiltDigest:
    id: int | None
    recipient: str
    title: str
    text: str
    html: str
    items: int


DIGEST_ITEMS = 25  # the most urgent items a digest lists; the rest are counted
BATCH = 1000  # rows per UPDATE … IN (…) when marking failures reported

# Most urgent first: what a leader must chase, then what is late, then what is due today.
# Most urgent first: the order of the enum.
_URGENCY = {k.value: i for i, k in enumerate(ReminderKind)}


@dataclass(frozen=True)
class _TaskView:
    """The task columns a digest item needs (no ORM object per reminder)."""

    id: int
    key: str
    title: str
    due_on: date | None
    responsible: str
    milestone: str | None


_DIGEST = Digest.__table__  # type: ignore[attr-defined]
_REMINDER = Reminder.__table__  # type: ignore[attr-defined]
_INSERT_DIGEST = insert(_DIGEST).returning(_DIGEST.c.recipient, _DIGEST.c.id)


def _undigested(columns):
    """Undigested reminders whose task is still open in an active case. A reminder written
    earlier for a task since done, or a case since closed or held, is no longer true: it
    stays in the outbox unsent.

    Read through the active cases' own reminders (ix_reminder_case_id), never through every
    undigested one: those untrue ones pile up with the history (148 000 at bench full size,
    against 2 400 reminders of the active cases). `digest_id + 0` keeps SQLite, which has
    no statistics, from choosing ix_reminder_digest_id for `digest_id IS NULL` (76 ms →
    0.7 ms at full size)."""
    return (select(*columns).select_from(Reminder)
            .join(Task, col(Task.id) == Reminder.task_id)
            .join(OnboardingCase, col(OnboardingCase.id) == Reminder.case_id)
            .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
            .join(County, col(County.id) == Municipality.county_id)
            .where((col(Reminder.digest_id) + 0).is_(None), col(Task.done_on).is_(None),
                   OnboardingCase.status == CaseStatus.ACTIVE.value))


def build_digests(*, session: Session, ctx: Ctx, commit: bool = True,
                  max_items: int = DIGEST_ITEMS, batch: int = BATCH,
                  scope: Scope = EVERYWHERE) -> list[BuiltDigest]:
    """Gather each recipient's undigested reminders (plus, for a county's coordinator, the
    delivery failures of that county's digests not yet reported) into today's digest. A
    recipient who already has a digest today keeps the new items for tomorrow's: one digest
    per recipient per day. Recipients are per county ("coordinator:18"), so a county's
    digest holds that county's cases only and names that county's library.

    A digest has a size: it counts the items per kind and county and lists the `max_items`
    most urgent, whatever the number of items. Counting and choosing happen in SQL (two
    queries for all recipients); the digests are inserted with one statement and their
    reminders marked with one set-based UPDATE … FROM digest per `batch` recipients — never
    a list of reminder ids, so no bind-parameter limit is ever near and the statements do
    not grow with the number of recipients or cases.

    With a county `scope`, only that county's recipients are built (its coordinator, its
    leader, and the contacts of its municipalities)."""
    from avtaleflyt.notifications.digest import HEADINGS

    urgency = case(*((Reminder.kind == k, v) for k, v in _URGENCY.items()), else_=9)
    counts = session.exec(scope.where(_undigested(
        (col(Reminder.recipient), col(Reminder.kind), col(County.code), func.count(),
         func.max(Reminder.id))), Municipality.county_id)
        .group_by(col(Reminder.recipient), col(Reminder.kind), col(County.code))).all()
    ranked = _undigested((
        col(Reminder.id).label("rid"), col(Reminder.recipient).label("recipient"),
        col(Reminder.kind).label("kind"), col(Reminder.due_on).label("r_due"),
        col(Task.id).label("tid"), col(Task.key).label("key"), col(Task.title).label("title"),
        col(Task.due_on).label("t_due"), col(Task.responsible).label("responsible"),
        col(Task.milestone).label("milestone"), col(Municipality.name).label("mname"),
        col(Municipality.kommunenummer).label("knr"), col(County.code).label("county"),
        func.row_number().over(
            partition_by=col(Reminder.recipient),
            order_by=(urgency, col(Reminder.due_on), col(Municipality.kommunenummer),
                      col(Reminder.id))).label("rn")))
    ranked = scope.where(ranked, Municipality.county_id).subquery()
    top = session.execute(select(ranked).where(ranked.c.rn <= max_items)
                          .order_by(ranked.c.recipient, ranked.c.rn)).all()
    failures = session.exec(
        select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
        .where(Delivery.status == FAILED, col(Delivery.reported_on).is_(None))
        .order_by(col(Delivery.id))).all()
    if not counts and not failures:
        return []
    libraries = dict(session.exec(select(County.code, County.library_name)).all())
    county_names = dict(session.exec(select(County.code, County.name)).all())
    # Which county each recipient belongs to: a contact's is its municipality's.
    county_of: dict[str, str | None] = {}
    per_recipient: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    totals: dict[str, int] = defaultdict(int)
    last_id: dict[str, int] = {}
    for recipient, kind, code, n, max_id in sorted(
            counts, key=lambda r: (r[0], _URGENCY.get(r[1], 9), r[2])):
        county_of.setdefault(recipient, code)
        per_recipient[recipient].append((HEADINGS.get(kind, kind),
                                         county_names.get(code, code), int(n)))
        totals[recipient] += int(n)
        last_id[recipient] = max(last_id.get(recipient, 0), int(max_id))
    county_of.update(_contact_counties(
        session, {g.recipient for _, g in failures} - set(county_of)))
    for_coordinator: dict[str, list[tuple[Delivery, Digest]]] = defaultdict(list)
    for d, g in failures:
        role, county = role_and_county(g.recipient)
        if role not in (COORDINATOR, LEADER):
            county = county_of.get(g.recipient)
        # Old rows ("coordinator", "leader") are reported to the installation-wide one.
        if scope.national or county == scope.county_code:
            for_coordinator[coordinator_key(county)].append((d, g))
    recipients = set(totals) | set(for_coordinator)
    taken = set(session.exec(select(Digest.recipient).where(
        Digest.sweep_on == ctx.today, col(Digest.recipient).in_(recipients))).all())
    by_recipient: dict[str, list[Any]] = defaultdict(list)
    for r in top:
        by_recipient[r.recipient].append(r)
    rows: list[dict[str, Any]] = []
    reported_ids: list[int] = []
    created_at = utcnow()
    for recipient in sorted(recipients - taken):
        mine = by_recipient.get(recipient, [])
        role, county = role_and_county(recipient)
        to_contact = role == "contact"
        if to_contact:
            county = county_of.get(recipient)
        cctx = ctx.for_county(county)
        library = libraries.get(county) if county else None
        greeting = (f"kontaktperson i {mine[0].mname} kommune" if to_contact and mine
                    else recipient_label(recipient, ctx, libraries))
        content = DigestContent(greeting=greeting, library=library)
        for r in mine:
            t = _TaskView(r.tid, r.key, r.title, r.t_due, r.responsible, r.milestone)
            m = _Place(r.mname, r.knr)
            icctx = ctx.for_county(r.county)
            wd = icctx.calendar.working_days_between(ctx.today, r.r_due)
            content.items.append(Item(
                kind=r.kind, municipality=r.mname, kommunenummer=r.knr, title=r.title,
                deadline=format_date(r.t_due) if r.t_due else "ikke satt",
                when=when_text(r.kind, r.r_due, ctx.today, wd),
                action=_action(r.kind, t, m, to_contact, cctx, library)))
        if totals.get(recipient, 0) > len(mine):
            content.total = totals[recipient]
            content.summary = per_recipient[recipient]
        reported: list[Delivery] = []
        for d, g in for_coordinator.get(recipient, [])[:max_items]:
            again = (f"nytt forsøk {format_date(g.next_attempt_on)}"
                     if g.status == FAILED and g.next_attempt_on else
                     "gitt opp etter siste forsøk" if g.status == GAVE_UP else "sendt senere")
            content.failures.append(
                f"Oppsummeringen til {recipient_label(g.recipient, ctx, libraries)} for "
                f"{format_date(g.sweep_on)} kom ikke fram via {d.target} "
                f"(forsøk {d.attempt}): {d.error or 'ukjent feil'} – {again}.")
        reported = [d for d, _ in for_coordinator.get(recipient, [])]
        if len(reported) > max_items:
            content.failures.append(f"… og {len(reported) - max_items} andre leveringsfeil "
                                    "(se «avtaleflyt reminders list»).")
        if not content.items and not content.failures:
            continue
        out = render(content, ctx.today)
        rows.append({"recipient": recipient, "sweep_on": ctx.today, "status": PENDING,
                     "attempts": 0, "next_attempt_on": ctx.today, "title": out.title,
                     "body_text": out.text, "body_html": out.html, "item_count": out.items,
                     "created_at": created_at})
        reported_ids += [d.id for d in reported]
    if not rows:
        return []
    # Every digest in one statement (SQLAlchemy's "insertmanyvalues": one INSERT … RETURNING
    # per 1 000 rows), the reminders they hold marked by one UPDATE per 1 000 recipients,
    # the failures they report in bounded batches: the statements do not grow with the
    # recipients.
    try:
        ids = dict(session.execute(_INSERT_DIGEST, rows).tuples().all())
    except IntegrityError:
        # A concurrent sweep built today's digests first; its digests hold these items.
        session.rollback()
        return []
    marked = [r for r in sorted(ids) if r in last_id]
    if marked:
        # Everything counted above (ids up to the highest seen per recipient) whose task is
        # still open in an active case of the scope, marked with its recipient's new digest:
        # one UPDATE … FROM digest per `batch` recipients (their highest ids in a CASE), so
        # the active cases' reminders are walked once, not once per digest, and no
        # bind-parameter limit is ever near. Read through the active cases' own reminders,
        # as `_undigested` does (SQLite otherwise walks every undigested reminder of the
        # history: 150 ms at bench full size, 14 ms this way).
        active = scope.where(
            select(OnboardingCase.id)
            .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
            .where(OnboardingCase.status == CaseStatus.ACTIVE.value), Municipality.county_id)
        still_open = select(Task.id).where(col(Task.id) == _REMINDER.c.task_id,
                                           col(Task.done_on).is_(None))
        for i in range(0, len(marked), batch):
            part = marked[i:i + batch]
            highest = case({r: last_id[r] for r in part}, value=_DIGEST.c.recipient)
            session.execute(
                update(_REMINDER).where(
                    _REMINDER.c.case_id.in_(active.scalar_subquery()),
                    (_REMINDER.c.digest_id + 0).is_(None), still_open.exists(),
                    _DIGEST.c.sweep_on == ctx.today, _DIGEST.c.recipient == _REMINDER.c.recipient,
                    _REMINDER.c.id <= highest)
                .values(digest_id=_DIGEST.c.id))
    for i in range(0, len(reported_ids), batch):
        session.execute(update(Delivery).where(col(Delivery.id).in_(reported_ids[i:i + batch]))
                        .values(reported_on=ctx.today))
    built = [BuiltDigest(ids[r["recipient"]], r["recipient"], r["title"], r["body_text"],
                         r["body_html"], r["item_count"]) for r in rows]
    if commit:
        session.commit()
    return built


def _contact_counties(session: Session, recipients: set[str]) -> dict[str, str]:
    """contact:<id> → fylkesnummer of the contact's municipality (one query)."""
    ids = [int(r.removeprefix(CONTACT_PREFIX)) for r in recipients
           if r.startswith(CONTACT_PREFIX) and r.removeprefix(CONTACT_PREFIX).isdigit()]
    if not ids:
        return {}
    return {contact_key(cid): code for cid, code in session.exec(
        select(ContactPerson.id, County.code)
        .join(Municipality, col(Municipality.id) == ContactPerson.municipality_id)
        .join(County, col(County.id) == Municipality.county_id)
        .where(col(ContactPerson.id).in_(ids))).all()}


@dataclass
class SendReport:
    digest_id: int
    recipient: str
    status: str
    items: int
    targets: list[dict[str, Any]] = field(default_factory=list)
    recipient_label: str = ""
    # Nothing is configured to send it to (a fresh installation): kept, and said so,
    # rather than reported as a failed delivery.
    no_target: bool = False


def sendable(ctx: Ctx, now: datetime):
    stale = now - timedelta(minutes=ctx.config.reminders.claim_lease_minutes)
    return or_(
        and_(col(Digest.status).in_((PENDING, FAILED)), col(Digest.next_attempt_on) <= ctx.today),
        and_(Digest.status == SENDING, col(Digest.claimed_at) < stale))


def contact_emails(session: Session, recipients: list[str]) -> dict[str, str]:
    ids = [int(r.removeprefix(CONTACT_PREFIX)) for r in recipients
           if r.startswith(CONTACT_PREFIX)]
    if not ids:
        return {}
    # Two columns, not ContactPerson objects: runs on a session or on a Connection.
    return {f"{CONTACT_PREFIX}{cid}": email for cid, email in session.execute(
        select(ContactPerson.id, ContactPerson.email)
        .where(col(ContactPerson.id).in_(ids))).all()}


SEND_BATCH = 50  # digests claimed, read and sent together


def _claim(session: Session, digest_id: int, ctx: Ctx, now: datetime) -> bool:
    """The compare-and-swap UPDATE, uncommitted (the caller commits)."""
    return session.execute(
        update(Digest).where(Digest.id == digest_id, sendable(ctx, now))
        .values(status=SENDING, claimed_at=now, attempts=Digest.attempts + 1)
        .returning(Digest.id)).first() is not None


def claim(session: Session, digest_id: int, ctx: Ctx, now: datetime) -> bool:
    """Compare-and-swap: take the digest for sending only if nobody else has it."""
    took = _claim(session, digest_id, ctx, now)
    session.commit()
    return took


@dataclass(frozen=True)
class _Claimed:
    """A digest this sweep has claimed. `attempts` (after the claim) is the claim's token:
    a sweep that takes the digest over after the lease raises it, so a late result of the
    first sweep can no longer overwrite the digest's state."""

    id: int
    recipient: str
    attempts: int
    title: str
    body_text: str
    body_html: str
    item_count: int


def _claim_batch(conn: Connection, ids: list[int], ctx: Ctx, now: datetime
                 ) -> dict[int, _Claimed]:
    """The compare-and-swap UPDATE for a batch of digests in one statement, returning what
    sending needs; only the digests nobody else holds are taken (the caller commits)."""
    rows = conn.execute(
        update(Digest).where(col(Digest.id).in_(ids), sendable(ctx, now))
        .values(status=SENDING, claimed_at=now, attempts=Digest.attempts + 1)
        .returning(Digest.id, Digest.recipient, Digest.attempts, Digest.title,
                   Digest.body_text, Digest.body_html, Digest.item_count)).all()
    return {r[0]: _Claimed(*r) for r in rows}


def _release(conn: Connection, commit: Callable[[], None], claimed: list[_Claimed]) -> None:
    """Give back claimed digests that were never handed to a channel (the sweep is being
    stopped), so the next sweep sends them at once instead of after the lease."""
    if not claimed:
        return
    for c in claimed:
        conn.execute(update(Digest).where(
            Digest.id == c.id, Digest.status == SENDING, Digest.attempts == c.attempts)
            .values(status=FAILED if c.attempts > 1 else PENDING, claimed_at=None,
                    attempts=Digest.attempts - 1))
    commit()


def in_scope(scope: Scope):
    """Digests whose recipient belongs to `scope`'s county: its coordinator, its leader, the
    contacts of its municipalities. Everything for a national scope (old installation-wide
    "coordinator"/"leader" rows only there)."""
    from sqlalchemy import String, cast, literal, true

    if scope.national:
        return true()
    contacts = (select(literal(CONTACT_PREFIX) + cast(ContactPerson.id, String))
                .join(Municipality, col(Municipality.id) == ContactPerson.municipality_id)
                .where(Municipality.county_id == scope.county_id))
    return or_(col(Digest.recipient).in_((coordinator_key(scope.county_code),
                                          leader_key(scope.county_code))),
               col(Digest.recipient).in_(contacts.scalar_subquery()))


def send_due_digests(*, session: Session, ctx: Ctx, targets: TargetBook,
                     now: datetime | None = None, deliver: Deliver = apprise_deliver,
                     batch: int = SEND_BATCH, scope: Scope = EVERYWHERE) -> list[SendReport]:
    """Send every digest that is due (new, or a failed one whose retry day has come). With
    the default `deliver`, every e-mail of the run shares one SMTP connection per server
    and every other target one Apprise object (`Sender`).

    Digests are claimed `batch` at a time with one compare-and-swap UPDATE (one commit),
    and their addresses and earlier deliveries are read in one query each. Then each
    message is sent and its result committed before the next one is sent, so a sweep that
    dies can only ever have one digest sent but unrecorded; the rest of its batch stays
    claimed until the lease runs out (or is given back at once when the sweep is stopped
    by an exception). A result's commit does not wait for the disk; the batch's last
    commit does. The sending runs on one database connection of its own from the first
    claim to the last result (`_sending_connection`), and a result is one statement and
    its commit on PostgreSQL, two statements and the commit on SQLite (`_record`)."""
    if deliver is apprise_deliver:
        with Sender() as sender:
            return send_due_digests(session=session, ctx=ctx, targets=targets, now=now,
                                    deliver=sender, batch=batch, scope=scope)
    now = now or utcnow()
    lease = ctx.config.reminders.claim_lease_minutes * 60
    due = session.exec(select(Digest.id).where(sendable(ctx, now), in_scope(scope))
                       .order_by(col(Digest.sweep_on), col(Digest.id))).all()
    session.commit()  # the caller's work too, as the first claim's commit always did
    reports: list[SendReport] = []
    if due:
        with _sending_connection(session) as (conn, commit, rollback):
            for i in range(0, len(due), batch):
                reports += _send_batch(session, conn, commit, rollback, list(due[i:i + batch]),
                                       ctx, targets, deliver, now, lease)
    labels = recipient_labels(session, ctx, (r.recipient for r in reports))
    for report in reports:
        report.recipient_label = labels[report.recipient]
    return reports


@contextmanager
def _sending_connection(session: Session) -> Iterator[
        tuple[Connection, Callable[[], None], Callable[[], None]]]:
    """The connection a send runs on, with its commit and rollback: ONE connection taken
    from the session's engine for the whole send. Through the session, every commit gave
    the connection back to the pool and the next statement took it again, which costs a
    round trip of its own (the pool's pre-ping, `SELECT 1`) per message on PostgreSQL.

    On PostgreSQL the connection is in autocommit mode: every statement of the send is a
    transaction of its own, committed when it completes (the claim, the reads, each
    result — one statement, `_record`), where a transaction opened by the driver would
    cost a `BEGIN` and a `COMMIT` round trip per message besides. `commit` and `rollback`
    then have nothing left to do. On SQLite a result is two statements in one transaction
    and `commit` commits it. The mode goes back to the default when the connection goes
    back to the pool.

    A session bound to a Connection (an outer transaction a caller holds) sends on that
    connection, committing through the session, as before."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        yield session.connection(), session.commit, session.rollback
        return
    with bind.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn, conn.commit, conn.rollback


def _send_batch(session: Session, conn: Connection, commit: Callable[[], None],
                rollback: Callable[[], None], ids: list[int], ctx: Ctx, targets: TargetBook,
                deliver: Deliver, now: datetime, lease: float) -> list[SendReport]:
    """Claim, read and send one batch of digests (see `send_due_digests`)."""
    claimed = _claim_batch(conn, ids, ctx, now)
    commit()  # the claim, durable before anything is sent
    if not claimed:
        return []  # other sweeps have them
    mine = [claimed[d] for d in ids if d in claimed]
    emails = contact_emails(conn, [c.recipient for c in mine])
    done: dict[int, set[str]] = defaultdict(set)
    for digest_id, target in conn.execute(select(Delivery.digest_id, Delivery.target)
                                          .where(col(Delivery.digest_id).in_(list(claimed)),
                                                 Delivery.status == SENT)).all():
        done[digest_id].add(target)
    commit()
    reports = []
    claimed_at, fast = _monotonic(), False
    for n, c in enumerate(mine):
        if _monotonic() - claimed_at > lease / 2 and not _still_ours(conn, c):
            continue  # this sweep stalled past the lease: another one took it over
        # Every result but the batch's last is committed without waiting for the disk.
        fast = n < len(mine) - 1
        _commit_mode(conn, durable=not fast)
        try:
            report = _send_one(session, conn, c, ctx, targets, emails.get(c.recipient),
                               deliver, done.get(c.id, set()), fast=fast)
        except BaseException:
            with suppress(Exception):  # if the database is what failed, the lease helps
                rollback()
                _commit_mode(conn, durable=True)
                _release(conn, commit, mine[n + 1:])  # `c` itself may have gone out: kept
            raise
        commit()  # this message's result, before the next message is sent
        reports.append(report)
    if fast:  # the batch's last message was skipped: the connection back to waiting
        _commit_mode(conn, durable=True)
        commit()
    return reports


_monotonic = time.monotonic  # how long a batch has been held (replaced in a test)


def _still_ours(conn: Connection, c: _Claimed) -> bool:
    """Whether the claim still holds: asked only when a batch has been held for half the
    lease (a channel stalled), so another sweep may have taken the rest over."""
    return conn.execute(select(Digest.id).where(
        Digest.id == c.id, Digest.status == SENDING, Digest.attempts == c.attempts)
    ).first() is not None


def _commit_mode(conn: Connection, *, durable: bool) -> None:
    """Whether the next commit waits for the disk, on SQLite. A result committed without
    waiting survives the sweep's own death (PostgreSQL's server, or SQLite's operating
    system, has it); only a crash of the database server or of the machine in the next
    moments can lose it, and then that message may go out again (docs/reminders.md). A
    commit that waits makes every earlier one durable with it: each batch's last result,
    and every claim. SQLite (WAL): `synchronous` NORMAL instead of the default FULL on this
    connection, set between transactions (SQLite refuses it inside one) and back to FULL
    for the batch's last result, so the connection goes back to the pool as it came.
    PostgreSQL says it inside the result's own statement instead (`_pg_record`)."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        mode = "FULL" if durable else "NORMAL"
        # Said once per change, not once per message: the setting stays on the
        # connection, so it is remembered in the pool's record of that connection
        # (`info` lives as long as the DB-API connection; a new one starts unknown).
        info = conn.connection.info
        if info.get("avtaleflyt_synchronous") != mode:
            conn.exec_driver_sql(f"PRAGMA synchronous={mode}")
            info["avtaleflyt_synchronous"] = mode


def _send_one(session: Session, conn: Connection, digest: _Claimed, ctx: Ctx,
              targets: TargetBook, email: str | None, deliver: Deliver, done: set[str], *,
              fast: bool = False) -> SendReport:
    """Send one claimed digest to its targets and record the result on `conn` (the caller
    commits): the digest's UPDATE, guarded by the claim, and the INSERT of its deliveries
    (`_record`). `fast`: the result's commit need not wait for the disk."""
    report = SendReport(digest.id, digest.recipient, SENDING, digest.item_count)
    errors = []
    deliveries: list[dict[str, Any]] = []
    chosen = targets.targets_for(digest.recipient, email)
    if not chosen:
        errors.append(_no_target(digest.recipient))
        report.no_target = True
    for target in chosen:
        if target.masked in done:
            continue  # delivered on an earlier attempt: retry only what failed
        result: SendResult = deliver(target, digest.title, digest.body_text, digest.body_html)
        if result.error and email:
            # A contact's address is personal data: it stays out of deliveries and artifacts.
            result = SendResult(result.ok, scrub(result.error, {email}))
        deliveries.append({"digest_id": digest.id, "target": target.masked,
                           "status": SENT if result.ok else FAILED, "attempt": digest.attempts,
                           "error": result.error, "at": utcnow(), "reported_on": None})
        report.targets.append({"target": target.masked, "ok": result.ok,
                               "error": result.error})
        if not result.ok:
            errors.append(f"{target.masked}: {result.error}")
    values: dict[str, Any]
    if not errors:
        values = {"status": SENT, "sent_at": utcnow(), "last_error": None,
                  "next_attempt_on": None}
    else:
        values = {"last_error": "; ".join(errors)[:1000]}
        county = role_and_county(digest.recipient)[1]
        if digest.attempts >= ctx.config.for_county(county).reminders.max_attempts:
            values.update(status=GAVE_UP, next_attempt_on=None)
        else:
            values.update(status=FAILED, next_attempt_on=ctx.today + timedelta(
                days=min(2 ** (digest.attempts - 1), 7)))
        if not chosen:
            deliveries.append({"digest_id": digest.id, "target": "(ingen)", "status": FAILED,
                               "attempt": digest.attempts, "error": errors[0], "at": utcnow(),
                               "reported_on": None})
    _record(conn, digest, values, deliveries, fast=fast)
    # A Core statement leaves a Digest the caller's session holds as it was: it is
    # reloaded on its next use, as after the ORM UPDATE this replaces.
    held = session.identity_map.get(Session.identity_key(Digest, digest.id))
    if held is not None:
        session.expire(held)
    report.status = values["status"]
    return report


def _record(conn: Connection, digest: _Claimed, values: dict[str, Any],
            deliveries: list[dict[str, Any]], *, fast: bool) -> None:
    """A sent digest's result: the digest's new state, guarded by the claim (if another
    sweep took the digest over after the lease, its state is that sweep's to record), and
    its deliveries (facts either way). Core statements built once (`_RECORD_SENT`,
    `_RECORD_FAILED`, `_pg_record`): the ORM's bulk-update bookkeeping per message was a
    third of the sending process's time. PostgreSQL: ONE statement (each statement is a
    round trip to the server); SQLite: the UPDATE and the INSERT."""
    params: dict[str, Any] = {"d_id": digest.id, "d_attempts": digest.attempts}
    sent = values["status"] == SENT
    if sent:
        params["d_sent_at"] = values["sent_at"]
    else:
        params.update(d_status=values["status"], d_error=values["last_error"],
                      d_next=values["next_attempt_on"])
    if conn.dialect.name == "postgresql":
        for i, row in enumerate(deliveries):
            params.update({f"dl_{key}_{i}": value for key, value in row.items()})
        conn.execute(_pg_record(sent, fast, len(deliveries)), params).close()
        return
    conn.execute(_RECORD_SENT if sent else _RECORD_FAILED, params)
    if deliveries:
        conn.execute(_INSERT_DELIVERY, deliveries)


_digest = Digest.__table__.c
# A claimed digest's result: only while this sweep's claim holds (see `_record`).
_RECORD_CLAIMED = (Digest.__table__.update()
                   .where(_digest.id == bindparam("d_id"), _digest.status == SENDING,
                          _digest.attempts == bindparam("d_attempts")))
_RECORD_SENT = _RECORD_CLAIMED.values(status=SENT, sent_at=bindparam("d_sent_at"),
                                      last_error=None, next_attempt_on=None)
_RECORD_FAILED = _RECORD_CLAIMED.values(status=bindparam("d_status"),
                                        last_error=bindparam("d_error"),
                                        next_attempt_on=bindparam("d_next"))
_INSERT_DELIVERY = Delivery.__table__.insert()
_DELIVERY_COLUMNS = ("digest_id", "target", "status", "attempt", "error", "at", "reported_on")


@functools.lru_cache(maxsize=32)
def _pg_record(sent: bool, fast: bool, rows: int):
    """PostgreSQL: a result with `rows` deliveries as one statement, built once per shape:

        WITH recorded AS (UPDATE digest SET … WHERE <the claim holds>
                          RETURNING set_config('synchronous_commit', 'off', true))
        INSERT INTO delivery (…) VALUES (…)

    PostgreSQL runs a data-modifying CTE to completion whether or not the statement reads
    it, so the UPDATE happens as it did on its own. With `fast`, its RETURNING turns
    `synchronous_commit` off for this statement's transaction only (`true`: as `SET LOCAL`;
    nothing stays on the connection): the commit does not wait for the disk. RETURNING is
    computed for each row the UPDATE changed, so a claim lost to another sweep leaves it
    on and that commit simply waits. Without `fast` (a batch's last result) the commit
    waits, which makes the batch's earlier results durable too."""
    update_ = _RECORD_SENT if sent else _RECORD_FAILED
    update_ = update_.returning(func.set_config("synchronous_commit", "off", True) if fast
                                else _digest.id)
    if not rows:
        return update_
    columns = Delivery.__table__.c
    row = [[bindparam(f"dl_{key}_{i}", type_=columns[key].type) for key in _DELIVERY_COLUMNS]
           for i in range(rows)]
    insert = Delivery.__table__.insert()
    # One row: VALUES (…). Several (a recipient with several targets): INSERT … SELECT …
    # UNION ALL SELECT …, because SQLAlchemy does not cache a multi-row VALUES statement
    # and would compile it again for every message.
    insert = (insert.values(dict(zip(_DELIVERY_COLUMNS, row[0], strict=True))) if rows == 1
              else insert.from_select(_DELIVERY_COLUMNS, union_all(*(select(*r) for r in row))))
    return insert.add_cte(update_.cte("recorded"))


def _no_target(recipient: str) -> str:
    role, county = role_and_county(recipient)
    if role == COORDINATOR:
        own = f"AVTALEFLYT_NOTIFY_URLS_{county}, tag «fylke-{county}», " if county else ""
        return ("Ingen mottaker er satt opp "
                f"({own}AVTALEFLYT_NOTIFY_URLS eller AVTALEFLYT_APPRISE_CONFIG).")
    if role == LEADER:
        own = f"AVTALEFLYT_LEADER_URLS_{county}, tag «fylke-{county}-leder», " if county else ""
        return f"Ingen leder er satt opp ({own}AVTALEFLYT_LEADER_URLS eller tag «leader»)."
    return "Ingen e-post å sende til (AVTALEFLYT_SMTP_URL eller kontaktens adresse mangler)."


def reminder_rows(session: Session, since: date | None = None, limit: int = 500,
                  ctx: Ctx | None = None, scope: Scope = EVERYWHERE) -> list[dict[str, Any]]:
    """The outbox (of `scope`'s municipalities), newest first; with `ctx`, each recipient
    also by its role name."""
    q = (select(Reminder, Task, Municipality, Digest)
         .join(Task, col(Task.id) == Reminder.task_id)
         .join(OnboardingCase, col(OnboardingCase.id) == Reminder.case_id)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .outerjoin(Digest, col(Digest.id) == Reminder.digest_id)
         .order_by(col(Reminder.created_on).desc(), col(Reminder.id).desc()).limit(limit))
    q = scope.where(q, Municipality.county_id)
    if since is not None:
        q = q.where(col(Reminder.created_on) >= since)
    found = session.exec(q).all()
    labels = recipient_labels(session, ctx, (r.recipient for r, *_ in found)) if ctx else {}
    return [{
        "id": r.id, "created_on": r.created_on.isoformat(), "kind": r.kind,
        "recipient": r.recipient, "kommunenummer": m.kommunenummer, "municipality": m.name,
        "task_id": t.id, "task": t.title, "due_on": r.due_on.isoformat(),
        "digest_id": r.digest_id, "status": d.status if d else "venter",
        "attempts": d.attempts if d else 0,
        **({"recipient_label": labels[r.recipient]} if ctx else {}),
        "no_target": bool(d and d.status in (FAILED, GAVE_UP)
                          and d.last_error == _no_target(d.recipient)),
    } for r, t, m, d in found]


def overdue_count(session: Session, today: date, scope: Scope = EVERYWHERE) -> int:
    return int(session.exec(scope.where(
        select(func.count()).select_from(Task)
        .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(OnboardingCase.status == "active",
               col(Task.done_on).is_(None), col(Task.due_on) < today),
        Municipality.county_id)).one())


