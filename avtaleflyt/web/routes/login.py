"""Logging in and out, and an unauthenticated health check for `serve`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from avtaleflyt import runtime
from avtaleflyt.services.users import authenticate

from .. import auth

router = APIRouter()


@router.get("/helse", include_in_schema=False)
def health() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/logg-inn")
def login_page(request: Request, neste: str = "/"):
    return request.app.state.pages.render(request, "login.html.j2", title="Logg inn",
                                          values={"neste": auth.safe_next(neste)})


@router.post("/logg-inn")
def login(request: Request, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", neste: Annotated[str, Form()] = "/",
          csrf_token: Annotated[str, Form()] = ""):
    auth.check_csrf(request, csrf_token)
    with runtime.session() as s:
        user = authenticate(session=s, username=username, password=password)
    if user is None:
        return request.app.state.pages.render(
            request, "login.html.j2", 401, title="Logg inn",
            values={"neste": auth.safe_next(neste), "username": username},
            errors={"password": "Feil brukernavn eller passord."})
    auth.log_in(request, user)
    return RedirectResponse(auth.safe_next(neste), status_code=303)


@router.post("/logg-ut")
def logout(request: Request, csrf_token: Annotated[str, Form()] = ""):
    auth.check_csrf(request, csrf_token)
    request.session.clear()
    auth.flash(request, "Du er logget ut.")
    return RedirectResponse("/logg-inn", status_code=303)
