"""`serve`'s local token: the CLI on the same machine and data directory sends its commands
to the running server with it (avtaleflyt/client.py, "serve discovery").

The token belongs to the installation's CLI user: the app user named as the OS login (what
the in-process CLI records as the author). If no such user exists, serve makes one, national
(the in-process CLI sees every county) with a random password nobody knows, so it cannot log
in to the dashboard until an operator sets one (`avtaleflyt user password`). A disabled user
gets no token: the CLI then runs in-process. Each start revokes the previous local tokens
(of this machine) and makes a new one; serve revokes it again when it stops.
"""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, select

from avtaleflyt.domain.errors import InvalidInput, NotFound
from avtaleflyt.models import ApiToken, User, utcnow

from . import tokens, users

TOKEN_NAME = "serve-lokal-cli"


def token_name() -> str:
    """One name per machine: serve on another machine against the same database keeps its
    own local token."""
    import socket

    return f"{TOKEN_NAME} {socket.gethostname()}"[:80]


def issue(*, session: Session, username: str) -> tuple[str, bool] | None:
    """A new local token for `username` (the previous ones revoked), and whether the user
    was made now; None when there is no usable user of that name."""
    try:
        users.check_username(username)
    except InvalidInput:
        return None
    created = False
    try:
        user = users.find_user(session, username)
    except NotFound:
        users.create_user(session=session, username=username,
                          password=secrets.token_urlsafe(32), national=True)
        user = users.find_user(session, username)
        created = True
    if not user.active:
        return None
    revoke(session=session, username=user.username)
    _, plain = tokens.create_token(session=session, name=token_name(),
                                   username=user.username)
    return plain, created


def is_local(*, session: Session, token: str) -> bool:
    """Whether `token` is a serve's local token: the in-process CLI's stand-in, which sees
    what the CLI on this machine sees (every note of a case, shared or not)."""
    name = session.exec(select(ApiToken.name).where(
        ApiToken.token_hash == tokens.hash_token(token))).first()
    return name is not None and name.startswith(TOKEN_NAME)


def revoke(*, session: Session, username: str) -> int:
    """Revoke the user's local tokens (serve stopped, or started again)."""
    rows = session.exec(
        select(ApiToken).join(User, col(User.id) == ApiToken.user_id)
        .where(users._same_name(username), ApiToken.name == token_name(),
               col(ApiToken.revoked_at).is_(None))).all()
    now = utcnow()
    for t in rows:
        t.revoked_at = now
        session.add(t)
    session.commit()
    return len(rows)
