"""/api/v1 contact persons: list, add, correct, erase.

Contact persons are personal data, so — as `contact add|edit|erase` and the dashboard do —
they are changed by direct service calls, never through a flow (Prefect shows flow
parameters to anyone who can reach it). Reading the list is logged in the access log, as
the case page is. A contact of another county's municipality is "not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pydantic import BaseModel, ConfigDict

from avtaleflyt import runtime

from .base import ApiUser, IdempotencyKey, Page, PageParams, paged
from .direct import once

router = APIRouter(tags=["Kontakter"])


class ContactIn(BaseModel):
    """As `contact add KNR --name … --role … --email … [--phone …] [--primary]`."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    primary: bool = False


class ContactPatch(BaseModel):
    """As `contact edit ID`: only the fields given change; `phone: ""` removes the
    number, `primary: true|false` is `--primary/--not-primary`."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    primary: bool | None = None


@router.get("/cases/{knr}/contacts", response_model=Page[dict[str, Any]],
            summary="Kommunens kontaktpersoner (som «contact list --json»)")
def list_contacts(user: ApiUser, knr: str, paging: PageParams) -> dict[str, Any]:
    """Kommunens kontaktpersoner, som `contact list KNR --json` (primærkontakten først)."""
    from avtaleflyt.services.privacy import log_access
    from avtaleflyt.services.queries import contacts
    from avtaleflyt.services.store import get_municipality

    with runtime.session() as s:
        m = get_municipality(s, knr, user.scope)
        rows = contacts(s, m.id)
        log_access(s, username=user.username, action="contact_list",
                   kommunenummer=m.kommunenummer, object=f"API: {len(rows)} kontaktpersoner")
    return paged(rows, paging.page, paging.per_page)


@router.post("/cases/{knr}/contacts", status_code=201,
             summary="Legg til en kontaktperson (som «contact add»)")
def add_contact(user: ApiUser, key: IdempotencyKey, knr: str, body: ContactIn) -> dict[str, Any]:
    """Legg til en kontaktperson (som `contact add`)."""
    from avtaleflyt.services.people import add_contact as add
    from avtaleflyt.services.store import get_municipality

    def go() -> dict[str, Any]:
        with runtime.session() as s:
            get_municipality(s, knr, user.scope)
            return add(session=s, kommunenummer=knr, name=body.name, role=body.role,
                       email=body.email, phone=body.phone, primary=body.primary,
                       ctx=runtime.ctx(actor=user.username)).as_dict()

    return once(user, key, "add_contact", go)


@router.get("/contacts/{contact_id}",
            summary="Én kontaktperson (som en rad i «contact list --json»)")
def get_contact(user: ApiUser, contact_id: int) -> dict[str, Any]:
    """Kontaktpersonen med denne id-en, med kommunen den hører til (for eksempel for å
    spørre om bekreftelse før «contact erase»)."""
    from avtaleflyt.services.people import _contact_in_scope
    from avtaleflyt.services.privacy import log_access

    with runtime.session() as s:
        c, m = _contact_in_scope(s, contact_id, user.scope)
        row = {"id": c.id, "name": c.name, "role": c.role, "email": c.email,
               "phone": c.phone, "primary": c.is_primary,
               "kommunenummer": m.kommunenummer, "municipality": m.name}
        log_access(s, username=user.username, action="contact_list",
                   kommunenummer=m.kommunenummer, object=f"API: kontaktperson {c.id}")
    return row


@router.patch("/contacts/{contact_id}",
              summary="Rett en kontaktperson (som «contact edit»)")
def edit_contact(user: ApiUser, key: IdempotencyKey, contact_id: int,
                 body: ContactPatch) -> dict[str, Any]:
    """Rett opplysningene om en kontaktperson (som `contact edit ID`)."""
    from avtaleflyt.services.people import edit_contact as edit

    def go() -> dict[str, Any]:
        with runtime.session() as s:
            return edit(session=s, contact_id=contact_id, name=body.name, role=body.role,
                        email=body.email, phone=body.phone, primary=body.primary,
                        ctx=runtime.ctx(actor=user.username), scope=user.scope).as_dict()

    return once(user, key, "edit_contact", go)


@router.delete("/contacts/{contact_id}",
               summary="Slett en kontaktperson (som «contact erase»)")
def erase_contact(user: ApiUser, key: IdempotencyKey, contact_id: int) -> dict[str, Any]:
    """Slett en kontaktperson helt (som `contact erase ID --yes`): fra kontaktlisten,
    oppgavene, lagrede meldinger og dokumenter. Historikken beholder bare id-en."""
    from avtaleflyt.services.people import erase_contact as erase

    def go() -> dict[str, Any]:
        with runtime.session() as s:
            return erase(session=s, contact_id=contact_id,
                         ctx=runtime.ctx(actor=user.username), scope=user.scope).as_dict()

    return once(user, key, "erase_contact", go)
