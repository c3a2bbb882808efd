"""Moving house: copy a whole installation (every table, documents included) from one
database to another, typically from the single-node SQLite file to PostgreSQL.

- The target must be empty: no table of ours holding a row (an empty schema, or no schema
  at all, is fine). Otherwise nothing is written and the refusal names the tables.
- The source must be at the newest migration; the target is migrated to it first.
- Rows are copied table by table in foreign-key order, with their ids, in ONE transaction
  on the target. Inserting does not trip the append-only triggers on `event` (they refuse
  UPDATE and DELETE only), so they stay in place.
- PostgreSQL's id sequences are set past the highest copied id, so the next row inserted
  by the application does not collide.
- Before the commit, every table's row count is compared with the source and every stored
  document's bytes are hashed against their SHA-256; any difference rolls the copy back.

Nothing here imports Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import SQLModel

from avtaleflyt import db
from avtaleflyt.domain.errors import Conflict, InvalidInput
from avtaleflyt.settings import normalise_database_url

BATCH = 500


@dataclass
class CopyResult:
    tables: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    document_bytes: int = 0
    verified: bool = False

    def as_json(self, source: str, target: str) -> dict:
        return {"source": source, "target": target, "tables": self.tables,
                "rows": sum(self.tables.values()), "documents": self.documents,
                "document_bytes": self.document_bytes, "verified": self.verified}


def _tables() -> list[sa.Table]:
    from avtaleflyt.models import load_all

    load_all()
    return list(SQLModel.metadata.sorted_tables)


def _rows_in_target(target: sa.Engine) -> dict[str, int]:
    existing = set(sa.inspect(target).get_table_names())
    found = {}
    with target.connect() as c:
        for t in _tables():
            if t.name in existing:
                n = c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                if n:
                    found[t.name] = n
    return found


def check_target(source_url: str, target_url: str) -> str:
    """The target URL, normalised; refuses the source itself, a target of another schema
    version and a target that holds rows."""
    try:
        target_url = normalise_database_url(target_url.strip())
    except ValueError as e:
        raise InvalidInput(f"«--to»: {e}", field="to") from None
    if sa.make_url(target_url) == sa.make_url(normalise_database_url(source_url)):
        raise InvalidInput("«--to» er den samme databasen som kilden.", field="to")
    head = db.head_revision()
    if db.current_revision(source_url) != head:
        raise Conflict("Kildedatabasen er ikke på nyeste skjema. Kjør «avtaleflyt init» mot "
                       "den først.")
    engine = db.get_engine(target_url)
    try:
        current = db.current_revision(target_url)
        rows = _rows_in_target(engine)
    except sa.exc.OperationalError as e:
        raise InvalidInput(f"«--to»: kan ikke koble til måldatabasen: "
                           f"{str(e.orig).splitlines()[0]}", field="to") from None
    if rows:
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(rows.items()))
        raise Conflict(f"Måldatabasen er ikke tom; ingenting er kopiert. Den har rader i: "
                       f"{listed}. Bruk en ny, tom database.")
    if current not in (None, head):
        raise Conflict(f"Måldatabasen har skjema {current}, ikke {head}; ingenting er kopiert."
                       " Bruk en ny, tom database.")
    return target_url


def copy_database(source_url: str, target_url: str,
                  progress: Callable[[str, int, int], None] | None = None) -> CopyResult:
    """Copy every table from source to the (empty) target; see the module docstring.
    `progress(table, copied, total)` is called as rows are copied."""
    target_url = check_target(source_url, target_url)
    db.upgrade(target_url)  # an empty schema (or none) → the newest; writes no rows
    if _rows_in_target(db.get_engine(target_url)):  # someone wrote in the meantime
        raise Conflict("Måldatabasen fikk rader mens kopien startet; ingenting er kopiert.")
    source, target = db.get_engine(source_url), db.get_engine(target_url)
    result = CopyResult()
    with source.connect() as src, target.begin() as dst:
        for t in _tables():
            total = src.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            copied = 0
            if progress:
                progress(t.name, 0, total)
            order = list(t.primary_key.columns)
            rows = src.execute(sa.select(t).order_by(*order)).mappings()
            while batch := rows.fetchmany(BATCH):
                dst.execute(t.insert(), [dict(r) for r in batch])
                copied += len(batch)
                if progress:
                    progress(t.name, copied, total)
            result.tables[t.name] = copied
        if target.dialect.name == "postgresql":
            _reset_sequences(dst)
        _verify(src, dst, result)
    return result


def _reset_sequences(conn) -> None:
    for t in _tables():
        pk = list(t.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer):
            continue
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": t.name, "c": pk[0].name}).scalar_one()
        if seq is None:
            continue
        top = conn.execute(sa.select(sa.func.max(pk[0]))).scalar_one()
        # is_called=false with 1: an empty table's next id is 1, as in a new database.
        conn.execute(sa.text("SELECT setval(:s, :v, :called)"),
                     {"s": seq, "v": top or 1, "called": top is not None})


def _verify(src, dst, result: CopyResult) -> None:
    import hashlib

    problems = []
    for t in _tables():
        a = src.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        b = dst.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        if a != b:
            problems.append(f"{t.name}: {a} rader i kilden, {b} i målet")
    blob = SQLModel.metadata.tables["document_blob"]
    document = SQLModel.metadata.tables["document"]
    hashes = dict(dst.execute(sa.select(blob.c.sha256, blob.c.content)).all())
    for digest, content in hashes.items():
        if hashlib.sha256(bytes(content)).hexdigest() != digest:
            problems.append(f"document_blob {digest[:12]}…: innholdet stemmer ikke med SHA-256")
        result.document_bytes += len(content)
    for path, digest in dst.execute(sa.select(document.c.path, document.c.sha256)).all():
        if digest not in hashes:
            problems.append(f"{path}: innholdet mangler")
        result.documents += 1
    if problems:
        raise Conflict("Kopien stemmer ikke med kilden og er rullet tilbake:\n"
                       + "\n".join(problems))
    result.verified = True
