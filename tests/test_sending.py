"""Sending many digests, seen from the servers that receive them: every e-mail of a sweep
over ONE SMTP connection (counted by the real aiosmtpd server), every JSON post over one
kept-alive HTTP connection, and a sweep stopped in the middle of a batch, inside an SMTP
conversation, neither loses nor repeats a message. SQLite and PostgreSQL."""

from __future__ import annotations

import smtplib
import threading
from collections import Counter
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.models import ContactPerson, Digest, Municipality, utcnow
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services import reminders

from .conftest import ctx_for
from .reminder_support import HOOK_SECRET, SMTP_PASSWORD, free_port

TODAY = date(2026, 3, 20)


class CountingSmtpServer:
    """aiosmtpd with AUTH, counting the connections it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.port = free_port()
        server = self

        class Mailbox:
            async def handle_DATA(self, _server, session, envelope):  # noqa: N802
                server.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                        envelope.content))
                return "250 OK"

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                server.connections += 1
                super().connection_made(transport)

        def auth(_server, session, envelope, mechanism, data):
            return AuthResult(success=data.login == b"avtaleflyt"
                              and data.password == SMTP_PASSWORD.encode())

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self._controller = CountingController(Mailbox(), hostname="127.0.0.1",
                                              port=self.port, authenticator=auth,
                                              auth_require_tls=False)

    def __enter__(self) -> CountingSmtpServer:
        self._controller.start()
        # Controller.start() checks that the server answers by connecting once itself.
        self.connections = 0
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return (f"mailto://avtaleflyt:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
                "?from=avtaleflyt@fylket.example")

    def recipients(self) -> Counter:
        return Counter(r for _, tos, _ in self.messages for r in tos)


class KeepAliveHook:
    """An HTTP/1.1 endpoint (keep-alive, as real web servers offer) counting connections."""

    def __init__(self) -> None:
        self.posts: list[bytes] = []
        self.connections = 0

    def __enter__(self) -> KeepAliveHook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self):
                hook.connections += 1
                super().setup()

            def do_POST(self):  # noqa: N802
                hook.posts.append(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"json://koord:{HOOK_SECRET}@127.0.0.1:{self._server.server_address[1]}/alle"


def _contacts_with_digests(url: str, n: int) -> list[str]:
    """`n` contacts, each owed one digest today; their addresses."""
    with db.session_scope(url) as s:
        munis = s.exec(select(Municipality.id)).all()
        conn = s.connection()
        ids = [r[0] for r in conn.execute(
            sa.insert(ContactPerson.__table__).returning(ContactPerson.__table__.c.id),
            [{"municipality_id": munis[i % len(munis)], "name": f"Kontakt {i}",
              "role": "Biblioteksjef", "email": f"kontakt{i}@kommune.example", "phone": None,
              "is_primary": False, "created_at": utcnow()} for i in range(n)])]
        _digests(conn, [f"contact:{i}" for i in ids])
        s.commit()
    return [f"kontakt{i}@kommune.example" for i in range(n)]


def _digests(conn, recipients: list[str]) -> None:
    conn.execute(sa.insert(Digest.__table__), [{
        "recipient": r, "sweep_on": TODAY, "status": "pending", "attempts": 0,
        "next_attempt_on": TODAY, "title": f"Avtaleflyt: 1 frist – melding {i}",
        "body_text": f"Melding nummer {i}.", "body_html": f"<p>Melding nummer {i}.</p>",
        "item_count": 1, "created_at": utcnow()} for i, r in enumerate(recipients)])


def _send(url: str, targets: TargetBook, now=None):
    with db.session_scope(url) as s:
        return reminders.send_due_digests(session=s, ctx=ctx_for(TODAY), targets=targets,
                                          now=now)


def _statuses(url: str) -> Counter:
    with db.session_scope(url) as s:
        return Counter(s.exec(select(Digest.status)).all())


def test_a_sweeps_emails_share_one_smtp_connection_and_its_posts_one_http_connection(db_url):
    emails = _contacts_with_digests(db_url, 130)  # three batches of SEND_BATCH (50)
    with db.session_scope(db_url) as s:
        _digests(s.connection(), [f"coordinator:{i:02d}" for i in range(60)])
        s.commit()
    with CountingSmtpServer() as smtp, KeepAliveHook() as hook:
        sent = _send(db_url, TargetBook(coordinator=(hook.url,), smtp_url=smtp.url))
        assert len(sent) == 190 and {r.status for r in sent} == {"sent"}
        assert smtp.connections == 1  # one connection and one login for 130 e-mails
        assert smtp.recipients() == Counter({e: 1 for e in emails})
        assert hook.connections == 1 and len(hook.posts) == 60
        assert len({p for p in hook.posts}) == 60
        assert _send(db_url, TargetBook(coordinator=(hook.url,), smtp_url=smtp.url)) == []
        assert smtp.connections == 1 and len(smtp.messages) == 130


def test_a_sweep_stopped_inside_an_smtp_conversation_loses_and_repeats_nothing(
        db_url, monkeypatch):
    """Stopped (Ctrl-C, a cancelled flow run) after MAIL and RCPT of the 70th message, in
    the second batch: the server drops that message, the batch's unsent rest is given
    back at once, the interrupted one waits for the lease, and after it every contact
    has exactly one message."""
    emails = _contacts_with_digests(db_url, 120)
    real_data = smtplib.SMTP.data
    calls = {"n": 0}

    def data(self, msg):
        calls["n"] += 1
        if calls["n"] == 70:
            raise KeyboardInterrupt
        return real_data(self, msg)

    now = utcnow()
    with CountingSmtpServer() as smtp:
        targets = TargetBook(smtp_url=smtp.url)
        monkeypatch.setattr(smtplib.SMTP, "data", data)
        with pytest.raises(KeyboardInterrupt):
            _send(db_url, targets, now=now)
        monkeypatch.setattr(smtplib.SMTP, "data", real_data)
        assert len(smtp.messages) == 69 and max(smtp.recipients().values()) == 1
        # 69 sent, the interrupted one still claimed, the rest due again at once.
        assert _statuses(db_url) == Counter({"sent": 69, "sending": 1, "pending": 50})

        assert len(_send(db_url, targets, now=now + timedelta(minutes=1))) == 50
        assert len(smtp.messages) == 119 and max(smtp.recipients().values()) == 1

        lease = ctx_for(TODAY).config.reminders.claim_lease_minutes
        [late] = _send(db_url, targets, now=now + timedelta(minutes=lease + 1))
        assert late.status == "sent"
        assert smtp.recipients() == Counter({e: 1 for e in emails})
        assert _statuses(db_url) == Counter({"sent": 120})
        assert _send(db_url, targets, now=now + timedelta(hours=5)) == []
        assert len(smtp.messages) == 120


def test_each_result_is_one_statement_on_postgresql_on_one_connection_for_the_whole_send(
        db_url):
    """Counted with SQLAlchemy's `before_cursor_execute` and the pool's checkouts: each
    message's result is ONE statement on PostgreSQL (the digest's UPDATE as a CTE of the
    deliveries' INSERT) and two on SQLite, never a `SET`; its commit does not wait for the
    disk except each batch's last; the send takes a pooled connection once, not once per
    message (each checkout costs PostgreSQL a pre-ping round trip); and the connection goes
    back to the pool in its normal transaction mode."""
    with db.session_scope(db_url) as s:
        _digests(s.connection(), [f"coordinator:{i:02d}" for i in range(60)])  # 50 + 10
        s.commit()
    engine = db.get_engine(db_url)
    statements: list[str] = []
    checkouts: list[int] = []

    def statement(_conn, _cursor, sql, *_args):
        statements.append(" ".join(sql.split()))

    def checkout(*_args):
        checkouts.append(1)

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "checkout", checkout)
    try:
        with KeepAliveHook() as hook:
            sent = _send(db_url, TargetBook(coordinator=(hook.url,)))
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "checkout", checkout)
    assert len(sent) == 60 and {r.status for r in sent} == {"sent"}
    assert len(hook.posts) == 60
    records = [s for s in statements if s.startswith(("INSERT INTO delivery", "WITH recorded"))]
    assert len(records) == 60
    assert not [s for s in statements if s.upper().startswith("SET ")]
    if engine.dialect.name == "postgresql":
        per_message = 1
        assert all(s.startswith("WITH recorded AS (UPDATE digest SET") for s in records)
        # Not waiting for the disk: all but the last result of each batch.
        assert [i for i, s in enumerate(records) if "set_config" not in s] == [49, 59]
    else:
        per_message = 2
        pragmas = [s for s in statements if s.startswith("PRAGMA synchronous")]
        assert pragmas == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"] * 2
    # Besides the results: the due digests, per batch the claim and the earlier
    # deliveries, the recipients' labels (and SQLite's two PRAGMAs per batch).
    assert len(statements) - per_message * 60 <= 10
    assert len(checkouts) <= 3  # the session's reads, and one for the whole send
    assert _statuses(db_url) == Counter({"sent": 60})
    # Every pooled connection is back in its transaction mode: a rolled-back write is gone.
    held = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        for conn in held:
            conn.execute(sa.update(Digest.__table__).values(status="pending"))
            conn.rollback()
    finally:
        for conn in held:
            conn.close()
    assert _statuses(db_url) == Counter({"sent": 60})


@pytest.mark.postgres
def test_a_fast_results_statement_turns_synchronous_commit_off_for_its_transaction_only(
        pg_database):
    """PostgreSQL: the RETURNING of the result's UPDATE (`set_config(…, true)`) sets
    `synchronous_commit` off for that transaction, as `SET LOCAL` would, only when the
    claim still holds; the batch's last result leaves it on; nothing stays on the
    connection after the commit."""
    from avtaleflyt.services.reminders import _Claimed, _record

    from .conftest import _reset_pg

    _reset_pg(pg_database)
    engine = db.get_engine(pg_database)
    with engine.begin() as conn:
        _digests(conn, ["coordinator:18", "coordinator:11", "coordinator:03"])
        conn.execute(sa.update(Digest.__table__).values(status="sending", attempts=1))
        ids = conn.execute(sa.select(Digest.__table__.c.id)
                           .order_by(Digest.__table__.c.id)).scalars().all()

    def record(digest_id: int, attempts: int, fast: bool) -> str:
        with engine.connect() as conn:
            claimed = _Claimed(digest_id, "coordinator:18", attempts, "t", "x", "<p>x</p>", 1)
            _record(conn, claimed, {"status": "sent", "sent_at": utcnow()},
                    [{"digest_id": digest_id, "target": "json://…", "status": "sent",
                      "attempt": attempts, "error": None, "at": utcnow(),
                      "reported_on": None}], fast=fast)
            inside = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            conn.commit()
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
            return inside

    assert record(ids[0], 1, fast=True) == "off"
    assert record(ids[1], 1, fast=False) == "on"
    assert record(ids[2], 2, fast=True) == "on"  # the claim was lost: nothing changed
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Digest.__table__.c.status)
                            .order_by(Digest.__table__.c.id)).scalars().all()
        deliveries = conn.execute(sa.select(sa.func.count()).select_from(
            sa.table("delivery"))).scalar()
    assert rows == ["sent", "sent", "sending"] and deliveries == 3
