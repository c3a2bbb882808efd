"""Contact persons and experience notes: facts about a municipality that are not stage facts."""

from __future__ import annotations

import re
from datetime import date

from sqlmodel import Session, select

from avtaleflyt.domain import machine
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.machine import NewEvent
from avtaleflyt.domain.stages import CaseStatus, Theme
from avtaleflyt.models import ContactPerson, ExperienceNote

from .cases import Outcome, _outcome
from .context import Ctx
from .store import add_events, commit_case, get_case, get_municipality

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[0-9 ]{5,20}$")


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"«--{field}» kan ikke være tom.", field=field)
        return None
    if len(value) > limit:
        raise InvalidInput(f"«--{field}» er for lang (høyst {limit} tegn).", field=field)
    return value


def add_contact(*, session: Session, kommunenummer: str, name: str, role: str, email: str,
                phone: str | None, primary: bool, ctx: Ctx) -> Outcome:
    m = get_municipality(session, kommunenummer)
    name = _text(name, "name", 200)
    role = _text(role, "role", 200)
    email = _text(email, "email", 254)
    if not _EMAIL.match(email):
        raise InvalidInput(f"«--email»: «{email}» er ikke en gyldig e-postadresse.", field="email")
    phone = _text(phone, "phone", 40, required=False)
    if phone and not _PHONE.match(phone):
        raise InvalidInput(f"«--phone»: «{phone}» er ikke et gyldig telefonnummer.",
                           field="phone")
    existing = session.exec(select(ContactPerson).where(
        ContactPerson.municipality_id == m.id)).all()
    if any(c.email.lower() == email.lower() for c in existing):
        raise Conflict(f"{m.name} har allerede en kontaktperson med e-post {email}.",
                       field="email")
    if primary:
        for c in existing:
            if c.is_primary:
                c.is_primary = False
                session.add(c)
    contact = ContactPerson(municipality_id=m.id, name=name, role=role, email=email,
                            phone=phone, is_primary=primary or not existing)
    session.add(contact)
    session.flush()
    # The event names the contact by id only: personal data stays in one place.
    add_events(session, m, None, [NewEvent("contact_added", ctx.today,
                                           {"contact_id": contact.id,
                                            "primary": contact.is_primary})], ctx)
    session.commit()
    out = Outcome(m.kommunenummer, m.name, f"Kontaktperson lagt til for {m.name}.")
    return out


def add_note(*, session: Session, kommunenummer: str, theme: Theme, on: date, ctx: Ctx,
             text: str | None = None, text_id: int | None = None,
             shared: bool = False) -> Outcome:
    """Add an experience note to the case. A `shared` note may also be shown outside the
    case's own county (in the national comparison); an unshared one only in its county.

    The note's text lives in `personal_text`: given as `text` it is stored there now; the
    command inbox has stored it already and passes its `text_id`."""
    from . import texts

    m, case = get_case(session, kommunenummer)
    if text_id is None:
        text = texts.clean(text, "note", required=True)
    machine.check_not_future(on, ctx.today)
    if on < case.opened_on:
        raise InvalidInput(f"Datoen {machine.fmt(on)} er før saken ble åpnet "
                           f"({machine.fmt(case.opened_on)}).", field="date")
    if text_id is None:
        row = texts.store(session, municipality_id=m.id, case_id=case.id, kind="note",
                          text=text)
    else:
        row = texts.load(session, text_id, m.id)
        row.case_id = case.id
        session.add(row)
    note = ExperienceNote(case_id=case.id, stage=case.stage, theme=theme.value,
                          text_id=row.id, noted_on=on, recorded_by=ctx.actor, shared=shared)
    session.add(note)
    session.flush()
    add_events(session, m, case, [NewEvent("note_added", on, {
        "note_id": note.id, "theme": theme.value, **({"shared": True} if shared else {})})], ctx)
    commit_case(session, case)
    delt = ", delt med andre fylker" if shared else ""
    return _outcome(m, case, f"Erfaringsnotat lagt til for {m.name} ({theme.label}{delt}).")


def assign_task(*, session: Session, task_id: int, contact_id: int | None, ctx: Ctx) -> Outcome:
    """Name the contact person who owns a municipality's task (None: back to the default,
    the municipality's primary contact)."""
    from avtaleflyt.models import Municipality, OnboardingCase, Task

    from .store import latest_case

    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"Fant ingen oppgave med id {task_id}.", field="task_id")
    case = session.get(OnboardingCase, task.case_id)
    m = session.get(Municipality, case.municipality_id)
    latest = latest_case(session, m)
    if latest is None or latest.id != case.id or not CaseStatus(case.status).is_open:
        raise Conflict(f"Oppgave {task_id} hører til en avsluttet sak for {m.name}.")
    if task.done_on is not None:
        raise Conflict(f"Oppgaven «{task.title}» er allerede gjort.")
    if contact_id is not None:
        contact = session.get(ContactPerson, contact_id)
        if contact is None or contact.municipality_id != m.id:
            raise InvalidInput(f"«--contact»: {m.name} har ingen kontaktperson med id "
                               f"{contact_id}. Se «avtaleflyt contact list "
                               f"{m.kommunenummer}».", field="contact")
        if task.responsible != "municipality":
            raise InvalidInput(f"«--contact»: oppgaven «{task.title}» er fylkets ansvar; bare "
                               "kommunens oppgaver kan knyttes til en kontaktperson i kommunen.",
                               field="contact")
    if task.contact_id == contact_id:
        return _outcome(m, case, "Oppgaven hadde allerede denne ansvarlige; ingen endring.",
                        changed=False)
    task.contact_id = contact_id
    session.add(task)
    add_events(session, m, case, [NewEvent("task_assigned", ctx.today,
                                           {"task_id": task.id, "title": task.title,
                                            "contact_id": contact_id})], ctx)
    commit_case(session, case)
    return _outcome(m, case, f"Oppgaven «{task.title}» har fått ny ansvarlig.")
