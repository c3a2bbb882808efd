"""Server-side dashboard sessions and the login throttle. Nothing here imports Prefect.

A session is a row in `user_session`; the browser's cookie holds only a random token and the
row only the token's SHA-256, so neither a copy of the database nor a log line lets anyone
in. A session is valid while it is not revoked, not past `expires_at` (the absolute
lifetime), not idle longer than the configured minutes, and its user is active. Sessions
use the real clock, never the business date (`--today`).

The login throttle counts failed attempts in `login_attempt` (shared by every dashboard
node using the database): too many for one user name, or from one address, within the
window, and further attempts are refused without checking the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from avtaleflyt.config import DashboardRules
from avtaleflyt.models import LoginAttempt, User, UserSession, utcnow

from .users import UserView, _county_of, _view, find_user

log = logging.getLogger("avtaleflyt.auth")

# last_seen_at is written at most this often, so a busy page does not write on every request.
TOUCH_EVERY = timedelta(seconds=30)
# Login attempts older than this are deleted when new ones are recorded.
KEEP_ATTEMPTS = timedelta(days=90)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(token: str) -> str:
    """The CSRF token of a session: derived from the session's secret token, so it needs no
    storage, changes with every login and dies with the session. Knowing the stored hash
    does not give it."""
    digest = hmac.new(token.encode(), b"avtaleflyt-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # as token_urlsafe(32)


def start_session(*, session: Session, user: UserView, rules: DashboardRules,
                  user_agent: str | None = None, address: str | None = None) -> str:
    """A new session for the user; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserSession(user_id=user.id, token_hash=hash_token(token), created_at=now,
                            last_seen_at=now,
                            expires_at=now + timedelta(hours=rules.session_max_hours),
                            user_agent=(user_agent or "")[:200] or None,
                            address=(address or "")[:64] or None))
    session.commit()
    return token


def _valid(now: datetime, rules: DashboardRules):
    """Conditions of a session that still works, as of `now`."""
    return (col(UserSession.revoked_at).is_(None), col(UserSession.expires_at) > now,
            col(UserSession.last_seen_at) > now - timedelta(minutes=rules.session_idle_minutes),
            col(User.active).is_(True))


def user_for_session(*, session: Session, token: str, rules: DashboardRules
                     ) -> UserView | None:
    """The active user of a valid session with this token, else None. Marks it as seen."""
    if not token:
        return None
    now = utcnow()
    row = session.exec(
        select(UserSession, User).join(User, col(User.id) == UserSession.user_id)
        .where(UserSession.token_hash == hash_token(token), *_valid(now, rules))).first()
    if row is None:
        return None
    us, user = row
    if now - us.last_seen_at >= TOUCH_EVERY:
        us.last_seen_at = now
        session.add(us)
        session.commit()
    return _view(user, county=_county_of(session, user))


def revoke_token(*, session: Session, token: str) -> bool:
    """End the session with this token (logout). True if one was still open."""
    done = session.execute(
        update(UserSession).where(col(UserSession.token_hash) == hash_token(token or ""),
                                  col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow()))
    session.commit()
    return done.rowcount > 0


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every open session of a user (the caller commits)."""
    done = session.execute(
        update(UserSession).where(col(UserSession.user_id) == user_id,
                                  col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow()))
    return done.rowcount


@dataclass(frozen=True)
class SessionView:
    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the earlier of the absolute end and the idle end
    user_agent: str | None
    address: str | None


def active_sessions(*, session: Session, username: str, rules: DashboardRules
                    ) -> list[SessionView]:
    """The user's sessions that still work, oldest first. Never the token."""
    user = find_user(session, username)
    now = utcnow()
    idle = timedelta(minutes=rules.session_idle_minutes)
    rows = session.exec(
        select(UserSession).join(User, col(User.id) == UserSession.user_id)
        .where(UserSession.user_id == user.id, *_valid(now, rules))
        .order_by(col(UserSession.created_at), col(UserSession.id))).all()
    return [SessionView(r.id, r.created_at, r.last_seen_at,
                        min(r.expires_at, r.last_seen_at + idle), r.user_agent, r.address)
            for r in rows]


def revoke_sessions(*, session: Session, username: str) -> int:
    """End every session of the user (`user sessions NAME --revoke`)."""
    user = find_user(session, username)
    n = revoke_user_sessions(session, user.id)
    session.commit()
    return n


# --- the login throttle -------------------------------------------------------------------

def attempt_name(username: str) -> str:
    return (username or "").strip().lower()[:80]


def throttled_until(*, session: Session, username: str, address: str, rules: DashboardRules
                    ) -> datetime | None:
    """When a login for this name from this address may be tried again, or None if now.

    Failures count within the window; for a name, only those after its latest successful
    login (a success proves the password, so it ends that name's run of failures). Refused
    (throttled) attempts do not count. The wait grows: the first run of failures waits one
    window, and every further run of `max` failures within a day doubles it (15, 30, 60
    minutes …, at most 24 hours), so guessing slows down instead of going on at a steady
    5 attempts per window."""
    now = utcnow()
    window = timedelta(minutes=rules.login_window_minutes)
    since, day = now - window, now - timedelta(hours=24)
    name = attempt_name(username)
    last_ok = session.exec(
        select(func.max(LoginAttempt.attempted_at))
        .where(LoginAttempt.username == name, LoginAttempt.outcome == "success",
               col(LoginAttempt.attempted_at) > day)).one()
    until = None
    for who, start in ((LoginAttempt.username == name, max(day, last_ok or day)),
                       (LoginAttempt.address == address, day)):
        times = session.exec(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.outcome == "failure", who,
                   col(LoginAttempt.attempted_at) > max(since, start))
            .order_by(col(LoginAttempt.attempted_at).desc())
            .limit(rules.login_max_failures)).all()
        if len(times) >= rules.login_max_failures:
            failures_today = session.exec(
                select(func.count()).select_from(LoginAttempt)
                .where(LoginAttempt.outcome == "failure", who,
                       col(LoginAttempt.attempted_at) > start)).one()
            rounds = max(0, failures_today // rules.login_max_failures - 1)
            # Free again when the oldest of the last `max` failures is a (grown) window old.
            free = min(times) + min(window * 2 ** min(rounds, 10), timedelta(hours=24))
            until = free if until is None else max(until, free)
    return until


def record_attempt(*, session: Session, username: str, address: str, outcome: str) -> None:
    """Keep the attempt for the throttle and log it (name, address, outcome; no password)."""
    now = utcnow()
    session.add(LoginAttempt(username=attempt_name(username), address=address[:64],
                             outcome=outcome, attempted_at=now))
    session.execute(delete(LoginAttempt).where(
        col(LoginAttempt.attempted_at) < now - KEEP_ATTEMPTS))
    session.commit()
    level = logging.INFO if outcome == "success" else logging.WARNING
    # %r quotes the typed name, so a name with a line break cannot forge a log line.
    log.log(level, "login %s: username=%r address=%s", outcome, attempt_name(username),
            address)
