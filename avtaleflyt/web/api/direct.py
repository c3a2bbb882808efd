"""Writes that are not commands: contact persons (personal data never goes through a flow)
and stored documents (rendering changes no case). They call their service directly, as the
CLI does, and are made idempotent with the command inbox's table all the same.

With an `Idempotency-Key` the key is claimed first (a `command` row, `pending`, kind
`api:<action>`, no payload — the input may be personal data), the service runs, and the
answer is stored on the row (`done`). The same user sending the same key again gets that
answer and nothing runs; another user's key, or the key of another action, is refused as
the inbox refuses it. A refused write frees its key, as a refused command does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from avtaleflyt import runtime
from avtaleflyt.domain.errors import Conflict
from avtaleflyt.models import Command, utcnow
from avtaleflyt.services import inbox
from avtaleflyt.services.users import UserView

_USED = ("«Idempotency-Key» er allerede brukt for en annen kommando. Bruk en ny nøkkel.")


def once(user: UserView, key: str | None, action: str,
         write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`write()`'s answer with `next_step` (as the CLI adds it) — or, for a key this user
    already used for this action, the first answer."""
    if key is None:
        return _with_next_step(write())
    kind = f"api:{action}"[:40]
    with runtime.session() as s:
        row = s.exec(select(Command).where(Command.idempotency_key == key)).first()
        if row is not None:
            if row.kind != kind or row.actor != user.username:
                raise Conflict(_USED, field="idempotency_key")
            if row.status == inbox.DONE:
                return {**(row.result or {}), "idempotency_key": key}
            raise Conflict("En forespørsel med denne «Idempotency-Key» behandles allerede. "
                           "Vent litt og prøv igjen med samme nøkkel.", field="idempotency_key")
        s.add(Command(idempotency_key=key, kind=kind, actor=user.username, payload={},
                      status=inbox.PENDING))
        try:
            s.commit()
        except IntegrityError:  # the same key at the same moment: that one answers
            s.rollback()
            raise Conflict("En forespørsel med denne «Idempotency-Key» behandles allerede. "
                           "Vent litt og prøv igjen med samme nøkkel.",
                           field="idempotency_key") from None
    try:
        result = _with_next_step(write())
    except BaseException:
        _forget(key)
        raise
    with runtime.session() as s:
        row = s.exec(select(Command).where(Command.idempotency_key == key)).one()
        row.status, row.result, row.finished_at = inbox.DONE, result, utcnow()
        s.add(row)
        s.commit()
    return {**result, "idempotency_key": key}


def _forget(key: str) -> None:
    with runtime.session() as s:
        row = s.exec(select(Command).where(Command.idempotency_key == key)).first()
        if row is not None and row.status == inbox.PENDING:
            s.delete(row)
            s.commit()


def _with_next_step(result: dict[str, Any]) -> dict[str, Any]:
    from avtaleflyt.cli.output import _add_next_step

    _add_next_step(result)
    return result
