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


from .domain.errors import Conflict  # noqa: E402


class MigrationFailed(Conflict):
    """A migration left rows that break a foreign key; nothing was changed."""


def upgrade(url: str, revision: str = "head", *, documents_dir: Path | None = None) -> None:
    """Create or upgrade the schema to the newest migration (or `revision`).

    `documents_dir`: the pre-0010 documents folder; migration 0010 moves its files into the
    database, and they are deleted from it once that has committed."""
    _migrate(url, "upgrade", revision, documents_dir)
    if documents_dir is not None and Path(documents_dir).is_dir():
        from .services.document_store import retire_files

        with session_scope(url) as s:
            retire_files(s, Path(documents_dir))


def downgrade(url: str, revision: str, *, documents_dir: Path | None = None) -> None:
    _migrate(url, "downgrade", revision, documents_dir)


def _migrate(url: str, direction: str, revision: str, documents_dir: Path | None) -> None:
    from alembic import command

    cfg = alembic_config(url)
    if documents_dir is not None:
        cfg.attributes["documents_dir"] = Path(documents_dir)
    with migration_connection(url) as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


@contextmanager
def migration_connection(url: str) -> Iterator:
    """A connection for schema changes, committed as ONE transaction when the block ends.

    On SQLite, foreign-key enforcement is off inside it: a batch migration rebuilds a table
    by copying it and dropping the original, and dropping a parent table with the checks on
    fails ("FOREIGN KEY constraint failed") or, with ON DELETE CASCADE, deletes its
    children. `PRAGMA foreign_key_check` then checks every row before the commit; a
    violation raises `MigrationFailed`, naming table and row, and nothing is changed.
    SQLite only runs DDL inside a transaction it was told to BEGIN, so the driver is put in
    autocommit mode and the transaction begun explicitly."""
    engine = get_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            raw = conn.connection.driver_connection
            old_level = raw.isolation_level
            raw.isolation_level = None  # no implicit transactions: we BEGIN ourselves
            raw.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
        try:
            with conn.begin():
                if sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
                raw.isolation_level = old_level


def _check_foreign_keys(conn) -> None:
    bad = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if not bad:
        return
    lines = [f"tabell {table}, rad {rowid}: peker på en rad i {parent} som ikke finnes"
             for table, rowid, parent, _fk in bad[:20]]
    more = f" (og {len(bad) - 20} til)" if len(bad) > 20 else ""
    raise MigrationFailed(
        "Migreringen ble avbrutt og ingenting er endret: fremmednøkler er brutt etter "
        "migreringen" + more + ":\n" + "\n".join(lines))


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
