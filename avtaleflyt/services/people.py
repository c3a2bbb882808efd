"""Contact persons and experience notes: facts about a municipality that are not stage facts."""

from __future__ import annotations

import re
from datetime import date

from pathlib import Path

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain import machine
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound, ref
from avtaleflyt.domain.text import check_text
from avtaleflyt.domain.machine import NewEvent
from avtaleflyt.domain.stages import CaseStatus, Theme
from avtaleflyt.models import ContactPerson, ExperienceNote, Municipality, Task

from .cases import Outcome, _outcome
from .context import Ctx
from .scope import EVERYWHERE, Scope
from .store import add_events, commit_case, get_case, get_municipality

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[0-9 ]{5,20}$")


def _text(value: str | None, field: str, limit: int, *, required: bool = True,
          multiline: bool = False) -> str | None:
    return check_text(value, field, limit, required=required, multiline=multiline)


def _check_email(email: str | None) -> str:
    email = _text(email, "email", 254)
    if not _EMAIL.match(email):
        raise InvalidInput(f"{ref('email')}: «{email}» er ikke en gyldig e-postadresse.",
                           field="email")
    return email


def _check_phone(phone: str | None) -> str | None:
    phone = _text(phone, "phone", 40, required=False)
    if phone and not _PHONE.match(phone):
        raise InvalidInput(f"{ref('phone')}: «{phone}» er ikke et gyldig telefonnummer.",
                           field="phone")
    return phone


def _duplicate_email(m: Municipality, email: str) -> Conflict:
    return Conflict(f"{ref('email')}: {m.name} har allerede en kontaktperson med e-post {email}.",
                    field="email")


def _unique_violation(e: IntegrityError, m: Municipality, email: str) -> Conflict:
    """The database's unique indexes decide a race the service's own check could not see."""
    text = str(e.orig)
    if "uq_contact_person_primary" in text or "is_primary" in text:
        return Conflict(f"{ref('primary')}: {m.name} fikk en annen primærkontakt samtidig. "
                        "Ingenting ble lagret; prøv igjen.", field="primary")
    return _duplicate_email(m, email)


def _unmark_primary(session: Session, m: Municipality, except_id: int | None) -> None:
    for c in session.exec(select(ContactPerson).where(
            ContactPerson.municipality_id == m.id, col(ContactPerson.is_primary))).all():
        if c.id != except_id:
            c.is_primary = False
            session.add(c)
    session.flush()  # the old primary is unmarked before the new one is marked


def add_contact(*, session: Session, kommunenummer: str, name: str, role: str, email: str,
                phone: str | None, primary: bool, ctx: Ctx) -> Outcome:
    m = get_municipality(session, kommunenummer)
    name = _text(name, "name", 200)
    role = _text(role, "role", 200)
    email = _check_email(email)
    phone = _check_phone(phone)
    existing = session.exec(select(ContactPerson).where(
        ContactPerson.municipality_id == m.id)).all()
    if any(c.email.lower() == email.lower() for c in existing):
        raise _duplicate_email(m, email)
    try:
        if primary:
            _unmark_primary(session, m, None)
        contact = ContactPerson(municipality_id=m.id, name=name, role=role, email=email,
                                phone=phone, is_primary=primary or not existing)
        session.add(contact)
        session.flush()
        # The event names the contact by id only: personal data stays in one place.
        add_events(session, m, None, [NewEvent(EventKind.CONTACT_ADDED, ctx.today,
                                               {"contact_id": contact.id,
                                                "primary": contact.is_primary})], ctx)
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise _unique_violation(e, m, email) from None
    out = Outcome(m.kommunenummer, m.name, f"Kontaktperson lagt til for {m.name}.")
    return out


def _contact_in_scope(session: Session, contact_id: int, scope: Scope,
                      kommunenummer: str | None = None) -> tuple[ContactPerson, Municipality]:
    """The contact, if it belongs to a municipality in `scope` (and to `kommunenummer` when
    given): otherwise "not found", the same answer as for an id that does not exist."""
    from .store import MAX_ID

    contact = session.get(ContactPerson, contact_id) if 0 < contact_id <= MAX_ID else None
    m = session.get(Municipality, contact.municipality_id) if contact else None
    if (contact is None or m is None or not scope.allows(m.county_id)
            or (kommunenummer is not None and m.kommunenummer != kommunenummer)):
        raise NotFound(f"Fant ingen kontaktperson med id {contact_id}.", field="contact_id")
    return contact, m


def edit_contact(*, session: Session, contact_id: int, ctx: Ctx, name: str | None = None,
                 role: str | None = None, email: str | None = None, phone: str | None = None,
                 primary: bool | None = None, scope: Scope = EVERYWHERE,
                 kommunenummer: str | None = None) -> Outcome:
    """Correct a contact person's data (only the fields given; phone "" removes the number).
    `primary=True` makes the contact the municipality's primary contact and unmarks the old
    one in the same transaction. The event records which fields changed, never their values."""
    contact, m = _contact_in_scope(session, contact_id, scope, kommunenummer)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _text(name, "name", 200)
    if role is not None:
        changes["role"] = _text(role, "role", 200)
    if email is not None:
        changes["email"] = _check_email(email)
    if phone is not None:
        changes["phone"] = _check_phone(phone)
    if primary is not None:
        changes["is_primary"] = primary
    changed = sorted(k for k, v in changes.items() if getattr(contact, k) != v)
    if not changed:
        return Outcome(m.kommunenummer, m.name, "Ingen endring: kontaktpersonen hadde allerede "
                       "disse opplysningene.", changed=False)
    new_email = changes.get("email", contact.email)
    if "email" in changed and session.exec(select(ContactPerson.id).where(
            ContactPerson.municipality_id == m.id, ContactPerson.id != contact.id,
            func.lower(ContactPerson.email) == str(new_email).lower())).first() is not None:
        raise _duplicate_email(m, str(new_email))
    try:
        if changes.get("is_primary") is True:
            _unmark_primary(session, m, contact.id)
        for k in changed:
            setattr(contact, k, changes[k])
        session.add(contact)
        add_events(session, m, None, [NewEvent(EventKind.CONTACT_CHANGED, ctx.today,
                                               {"contact_id": contact.id,
                                                "fields": changed})], ctx)
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise _unique_violation(e, m, str(new_email)) from None
    return Outcome(m.kommunenummer, m.name, f"Kontaktpersonen i {m.name} er rettet.")


def erase_contact(*, session: Session, contact_id: int, ctx: Ctx, scope: Scope = EVERYWHERE,
                  kommunenummer: str | None = None, documents: Path | None = None) -> Outcome:
    """Erase a contact person everywhere their data was copied (GDPR art. 17).

    - tasks assigned to them go back to the default owner (`contact_id` cleared);
    - the contact's undigested reminders are dropped and unsent digests to them given up;
    - the name, e-mail and phone are blanked out («[slettet]») of every stored digest
      (title, text, HTML, error) and delivery error, and of every stored document of the
      municipality and its county (see `privacy.redact_documents`);
    - the row is deleted, and a tombstone event `contact_erased` records the id only.
    Events never held the data (they name contacts by id), so the append-only history
    needs no change. Everything, the documents' bytes included, is one transaction.
    """
    from .privacy import redact_documents, redact_outbox

    contact, m = _contact_in_scope(session, contact_id, scope, kommunenummer)
    values = [v for v in (contact.name, contact.email, contact.phone) if v]
    tasks = session.exec(select(Task).where(Task.contact_id == contact.id)).all()
    for t in tasks:
        t.contact_id = None
        session.add(t)
    redact_outbox(session, contact.id, values)
    redact_documents(session, m, values, documents)
    session.delete(contact)
    session.flush()
    add_events(session, m, None, [NewEvent(EventKind.CONTACT_ERASED, ctx.today,
                                           {"contact_id": contact_id})], ctx)
    session.commit()
    from avtaleflyt.db import forget_freed_pages

    forget_freed_pages(session)
    return Outcome(m.kommunenummer, m.name, f"Kontaktpersonen (id {contact_id}) er slettet fra "
                   f"{m.name}, også fra lagrede dokumenter og meldinger.")


def check_note_date(case, on: date, ctx: Ctx) -> None:
    """A note is dated between the case's opening and today (preflight asks this too)."""
    machine.check_not_future(on, ctx.today)
    if on < case.opened_on:
        raise InvalidInput(f"Datoen {machine.fmt(on)} er før saken ble åpnet "
                           f"({machine.fmt(case.opened_on)}).", field="date")


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
    check_note_date(case, on, ctx)
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
    add_events(session, m, case, [NewEvent(EventKind.NOTE_ADDED, on, {
        "note_id": note.id, "theme": theme.value, **({"shared": True} if shared else {})})], ctx)
    commit_case(session, case)
    delt = ", delt med andre fylker" if shared else ""
    return _outcome(m, case, f"Erfaringsnotat lagt til for {m.name} ({theme.label}{delt}).")


def assign_task(*, session: Session, task_id: int, contact_id: int | None, ctx: Ctx) -> Outcome:
    """Name the contact person who owns a municipality's task (None: back to the default,
    the municipality's primary contact)."""
    from avtaleflyt.models import OnboardingCase

    from .store import latest_case

    from .store import get_task

    task = get_task(session, task_id)
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
            raise InvalidInput(f"{ref('contact')}: {m.name} har ingen kontaktperson med id "
                               f"{contact_id}. Se «avtaleflyt contact list "
                               f"{m.kommunenummer}».", field="contact")
        if task.responsible != "municipality":
            raise InvalidInput(f"{ref('contact')}: oppgaven «{task.title}» er fylkets ansvar; bare "
                               "kommunens oppgaver kan knyttes til en kontaktperson i kommunen.",
                               field="contact")
    if task.contact_id == contact_id:
        return _outcome(m, case, "Oppgaven hadde allerede denne ansvarlige; ingen endring.",
                        changed=False)
    task.contact_id = contact_id
    session.add(task)
    add_events(session, m, case, [NewEvent(EventKind.TASK_ASSIGNED, ctx.today,
                                           {"task_id": task.id, "title": task.title,
                                            "contact_id": contact_id})], ctx)
    commit_case(session, case)
    return _outcome(m, case, f"Oppgaven «{task.title}» har fått ny ansvarlig.")
