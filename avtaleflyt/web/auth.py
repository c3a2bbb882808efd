"""Logins, the session cookie, CSRF tokens and the session secret.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure on https). It holds
the user's id and a synchronizer CSRF token; every POST must send the token back in its
form, so a page on another site cannot make a logged-in browser change anything.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from avtaleflyt import runtime
from avtaleflyt.services.users import UserView, active_user

SESSION_COOKIE = "avtaleflyt_session"
SESSION_MAX_AGE = 12 * 3600  # one working day
SECRET_FILE = "session_secret"


def session_secret(data_dir: Path) -> str:
    """The signing key for session cookies: made once, kept in the data dir, mode 0600."""
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
    """Session cookies marked Secure when the request came over https, plain otherwise
    (the default `serve` on 127.0.0.1 is http, where a Secure cookie would be dropped)."""

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        opts = dict(secret_key=secret_key, session_cookie=SESSION_COOKIE,
                    max_age=SESSION_MAX_AGE, same_site="lax")
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


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not sent or not secrets.compare_digest(str(expected), str(sent)):
        raise CsrfFailed()


def current_user(request: Request) -> UserView:
    """FastAPI dependency: the logged-in, still active user, or a redirect to the login."""
    uid = request.session.get("uid")
    user = None
    if isinstance(uid, int):
        with runtime.session() as s:
            user = active_user(session=s, user_id=uid)
    if user is None:
        request.session.pop("uid", None)
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


def log_in(request: Request, user: UserView) -> None:
    request.session.clear()  # a fresh session: no fixation of a pre-login session
    request.session["uid"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)


def flash(request: Request, message: str) -> None:
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], message]


def pop_flashes(request: Request) -> list[str]:
    return request.session.pop("flash", None) or []
