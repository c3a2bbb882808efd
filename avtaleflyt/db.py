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
