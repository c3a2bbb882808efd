"""Real local endpoints for reminder tests: an HTTP server that receives Apprise json://
posts (and can be told to fail with 500), and an SMTP server (aiosmtpd) with a password."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

HOOK_SECRET = "Hook-Hemmelig-7Q2"
SMTP_PASSWORD = "Smtp-Hemmelig-9Z4"
LEADER_SECRET = "Leder-Hemmelig-3K8"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HookServer:
    """Records every POST; answers 500 while `failing` is set."""

    posts: list[tuple[str, dict]] = field(default_factory=list)
    failing: bool = False
    port: int = 0

    def start(self) -> HookServer:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if hook.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "coordinator", secret: str = HOOK_SECRET) -> str:
        return f"json://koord:{secret}@127.0.0.1:{self.port}/{path}"

    def to(self, path: str) -> list[dict]:
        return [p for where, p in self.posts if where == f"/{path}"]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = _Mailbox()
        self.port = free_port()

        def auth(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=auth_data.login == b"avtaleflyt"
                              and auth_data.password == SMTP_PASSWORD.encode())

        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                      authenticator=auth, auth_require_tls=False)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return (f"mailto://avtaleflyt:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
                "?from=avtaleflyt@fylket.example")

    @property
    def messages(self):
        return self.mailbox.messages


def working_days(cal, start: date, end: date):
    d = start
    while d <= end:
        if cal.is_working_day(d):
            yield d
        d += timedelta(days=1)


# --- walking a case through the real services ------------------------------------------------

def record(session, knr, kind, on, today=None, **options):
    from avtaleflyt.services import cases, facts

    from .conftest import ctx_for

    ctx = ctx_for(today or on)
    fact = facts.build_fact(kind, on, options, ctx)
    return cases.record_fact(session=session, kommunenummer=knr, fact=fact, ctx=ctx)


def advance(session, knr, today):
    from avtaleflyt.services import cases

    from .conftest import ctx_for

    cases.advance(session=session, kommunenummer=knr, ctx=ctx_for(today))


def open_to_political(session, knr, day):
    from avtaleflyt.services import cases

    from .conftest import ctx_for

    cases.open_case(session=session, kommunenummer=knr, opened_on=day, ctx=ctx_for(day))
    for kind in ("meeting-held", "needs-assessed", "intent-confirmed"):
        record(session, knr, kind, day)
    advance(session, knr, day)


def add_meeting(session, knr, body, on, today):
    from avtaleflyt.services import meetings

    from .conftest import ctx_for

    return meetings.add_meeting(session=session, kommunenummer=knr, body=body, on=on,
                                title=None, ctx=ctx_for(today))


def tasks_by_key(session, knr):
    from avtaleflyt.services.store import case_tasks, get_case

    _, case = get_case(session, knr)
    return {t.key: t for t in case_tasks(session, case.id)}
