"""Logging in and out, and an unauthenticated health check for `serve`."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from avtaleflyt import runtime
from avtaleflyt.domain.calendar import OSLO
from avtaleflyt.models import utcnow
from avtaleflyt.services import sessions
from avtaleflyt.services.users import authenticate

from .. import auth

router = APIRouter()


@router.get("/helse", include_in_schema=False)
def health() -> PlainTextResponse:
    """For a load balancer or monitoring: 200 "ok" when the database answers on this
    version's schema and the Prefect API answers; 503 and which of them is down otherwise.
    No login, so nothing in the answer names a host, a URL or a credential."""
    import os

    from avtaleflyt import installation, prefect_auth

    s = runtime.settings()
    api = os.environ.get("PREFECT_API_URL")
    auth = os.environ.get(prefect_auth.CLIENT_ENV) or (
        prefect_auth.credential_for(api, s.data_dir) if api else None)
    result = installation.health(s, api, auth)
    return PlainTextResponse(result.text(), status_code=200 if result.ok else 503)


@router.get("/logg-inn")
def login_page(request: Request, neste: str = "/"):
    return request.app.state.pages.render(request, "login.html.j2", title="Logg inn",
                                          values={"neste": auth.safe_next(neste)})


@router.post("/logg-inn")
def login(request: Request, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", neste: Annotated[str, Form()] = "/",
          csrf_token: Annotated[str, Form()] = ""):
    auth.check_csrf(request, csrf_token)
    pages = request.app.state.pages
    values = {"neste": auth.safe_next(neste), "username": username}
    address, rules = auth.client_address(request), auth.rules()
    with runtime.session() as s:
        until = sessions.throttled_until(session=s, username=username, address=address,
                                         rules=rules)
        if until is not None:  # refused before the password is looked at
            sessions.record_attempt(session=s, username=username, address=address,
                                    outcome="throttled")
            seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
            minutes = math.ceil(seconds / 60)
            at = until.astimezone(OSLO).strftime("%H:%M")
            response = pages.render(
                request, "login.html.j2", 429, title="Logg inn", values=values,
                errors={"password": "For mange mislykkede innlogginger. Prøv igjen kl. "
                        f"{at} (om {minutes} {'minutt' if minutes == 1 else 'minutter'})."})
            response.headers["Retry-After"] = str(seconds)
            return response
        user = authenticate(session=s, username=username, password=password)
        sessions.record_attempt(session=s, username=username, address=address,
                                outcome="failure" if user is None else "success")
    if user is None:
        return pages.render(request, "login.html.j2", 401, title="Logg inn", values=values,
                            errors={"password": "Feil brukernavn eller passord."})
    response = RedirectResponse(auth.safe_next(neste), status_code=303)
    auth.log_in(request, response, user)
    return response


@router.post("/logg-ut")
def logout(request: Request, csrf_token: Annotated[str, Form()] = ""):
    if auth.session_user(request) is not None:  # nothing to protect without a session
        auth.check_csrf(request, csrf_token)
    response = RedirectResponse("/logg-inn", status_code=303)
    auth.log_out(request, response)
    auth.flash(request, "Du er logget ut.")
    return response
