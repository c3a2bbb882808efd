"""Min side: who the logged-in user is, and their personal calendar feed address.

The feed address is made and revoked by the same services as `avtaleflyt user feed-token`
and `user revoke-feed` (services/users.py): a new address turns the earlier one off, and
only the token's hash is stored, so the full address is on the page that made it and never
again. That page is the POST's own answer (no redirect, `Cache-Control: no-store` as every
page): the token never passes through the flash cookie or a URL.

The absolute address is built from the request's base URL, i.e. the scheme and host as
uvicorn saw them; behind a reverse proxy that uvicorn trusts (AVTALEFLYT_TRUSTED_PROXIES),
that is the proxy's https address, the same rule that marks the cookies Secure (web/auth.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from avtaleflyt import runtime
from avtaleflyt.domain.errors import DomainError
from avtaleflyt.services import users

from ..auth import check_csrf, current_user, flash

router = APIRouter()
User = Annotated[users.UserView, Depends(current_user)]
F = Annotated[str, Form()]


def feed_base(request: Request) -> str:
    """The address calendar apps reach the feed on, without the token."""
    return str(request.base_url).rstrip("/") + "/kalender/"


def _page(request: Request, user: users.UserView, status_code: int = 200, **extra: Any):
    with runtime.session() as s:
        feeds = users.active_feeds(session=s, user_id=user.id)
    extra.setdefault("new_feed", None)
    return request.app.state.pages.render(
        request, "mypage.html.j2", status_code, title="Min side", user=user, feeds=feeds,
        feed_base=feed_base(request), **extra)


@router.get("/min-side")
def my_page(request: Request, user: User):
    return _page(request, user)


@router.post("/min-side/kalender")
def create_feed(request: Request, user: User, csrf_token: F = ""):
    check_csrf(request, csrf_token)
    with runtime.session() as s:
        token = users.issue_feed_token(session=s, username=user.username)
    return _page(request, user, new_feed=f"{feed_base(request)}{token}.ics")


@router.post("/min-side/kalender/{feed_id}/slett")
def revoke_feed(request: Request, user: User, feed_id: int, csrf_token: F = "",
                confirm: F = ""):
    check_csrf(request, csrf_token)
    if confirm != "ja":
        return _page(request, user, 422, form=f"feed-{feed_id}", errors={
            "confirm": "Kryss av for «Ja, slå av denne adressen» for å bekrefte. Ingenting "
                       "er endret."})
    try:
        with runtime.session() as s:
            users.revoke_feed(session=s, user_id=user.id, feed_id=feed_id)
    except DomainError as e:
        return _page(request, user, 404, form=f"feed-{feed_id}", errors={"_": e.message})
    flash(request, "Kalenderadressen er slått av. Kalendere som abonnerte på den, får ikke "
                   "lenger nye frister.")
    return RedirectResponse("/min-side", status_code=303)
