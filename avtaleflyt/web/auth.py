"""Logins, server-side sessions, CSRF tokens and the signing secret of the state cookie.

Two cookies, both HttpOnly, SameSite=Lax and Secure when the request came over https:

- `avtaleflyt_session` holds only a random session token. The session itself is a row in
  `user_session` (`services/sessions.py`) keyed by the token's SHA-256, so logging out,
  disabling the user, changing the password or `user sessions --revoke` ends it on the
  server: a copied cookie stops working at once. Idle timeout and absolute lifetime come
  from `[dashboard]` in the TOML configuration.
- `avtaleflyt_state` is Starlette's signed cookie for what is not an identity: the CSRF token
  of the login form (before anyone is logged in) and flash messages. It never logs anyone in.

CSRF: a logged-in user's token is derived from the session token (HMAC), so it lives and
dies with the session row and needs no storage; before login, the login form's token is
kept in the state cookie. Every POST must send the token back in its form, so a page on
another site cannot make a logged-in browser change anything.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import Request, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from avtaleflyt import runtime
from avtaleflyt.config import DashboardRules
from avtaleflyt.services import sessions
from avtaleflyt.services.users import UserView

SESSION_COOKIE = "avtaleflyt_session"
STATE_COOKIE = "avtaleflyt_state"
STATE_MAX_AGE = 12 * 3600
SECRET_FILE = "session_secret"


def signing_secret(settings) -> str:
    """The state cookie's signing key: AVTALEFLYT_SESSION_SECRET when set (every dashboard
    node of an installation must share it), else the one generated into the data dir."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    return session_secret(settings.data_dir)


def session_secret(data_dir: Path) -> str:
    """The signing key for the state cookie: made once, kept in the data dir, mode 0600."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < 32:
            raise RuntimeError(f"{path} is too short to be a session secret; delete it") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    return secret


class SchemeAwareSessions:
    """The state cookie marked Secure when the request came over https, plain otherwise
    (the default `serve` on 127.0.0.1 is http, where a Secure cookie would be dropped)."""

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        opts = dict(secret_key=secret_key, session_cookie=STATE_COOKIE,
                    max_age=STATE_MAX_AGE, same_site="lax")
        self.plain = SessionMiddleware(app, https_only=False, **opts)
        self.secure = SessionMiddleware(app, https_only=True, **opts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.secure if scope.get("scheme") in ("https", "wss") else self.plain
        await chosen(scope, receive, send)


class LoginRequired(Exception):
    """Raised by `current_user`; the app turns it into a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfFailed(Exception):
    """A form came without the session's token: refused with 403, nothing written."""


def rules() -> DashboardRules:
    return runtime.ctx().config.dashboard


def client_address(request: Request) -> str:
    """The client's address as the server sees it (uvicorn takes X-Forwarded-For only from
    a proxy it trusts, 127.0.0.1 by default)."""
    return (request.client.host if request.client else "") or "ukjent"


def session_user(request: Request) -> UserView | None:
    """The user of the request's session cookie if that session is still valid (looked up
    once per request)."""
    if not hasattr(request.state, "session_user"):
        token = request.cookies.get(SESSION_COOKIE, "")
        user = None
        if token:
            with runtime.session() as s:
                user = sessions.user_for_session(session=s, token=token, rules=rules())
        request.state.session_user = user
        request.state.session_token = token if user else None
    return request.state.session_user


def csrf_token(request: Request) -> str:
    if session_user(request) is not None:
        return sessions.csrf_for(request.state.session_token)
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = (sessions.csrf_for(request.state.session_token)
                if session_user(request) is not None else request.session.get("csrf"))
    if not expected or not sent or not secrets.compare_digest(str(expected), str(sent)):
        raise CsrfFailed()


def current_user(request: Request) -> UserView:
    """FastAPI dependency: the user of a valid session, else a redirect to the login."""
    user = session_user(request)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return user


def login_url(next_path: str) -> str:
    return "/logg-inn?neste=" + quote(next_path, safe="")


def safe_next(value: str | None) -> str:
    """Only local paths: a login must never redirect to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def log_in(request: Request, response: Response, user: UserView) -> None:
    """Start a server-side session: a fresh token in the cookie (no fixation of anything
    from before the login), a fresh state cookie; an earlier session of this browser ends."""
    r = rules()
    old = request.cookies.get(SESSION_COOKIE)
    with runtime.session() as s:
        if old:
            sessions.revoke_token(session=s, token=old)
        token = sessions.start_session(session=s, user=user, rules=r,
                                       user_agent=request.headers.get("user-agent"),
                                       address=client_address(request))
    request.session.clear()
    request.session["csrf"] = secrets.token_urlsafe(32)
    response.set_cookie(SESSION_COOKIE, token, max_age=r.session_max_hours * 3600, path="/",
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")


def log_out(request: Request, response: Response) -> None:
    """End the session on the server (a copy of the cookie is refused from now on) and
    drop the browser's cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with runtime.session() as s:
            sessions.revoke_token(session=s, token=token)
    request.session.clear()
    forget_cookie(request, response)


def forget_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def flash(request: Request, message: str) -> None:
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], message]


def pop_flashes(request: Request) -> list[str]:
    return request.session.pop("flash", None) or []
