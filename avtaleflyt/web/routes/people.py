"""Kontaktpersoner on the case page: add one, and the confirmation step before erasing one.

Correcting and erasing are the case page's own forms (`routes/case.py`); all of them call
`services/people.py`, the same functions as `avtaleflyt contact add|edit|erase`. A contact
person is personal data, so none of this is a flow run: Prefect would show and keep the
name and address (docs/architecture.md). Every route sits behind `visible_knr`: another
county's municipality, or a contact of another municipality, is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from avtaleflyt import runtime
from avtaleflyt.domain.errors import DomainError
from avtaleflyt.services import people
from avtaleflyt.services.privacy import log_access
from avtaleflyt.services.users import UserView

from ..auth import check_csrf, current_user
from .case import _contact_refused, _done, visible_knr

router = APIRouter(dependencies=[Depends(visible_knr)])
User = Annotated[UserView, Depends(current_user)]
F = Annotated[str, Form()]

NEW = "new"  # the add form's id on the page is "contact-new"


@router.post("/sak/{knr}/kontakt")
def add_contact(request: Request, user: User, knr: str, csrf_token: F = "", name: F = "",
                role: F = "", email: F = "", phone: F = "", primary: F = ""):
    """A new contact person of this municipality. A refusal comes back on the add form with
    the field marked, and nothing is written."""
    check_csrf(request, csrf_token)
    values = {"name": name, "role": role, "email": email, "phone": phone, "primary": primary}
    try:
        with runtime.session() as s:
            result = people.add_contact(session=s, kommunenummer=knr, name=name, role=role,
                                        email=email, phone=phone.strip() or None,
                                        primary=bool(primary), scope=user.scope,
                                        ctx=runtime.ctx(actor=user.username)).as_dict()
    except DomainError as e:
        return _contact_refused(request, user, knr, NEW, e, values)
    return _done(request, knr, result)


@router.get("/sak/{knr}/kontakt/{contact_id}/slett")
def confirm_erase(request: Request, user: User, knr: str, contact_id: int):
    """The explicit step before erasing: who will be erased, and what that means. The form
    posts to the case page's erase route (`routes/case.py`) with the confirmation."""
    try:
        with runtime.session() as s:
            contact, m = people.contact_of(session=s, contact_id=contact_id,
                                           scope=user.scope, kommunenummer=knr)
            shown = {"id": contact.id, "name": contact.name, "role": contact.role,
                     "email": contact.email, "phone": contact.phone,
                     "primary": contact.is_primary}
            # The page shows one person's data: logged like the case page's list.
            log_access(s, username=user.username, action="contact_list", kommunenummer=knr,
                       object=f"kontaktperson {contact.id}: bekreft sletting")
            municipality = m.name
    except DomainError as e:
        return _contact_refused(request, user, knr, contact_id, e, {})
    return request.app.state.pages.render(
        request, "contact_erase.html.j2", title=f"Slett kontaktperson – {municipality}",
        user=user, c=shown, knr=knr, municipality=municipality)
