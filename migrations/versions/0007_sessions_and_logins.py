"""sessions and logins: server-side dashboard sessions, login attempts, case-insensitive names

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

- `user_session`: one row per dashboard login; the cookie holds a random token, only its
  SHA-256 is stored here. Logout, disabling a user and a password change revoke rows.
- `login_attempt`: every login attempt (never the password), for the login throttle, which
  must hold across dashboard nodes sharing the database.
- `app_user`: a unique index on lower(username), so "Kari" and "kari" cannot both exist.

A database that already has two names differing only by case is **refused** (nothing is
changed, the message names them and says how to fix it) rather than renamed: a silent
rename would change somebody's login name, and which of the two is the "real" one is a
decision for whoever runs the installation. Existing rows are kept as they are.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _refuse_case_duplicates() -> None:
    rows = op.get_bind().execute(sa.text(
        "SELECT id, username FROM app_user WHERE lower(username) IN ("
        " SELECT lower(username) FROM app_user GROUP BY lower(username) HAVING COUNT(*) > 1)"
        " ORDER BY lower(username), id")).all()
    if not rows:
        return
    from avtaleflyt.domain.errors import Conflict

    groups: dict[str, list[str]] = {}
    for _id, name in rows:
        groups.setdefault(name.lower(), []).append(f"«{name}» (id {_id})")
    listed = "; ".join(" og ".join(names) for names in groups.values())
    first_id, first_name = rows[1]
    raise Conflict(
        "Databasen kan ikke oppgraderes: brukernavn skal være unike uten hensyn til store og "
        f"små bokstaver, men disse skiller seg bare i det: {listed}. Ingenting er endret. "
        "Gi alle unntatt én et nytt navn (for eksempel i databasen: UPDATE app_user SET "
        f"username = '{first_name.lower()}2' WHERE id = {first_id}), og kjør "
        "«avtaleflyt init» igjen.", field="username")


def upgrade() -> None:
    _refuse_case_duplicates()
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempt_username_at", "login_attempt",
                    ["username", "attempted_at"], unique=False)
    op.create_index("ix_login_attempt_address_at", "login_attempt",
                    ["address", "attempted_at"], unique=False)
    op.create_index("uq_app_user_username_lower", "app_user", [sa.text("lower(username)")],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_app_user_username_lower", table_name="app_user")
    op.drop_index("ix_login_attempt_address_at", table_name="login_attempt")
    op.drop_index("ix_login_attempt_username_at", table_name="login_attempt")
    op.drop_table("login_attempt")
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
    op.drop_table("user_session")
