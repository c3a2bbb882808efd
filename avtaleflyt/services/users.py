"""Dashboard users and calendar feed tokens: create, authenticate, issue and revoke.

Passwords are stored as Argon2 hashes (pwdlib); feed tokens as SHA-256 digests, so a copy
of the database gives away neither. Nothing here imports Prefect.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from pwdlib import PasswordHash
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.models import County, FeedToken, User, utcnow

from .scope import Scope, county_by_code

_USERNAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._@-]{1,79}$")
MIN_PASSWORD = 10
_hasher = PasswordHash.recommended()
# Verifying against this when the user does not exist keeps the time of a failed login
# the same whether or not the name is known.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    active: bool
    created_at: datetime
    has_feed: bool = False
    county_id: int | None = None  # None: a national user
    county_code: str | None = None
    county_name: str | None = None

    @property
    def scope(self) -> Scope:
        """What the user may see: their county's cases, or every county's if national."""
        return Scope(self.county_id, self.county_code, self.county_name)


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise InvalidInput("«brukernavn» må være 2–80 tegn: bokstaver a–z, sifre og . _ @ -, "
                           f"ikke «{username}».", field="username")
    return username


def _county_choice(session: Session, county: str | None, national: bool) -> County | None:
    """Exactly one of a county (`--county NR`) or `--national`: nobody becomes a national
    user by leaving out an option."""
    if national and county:
        raise InvalidInput("Velg enten «--county» eller «--national», ikke begge.",
                           field="--county")
    if not national and not county:
        raise InvalidInput("Oppgi fylket brukeren hører til («--county NR», for eksempel 18 "
                           "for Nordland), eller «--national» for en bruker som ser alle "
                           "fylker.", field="--county")
    return None if national else county_by_code(session, county, "--county")


def check_county_choice(*, session: Session, county: str | None, national: bool) -> None:
    _county_choice(session, county, national)


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"«passord» må ha minst {MIN_PASSWORD} tegn.", field="password")
    return password


def _same_name(username: str):
    """Names are compared without regard to case ("KARI" is "kari")."""
    return func.lower(User.username) == (username or "").strip().lower()


def _exists(session: Session, username: str) -> Conflict | None:
    other = session.exec(select(User).where(_same_name(username))).first()
    if other is None:
        return None
    if other.username == username:
        return Conflict(f"Brukeren «{username}» finnes allerede.", field="username")
    return Conflict(f"Brukeren «{other.username}» finnes allerede; store og små bokstaver "
                    f"regnes som like, så «{username}» kan ikke også brukes.", field="username")


def create_user(*, session: Session, username: str, password: str,
                county: str | None = None, national: bool = False) -> UserView:
    username = check_username(username)
    home = _county_choice(session, county, national)
    check_password(password)
    if (taken := _exists(session, username)) is not None:
        raise taken
    user = User(username=username, password_hash=_hasher.hash(password),
                county_id=home.id if home else None)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created by someone else at the same moment
        session.rollback()
        raise _exists(session, username) or Conflict(
            f"Brukeren «{username}» finnes allerede.", field="username") from None
    return _view(user, county=home)


def set_active(*, session: Session, username: str, active: bool) -> tuple[UserView, int]:
    """Enable or disable a user. Disabling ends every session at once (and the calendar
    feed stops answering while the user is disabled); enabling revives no old session.
    Returns the user and how many sessions were ended."""
    from .sessions import revoke_user_sessions

    user = _get(session, username)
    user.active = active
    session.add(user)
    ended = 0 if active else revoke_user_sessions(session, user.id)
    session.commit()
    return _view(user, county=_county_of(session, user)), ended


def set_password(*, session: Session, username: str, password: str) -> tuple[UserView, int]:
    """A new password for the user; every session of theirs ends (log in again with the
    new one). Returns the user and how many sessions were ended."""
    from .sessions import revoke_user_sessions

    check_password(password)
    user = _get(session, username)
    user.password_hash = _hasher.hash(password)
    session.add(user)
    ended = revoke_user_sessions(session, user.id)
    session.commit()
    return _view(user, county=_county_of(session, user)), ended


def set_county(*, session: Session, username: str, county: str | None = None,
               national: bool = False) -> UserView:
    """Move a user to another county, or make them national (or no longer national)."""
    home = _county_choice(session, county, national)
    user = _get(session, username)
    user.county_id = home.id if home else None
    session.add(user)
    session.commit()
    return _view(user, county=home)


def authenticate(*, session: Session, username: str, password: str) -> UserView | None:
    """The user if the name and password match an active user, else None."""
    user = session.exec(select(User).where(_same_name(username))).first()
    if user is None:
        _hasher.verify(password or "", _DUMMY_HASH)
        return None
    ok, new_hash = _hasher.verify_and_update(password or "", user.password_hash)
    if not ok or not user.active:
        return None
    if new_hash is not None:  # parameters got stronger since the hash was made
        user.password_hash = new_hash
        session.add(user)
        session.commit()
    return _view(user, county=_county_of(session, user))


def active_user(*, session: Session, user_id: int) -> UserView | None:
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return _view(user, county=_county_of(session, user))


def list_users(*, session: Session) -> list[UserView]:
    with_feed = set(session.exec(select(FeedToken.user_id)
                                 .where(col(FeedToken.revoked_at).is_(None))).all())
    counties = {c.id: c for c in session.exec(select(County)).all()}
    users = session.exec(select(User).order_by(col(User.username))).all()
    return [_view(u, u.id in with_feed, counties.get(u.county_id)) for u in users]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(session: Session, username: str) -> User:
    """The user with this name (any case), or NotFound naming it."""
    return _get(session, username)


def _get(session: Session, username: str) -> User:
    user = session.exec(select(User).where(_same_name(username))).first()
    if user is None:
        raise NotFound(f"Fant ingen bruker «{username}». Se «avtaleflyt user list».",
                       field="username")
    return user


def _revoke_all(session: Session, user: User) -> int:
    tokens = session.exec(select(FeedToken).where(FeedToken.user_id == user.id,
                                                  col(FeedToken.revoked_at).is_(None))).all()
    now = utcnow()
    for t in tokens:
        t.revoked_at = now
        session.add(t)
    return len(tokens)


def issue_feed_token(*, session: Session, username: str) -> str:
    """A new secret feed token for the user; earlier ones stop working. Shown once."""
    user = _get(session, username)
    _revoke_all(session, user)
    token = secrets.token_urlsafe(32)
    session.add(FeedToken(user_id=user.id, token_hash=_hash_token(token)))
    session.commit()
    return token


def revoke_feed_tokens(*, session: Session, username: str) -> int:
    user = _get(session, username)
    n = _revoke_all(session, user)
    session.commit()
    return n


@dataclass(frozen=True)
class FeedView:
    """An active feed address as its owner may see it again: when it was made, never the
    token (only its hash is stored)."""

    id: int
    created_at: datetime


def active_feeds(*, session: Session, user_id: int) -> list[FeedView]:
    """The user's feed addresses that still answer, newest first."""
    rows = session.exec(select(FeedToken).where(FeedToken.user_id == user_id,
                                                col(FeedToken.revoked_at).is_(None))
                        .order_by(col(FeedToken.created_at).desc(), col(FeedToken.id).desc())
                        ).all()
    return [FeedView(t.id, t.created_at) for t in rows]


def revoke_feed(*, session: Session, user_id: int, feed_id: int) -> None:
    """Turn off one of the user's own feed addresses. Another user's, an unknown or an
    already revoked one is NotFound: nobody learns which ids exist."""
    token = session.get(FeedToken, feed_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFound("Fant ingen aktiv kalenderadresse med den id-en. Den kan allerede "
                       "være slått av.", field="feed_id")
    token.revoked_at = utcnow()
    session.add(token)
    session.commit()


def user_for_feed_token(*, session: Session, token: str) -> UserView | None:
    row = session.exec(
        select(User).join(FeedToken, col(FeedToken.user_id) == User.id)
        .where(FeedToken.token_hash == _hash_token(token or ""),
               col(FeedToken.revoked_at).is_(None), col(User.active).is_(True))).first()
    return _view(row, county=_county_of(session, row)) if row is not None else None


def _county_of(session: Session, user: User) -> County | None:
    return session.get(County, user.county_id) if user.county_id is not None else None


def _view(u: User, has_feed: bool = False, county: County | None = None) -> UserView:
    return UserView(u.id, u.username, u.active, u.created_at, has_feed,
                    county.id if county else None, county.code if county else None,
                    county.name if county else None)
