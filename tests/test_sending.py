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
