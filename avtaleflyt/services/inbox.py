"""The command inbox: a command's input is stored here before its flow runs, and the flow
gets only the command's id. Prefect keeps flow parameters forever and shows them to anyone
who can reach its API; the input (free text as `personal_text` ids) and the acting user
stay in the application database.

Idempotency: each command carries a key (the CLI makes one per invocation unless given
`--idempotency-key`, the dashboard one per rendered form). A second submission with a key
that is done returns the first result and writes nothing. The service's change and the
row's move to `applied` are committed together, so a flow re-run never applies a command
twice. Nothing here imports Prefect.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from avtaleflyt.models import Command, PersonalText, utcnow

from . import texts

PENDING, APPLIED, DONE, REFUSED = "pending", "applied", "done", "refused"
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
# Which parameters of a command are free text, and what kind of text they are.
FREE_TEXT = {"add_note": {"text": "note"}, "change_status": {"reason": "reason"},
             "record_fact": {"situation": "situation"}}
# …and the payload key that holds its `personal_text` id.
TEXT_ID_KEYS = {"text": "text_id", "reason": "reason_text_id",
                "situation": "situation_text_id"}


def new_key() -> str:
    return uuid.uuid4().hex


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        return new_key()
    key = key.strip()
    if not _KEY.match(key):
        raise InvalidInput("«--idempotency-key» må være 8–80 tegn: bokstaver a–z, sifre, "
                           "bindestrek, understrek, punktum eller kolon.",
                           field="idempotency_key")
    return key


@dataclass
class Submitted:
    id: int
    key: str
    result: dict[str, Any] | None  # set when the key's command is already done


def _same_target(cmd: Command, kind: str, payload: dict[str, Any]) -> bool:
    return cmd.kind == kind and all(cmd.payload.get(k) == payload.get(k)
                                    for k in ("kommunenummer", "task_id"))


def submit(*, session: Session, key: str | None, kind: str, actor: str,
           params: dict[str, Any]) -> Submitted:
    """Store a command (its free text in `personal_text`) and return its id; or, for a key
    already done, its stored result."""
    key = check_key(key)
    free = FREE_TEXT.get(kind, {})
    payload = {k: _plain(v) for k, v in params.items() if k not in free}
    existing = session.exec(select(Command).where(Command.idempotency_key == key)).first()
    if existing is not None:
        if not _same_target(existing, kind, payload):
            raise Conflict("«--idempotency-key» er allerede brukt for en annen kommando. "
                           "Bruk en ny nøkkel.", field="idempotency_key")
        if existing.status == DONE:
            return Submitted(existing.id, key, existing.result)
        if existing.status in (PENDING, APPLIED):
            return Submitted(existing.id, key, None)  # finish what was started
    cleaned = {field: texts.clean(params.get(field), tkind, required=tkind == "note")
               for field, tkind in free.items()}
    if any(v is not None for v in cleaned.values()):
        from .store import get_municipality, latest_case

        m = get_municipality(session, params["kommunenummer"])
        case = latest_case(session, m)
        for field, tkind in free.items():
            if cleaned[field] is not None:
                row = texts.store(session, municipality_id=m.id,
                                  case_id=case.id if case else None, kind=tkind,
                                  text=cleaned[field])
                payload[TEXT_ID_KEYS[field]] = row.id
    if existing is not None:  # refused before: the same key may try again, with this input
        existing.payload, existing.status, existing.result = payload, PENDING, None
        existing.actor, existing.finished_at = actor, None
        session.add(existing)
        session.commit()
        return Submitted(existing.id, key, None)
    cmd = Command(idempotency_key=key, kind=kind, actor=actor, payload=payload, status=PENDING)
    session.add(cmd)
    try:
        session.commit()
    except IntegrityError:  # the same key submitted at the same moment: use that one
        session.rollback()
        return submit(session=session, key=key, kind=kind, actor=actor, params=params)
    return Submitted(cmd.id, key, None)


def status_of(session: Session, key: str) -> str | None:
    """The status of the command with this key, or None if there is none."""
    return session.exec(select(Command.status).where(Command.idempotency_key == key)).first()


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def load(session: Session, command_id: int) -> Command:
    cmd = session.get(Command, command_id)
    if cmd is None:
        raise NotFound(f"Fant ingen kommando med id {command_id}.", field="command_id")
    return cmd


def mark_applied(session: Session, cmd: Command, partial: dict[str, Any]) -> None:
    cmd.status, cmd.result = APPLIED, partial
    session.add(cmd)
    session.commit()


def mark_done(session: Session, command_id: int, result: dict[str, Any]) -> None:
    cmd = load(session, command_id)
    cmd.status, cmd.result, cmd.finished_at = DONE, result, utcnow()
    session.add(cmd)
    session.commit()


def mark_refused(session: Session, command_id: int, error: DomainError) -> None:
    """The domain said no: nothing was written, and nothing of the command stays either —
    bad input changes nothing, not even the inbox. The command row and its texts (no note or
    event refers to them) are deleted, so the key may be used again with corrected input.
    The refusal itself is the flow run's failed state and the user's message."""
    cmd = load(session, command_id)
    text_keys = set(TEXT_ID_KEYS.values())
    for k, v in cmd.payload.items():
        if k in text_keys and v is not None:
            row = session.get(PersonalText, v)
            if row is not None:
                session.delete(row)
    session.delete(cmd)
    session.commit()
