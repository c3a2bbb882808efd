"""Engine and session factory; migrations run from here (`avtaleflyt init`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from .resources import migrations_dir
from .settings import normalise_database_url

MIGRATIONS = migrations_dir()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    """A new database's folder is created 0700 and the file itself 0600 before SQLite opens
    it (SQLite gives -wal and -shm the database file's mode); an existing file is tightened
    to 0600. A folder that already exists is the installer's choice and left as it is,
    except the data directory (`init`, documents)."""
    from .filemodes import private_dir, private_sqlite

    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        file = Path(path)
        if not file.parent.exists():
            private_dir(file.parent)
        private_sqlite(file)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # Deleted and overwritten content is zeroed, not left in free pages: an erased contact
    # or a redacted note must not survive in the file (see `forget_freed_pages`).
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def forget_freed_pages(session) -> None:
    """After erasing personal data on SQLite: move the write-ahead log into the database
    and truncate it, so the old page images in `-wal` are gone too (best effort: a reader
    holding an old snapshot can delay it to the next checkpoint). PostgreSQL's old row
    versions are reclaimed by its own VACUUM; see docs/security.md."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        session.commit()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that rolls back on any error, so nothing is ever half-written."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return cfg


# pg_advisory_lock's key for `init`: any fixed 64-bit number; "avtaleflyt" in ASCII hex.
INIT_LOCK_KEY = 0x6176746C6566


@contextmanager
def init_lock(url: str, waiting=None) -> Iterator[None]:
    """Only one `init` at a time per database: a second one waits here until the first is
    done, then finds the schema current and the reference data loaded — nothing to do.

    PostgreSQL: a session-level advisory lock on a connection of its own, held until the
    block ends (released by the server if the process dies). SQLite: an exclusive lock on
    a `<database>.init-lock` file next to the database (the upgrade and the reference data
    load use connections of their own, so one exclusive SQLite transaction cannot span
    both; the file lock is released by the kernel if the process dies). `waiting()` is
    called once if the lock is taken by someone else."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if not path or path == ":memory:" or path.startswith("file:"):
            yield
            return
        import fcntl

        get_engine(url)  # makes the folder (0700) the way a new database needs it
        import os

        fd = os.open(path + ".init-lock", os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting:
                    waiting()
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    from sqlalchemy import text

    with get_engine(url).connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                           {"k": INIT_LOCK_KEY}).scalar()
        if not got:
            if waiting:
                waiting()
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": INIT_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": INIT_LOCK_KEY})
            conn.commit()


def upgrade(url: str) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
