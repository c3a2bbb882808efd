"""Personal access tokens for the JSON API: create, list, revoke, and look up the user.

A token is `avt_` followed by 43 random URL-safe characters. Only its SHA-256 is stored, so
a copy of the database gives no access; the plain token is returned once, when it is made.
A token acts as its user with the user's county scope, and stops working when it is revoked,
when it expires, or while its user is disabled. Nothing here imports Prefect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.text import check_text
from avtaleflyt.models import ApiToken, County, User, utcnow

from .users import UserView, find_user

PREFIX = "avt_"
MAX_DAYS = 3650
# last_used_at is written at most this often per token: a busy script should not turn
# every read into a write.
_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    username: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self, now: datetime) -> dict[str, Any]:
        iso = lambda v: v.isoformat() if v else None  # noqa: E731
        return {"id": self.id, "name": self.name, "user": self.username,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at),
                "state": self.state(now)}


def hash_token(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _view(t: ApiToken, username: str) -> TokenView:
    return TokenView(t.id, t.name, username, t.created_at, t.expires_at, t.last_used_at,
                     t.revoked_at)


def check_name(name: str) -> str:
    return check_text(name, "name", 80, label="«NAVN»")


def check_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"«--expires» må være et antall dager mellom 1 og {MAX_DAYS}.",
                           field="expires")
    return days


def create_token(*, session: Session, name: str, username: str, expires_days: int | None = None,
                 now: datetime | None = None) -> tuple[TokenView, str]:
    """A new token for the user; returns it and the plain token (shown once, never stored).
    A name is unique among the user's tokens that still work."""
    name = check_name(name)
    check_days(expires_days)
    now = now or utcnow()
    user = find_user(session, username)
    if not user.active:
        raise Conflict(f"Brukeren «{user.username}» er deaktivert; et token for den ville "
                       "ikke virke.", field="username")
    clash = session.exec(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.name == name,
        col(ApiToken.revoked_at).is_(None))).first()
    if clash is not None and clash.expires_at is not None and clash.expires_at <= now:
        clash = None  # an expired token's name may be used again
    if clash is not None:
        raise Conflict(f"Brukeren «{user.username}» har allerede et token som heter «{name}» "
                       f"(id {clash.id}). Velg et annet navn, eller trekk det tilbake med "
                       f"«avtaleflyt token revoke {clash.id}».", field="name")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain), created_at=now,
                   expires_at=now + timedelta(days=expires_days) if expires_days else None)
    session.add(row)
    session.commit()
    return _view(row, user.username), plain


def list_tokens(*, session: Session, username: str | None = None) -> list[TokenView]:
    query = (select(ApiToken, User.username).join(User, col(User.id) == ApiToken.user_id)
             .order_by(col(ApiToken.id)))
    if username is not None:
        query = query.where(User.id == find_user(session, username).id)
    return [_view(t, u) for t, u in session.exec(query).all()]


def revoke_token(*, session: Session, which: str, username: str | None = None,
                 now: datetime | None = None) -> TokenView:
    """Revoke a token by its id, or by its name (among tokens not yet revoked; `username`
    narrows a name shared by several users' tokens). Revoking twice changes nothing."""
    which = (which or "").strip()
    query = select(ApiToken, User.username).join(User, col(User.id) == ApiToken.user_id)
    if which.isdigit():
        rows = session.exec(query.where(ApiToken.id == int(which))).all()
    else:
        query = query.where(ApiToken.name == which, col(ApiToken.revoked_at).is_(None))
        if username is not None:
            query = query.where(User.id == find_user(session, username).id)
        rows = session.exec(query).all()
    if not rows:
        raise NotFound(f"Fant ikke tokenet «{which}». Se «avtaleflyt token list».",
                       field="token")
    if len(rows) > 1:
        ids = ", ".join(str(t.id) for t, _ in rows)
        raise Conflict(f"Flere token heter «{which}» (id {ids}). Oppgi id-en, eller "
                       "«--user».", field="token")
    token, owner = rows[0]
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.add(token)
        session.commit()
    return _view(token, owner)


def user_for_token(*, session: Session, token: str, now: datetime | None = None
                   ) -> UserView | None:
    """The active user whose token this is, if the token is known, not revoked and not
    expired; else None (which of these it was is not told)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = now or utcnow()
    row = session.exec(
        select(ApiToken, User).join(User, col(User.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), col(ApiToken.revoked_at).is_(None),
               col(User.active).is_(True))).first()
    if row is None:
        return None
    t, user = row
    if t.expires_at is not None and t.expires_at <= now:
        return None
    if t.last_used_at is None or now - t.last_used_at >= _TOUCH_EVERY:
        t.last_used_at = now
        session.add(t)
        session.commit()
    county = session.get(County, user.county_id) if user.county_id is not None else None
    return UserView(user.id, user.username, user.active, user.created_at, False,
                    county.id if county else None, county.code if county else None,
                    county.name if county else None)
