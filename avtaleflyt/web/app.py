"""The dashboard application factory.

Forms run the same Prefect flows as the CLI, in this process, against the API in
PREFECT_API_URL (`avtaleflyt serve` points it at its own server). That keeps a form's answer
synchronous — a refusal from the domain comes back on the same form — and every action is
still a flow run in Prefect's UI. Only the daily sweep is a deployment run by the scheduler.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from avtaleflyt import runtime
from avtaleflyt.domain.stages import STAGE_ORDER, CaseStatus, Party, Stage, Theme
from avtaleflyt.formatting import (
    format_amount, format_date, format_date_short, format_days, format_percent)
from avtaleflyt.resources import static_dir, templates_dir
from avtaleflyt.settings import Settings

from . import auth
from .api import base as api_base

_log = logging.getLogger("avtaleflyt.web")

TEMPLATES = templates_dir("web")
STATIC = static_dir()
_HTTP_MESSAGES = {404: "Siden finnes ikke.", 405: "Denne adressen tar ikke imot slike "
                  "forespørsler.", 500: "Noe gikk galt på serveren."}


def _date(value: Any, short: bool = False) -> str:
    if not value:
        return "–"
    d = value if isinstance(value, date) else date.fromisoformat(str(value))
    # Both are cached in `formatting` (Babel takes 30-60 µs a date; a page shows hundreds,
    # most of them the same few days).
    return format_date_short(d) if short else format_date(d)


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(date=_date, short=lambda v: _date(v, True), amount=format_amount,
                       percent=format_percent, days=format_days,
                       stage=lambda k: Stage(k).label if k else "–",
                       status=lambda k: CaseStatus(k).label if k else "–",
                       party=lambda k: Party(k).label if k else "–",
                       party_short=lambda k: ("Fylket" if k == Party.COUNTY else "Kommunen")
                       if k else "–")
    env.globals.update(STAGES=STAGE_ORDER, PARTIES=list(Party), THEMES=list(Theme),
                       STATUSES=list(CaseStatus), new_command_key=_new_command_key)
    return env


def _new_command_key() -> str:
    """One idempotency key per rendered form (a hidden field): a double-submitted form or
    a browser's retry stores the command once (services/inbox.py)."""
    import uuid

    return uuid.uuid4().hex


class Pages:
    """Renders a template with what every page needs: the user, the CSRF token, flashes."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def render(self, request: Request, name: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        context.setdefault("user", None)
        context.setdefault("errors", {})
        context.setdefault("form", None)
        context.setdefault("values", {})
        html = self.env.get_template(name).render(
            request=request, path=request.url.path, csrf=auth.csrf_token(request),
            flashes=auth.pop_flashes(request), today=runtime.today(), **context)
        return HTMLResponse(html, status_code=status_code,
                            headers={"Cache-Control": "no-store"})


class InstallSettings:
    """ASGI middleware: every request (and the flow runs it starts, in this process) sees
    the settings the dashboard was started with, not whatever the environment says later."""

    def __init__(self, app, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send) -> None:
        with runtime.use_settings(self.settings):
            await self.app(scope, receive, send)


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self'; "
     "script-src 'self'; form-action 'self'; frame-ancestors 'none'"),
)


class SecurityHeaders:
    """ASGI middleware: every response's security headers (unless the route set its own).
    Plain ASGI, added to the response's start message: Starlette's `BaseHTTPMiddleware`
    (`@app.middleware("http")`) runs each request through a task group and a streamed copy
    of the response, which cost more than the headers."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The dashboard. Its settings are built once, here: those given, else the entry
    point's (`avtaleflyt serve` installs the CLI's), else the process's from the environment."""
    settings = settings or runtime.settings()
    app = FastAPI(title="Avtaleflyt", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(make_env())
    app.state.pages = pages

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        """Never a bare "Internal Server Error": a Norwegian page with a reference that the
        log line carries too, so IT can find what happened from what the user quotes."""
        if api_base.is_api(request):  # the JSON API answers problem+json, never a page
            return api_base.problem_response(request, exc)
        ref = secrets.token_hex(4).upper()
        _log.error("Feil %s ved %s %s", ref, request.method, request.url.path, exc_info=exc)
        message = ("Noe gikk galt på serveren. Har du sendt et skjema, kan du se på saken om "
                   "endringen kom med før du prøver igjen. Oppgi referansen "
                   f"{ref} hvis du kontakter IT-avdelingen.")
        try:
            return pages.render(request, "error.html.j2", 500, title="Noe gikk galt",
                                message=message)
        except Exception:  # the page itself cannot be drawn (e.g. its session is gone)
            return HTMLResponse(f"<!doctype html><html lang=\"nb\"><title>Noe gikk galt</title>"
                                f"<p>{message}</p></html>", status_code=500,
                                headers={"Cache-Control": "no-store"})

    @app.exception_handler(auth.LoginRequired)
    async def _login(request: Request, exc: auth.LoginRequired) -> Response:
        if request.method == "GET":
            response = RedirectResponse(auth.login_url(exc.next_path), status_code=303)
        else:
            response = pages.render(request, "error.html.j2", 401, title="Ikke innlogget",
                                    message="Du må logge inn før du kan gjøre endringer.")
        if auth.SESSION_COOKIE in request.cookies:  # ended, expired or unknown: drop it
            auth.forget_cookie(request, response)
        return response

    @app.exception_handler(auth.CsrfFailed)
    async def _csrf(request: Request, exc: auth.CsrfFailed) -> Response:
        return pages.render(request, "error.html.j2", 403, title="Skjemaet ble avvist",
                            message="Skjemaet manglet en gyldig sikkerhetskode (det kan være "
                            "utløpt). Ingenting ble lagret. Gå tilbake, last siden på nytt og "
                            "prøv igjen.")

    from .routes.case import CaseNotVisible

    @app.exception_handler(CaseNotVisible)
    async def _not_visible(request: Request, exc: CaseNotVisible) -> Response:
        return pages.render(request, "error.html.j2", exc.status_code, title="Fant ikke saken",
                            message=exc.message, user=getattr(request.state, "user", None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if api_base.is_api(request):
            return api_base.problem_response(request, exc)
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        if request.url.path.startswith("/kalender/"):  # calendar apps read plain text
            return PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        return pages.render(request, "error.html.j2", exc.status_code, title="Feil",
                            message=message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if api_base.is_api(request):  # a bad body or query: 422 naming the field
            return api_base.problem_response(request, exc)
        return pages.render(request, "error.html.j2", 404, title="Feil",
                            message=_HTTP_MESSAGES[404])

    api_base.install(app, fallback=_crash)
    from .api import router as api_router

    app.include_router(api_router)  # /api/v1, the JSON API (web/api/)

    app.add_middleware(SecurityHeaders)

    from .routes import (board, case, feed, login, meetings, mypage, mytasks, newcase, people,
                         stats)

    for module in (login, board, mytasks, newcase, case, people, meetings, stats, feed, mypage):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # Middleware added last runs first: every handler sees the session and the settings.
    app.add_middleware(auth.SchemeAwareSessions,
                       secret_key=auth.signing_secret(settings))
    app.add_middleware(InstallSettings, settings=settings)
    app.state.settings = settings
    return app
