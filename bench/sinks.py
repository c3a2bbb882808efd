"""Local notification sinks for the benchmarks: an HTTP endpoint for Apprise json:// posts and
an SMTP server (aiosmtpd) with a password. Both listen on 127.0.0.1 only, on a free port, for
the duration of one measure, and both require credentials (the HTTP sink checks Basic auth).
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpSink:
    """Counts every authenticated POST and keeps its body (for duplicate checks)."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(12)
        self.bodies: list[bytes] = []
        self.refused = 0
        self._lock = threading.Lock()

    def start(self) -> HttpSink:
        sink = self
        expected = "Basic " + base64.b64encode(f"bench:{self.secret}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real web server offers
            # Headers and body go out as two writes; without this, a kept-alive client
            # waits for the second one until its delayed ACK (40 ms a request).
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ok = self.headers.get("authorization") == expected
                with sink._lock:
                    if ok:
                        sink.bodies.append(body)
                    else:
                        sink.refused += 1
                self.send_response(200 if ok else 401)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "koordinator") -> str:
        return f"json://bench:{self.secret}@127.0.0.1:{self.port}/{path}"


class SmtpSink:
    """aiosmtpd on 127.0.0.1 with AUTH required; keeps every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.password = secrets.token_urlsafe(12)
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.port = free_port()
        sink = self

        class Mailbox:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.content))
                return "250 OK"

        def auth(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=auth_data.login == b"bench"
                              and auth_data.password == sink.password.encode())

        from aiosmtpd.smtp import SMTP

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                sink.connections += 1
                super().connection_made(transport)

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self._controller = CountingController(Mailbox(), hostname="127.0.0.1", port=self.port,
                                              authenticator=auth, auth_require_tls=False)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return (f"mailto://bench:{self.password}@127.0.0.1:{self.port}"
                "?from=avtaleflyt@fylket.example")


class ChildSinks:
    """Both sinks in a child process of their own, so the sinks' work (the HTTP server's
    threads, aiosmtpd's event loop) does not share the measured process's interpreter lock
    and is not counted in its time, as a real mail or web server would not be. After
    `stop()`, `bodies` (HTTP), `messages` (SMTP: from, to, raw bytes) and `connections`
    (SMTP) are what the sinks received, as with the in-process classes."""

    def start(self) -> ChildSinks:
        import json
        import subprocess
        import sys

        self._proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
        info = json.loads(self._proc.stdout.readline())
        self._http, self.smtp_url = info["http"], info["smtp"]
        return self

    def url(self, path: str = "koordinator") -> str:
        return f"{self._http}/{path}"

    def stop(self) -> None:
        import json

        out, _ = self._proc.communicate(b"stop\n", timeout=120)
        got = json.loads(out.decode())
        self.bodies = [b.encode("latin-1") for b in got["bodies"]]
        self.messages = [(f, t, raw.encode("latin-1")) for f, t, raw in got["messages"]]
        self.connections = got["connections"]
        self.refused = got["refused"]


def _serve() -> None:
    """The child of ChildSinks: start both sinks, say where they listen, wait for "stop" on
    stdin, then report what they received (bytes as latin-1 text) as one JSON line."""
    import json
    import sys

    http, smtp = HttpSink().start(), SmtpSink().start()
    print(json.dumps({"http": http.url("").rstrip("/"), "smtp": smtp.url}), flush=True)
    sys.stdin.readline()
    http.stop()
    smtp.stop()
    print(json.dumps({"bodies": [b.decode("latin-1") for b in http.bodies],
                      "messages": [(f, t, raw.decode("latin-1")) for f, t, raw in smtp.messages],
                      "connections": smtp.connections, "refused": http.refused}), flush=True)


if __name__ == "__main__":
    _serve()
