"""Where stored documents live: in the database, content-addressed by SHA-256.

A stored version is a `document` row (kind, version, format, name) pointing at a
`document_blob` row holding its bytes; identical bytes are stored once. Every dashboard node
and the CLI read the same database, so a document stored through one node downloads from
any other with the same bytes and hash; nothing is written to the data directory.

Rendering happens entirely in memory first (`documents.render`); the version's row and, if
new, its bytes are written in one commit, so a template error or a crash leaves neither.
Versions are never replaced: two writers that pick the same number collide on the unique
indexes, and the loser takes the next number.

Erasure (`privacy.redact_documents`, `texts.redact_text`) points a row at redacted bytes
with `replace_content`; bytes no row refers to any more are deleted in the same
transaction (SQLite zeroes them: `secure_delete`; see `db.forget_freed_pages`).

Storing (`store_document`: render a new version and store it), the stage drafts
(`ensure_stage_documents`) and the listing of stored versions (`list_documents`) are here
too. Files are still written where a user asks for one (`--out`, `doc get`), and by
migration 0010's downgrade; the helpers for that are here too. Nothing here imports Prefect.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from avtaleflyt.documents.render import DocumentError
from avtaleflyt.domain.errors import Conflict, NotFound
from avtaleflyt.domain.stages import STAGE_RULES, CaseStatus, Stage
from avtaleflyt.models import County, Document, DocumentBlob
from avtaleflyt.settings import Settings

from . import scope as scopes

if TYPE_CHECKING:
    from avtaleflyt.services.context import Ctx
    from avtaleflyt.services.document_contexts import Scope
    from avtaleflyt.services.documents import Rendered

_ATTEMPTS = 5


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the database ---------------------------------------------------------------------


def put_blob(session: Session, data: bytes) -> str:
    """Add the bytes unless already stored; their SHA-256. Flushed (rows referring to them
    may follow: without a relationship the unit of work does not order the two tables),
    not committed."""
    digest = sha256_of(data)
    if session.get(DocumentBlob, digest) is None:
        session.add(DocumentBlob(sha256=digest, size=len(data), content=data))
        session.flush()
    return digest


def read_blob(session: Session, sha256: str) -> bytes:
    blob = session.get(DocumentBlob, sha256)
    if blob is None:
        raise NotFound(f"Innholdet til dokumentet (SHA-256 {sha256[:12]}…) finnes ikke i "
                       "databasen.")
    return bytes(blob.content)


def content(session: Session, document: Document) -> bytes:
    """The bytes of a stored version."""
    return read_blob(session, document.sha256)


def by_name(session: Session, name: str) -> Document:
    """A stored version by its name as `doc list`/`report list` show it, e.g.
    «1836/agreement-v2.docx»."""
    doc = session.exec(select(Document).where(Document.path == name.strip().strip("/"))).first()
    if doc is None:
        raise NotFound(f"Fant ikke dokumentet «{name}». Se navnene med «avtaleflyt doc list "
                       "KOMMUNENUMMER» eller «avtaleflyt report list».")
    return doc


def replace_content(session: Session, document: Document, data: bytes) -> str | None:
    """Point the row at new bytes (a redaction): the old SHA-256 if it changed, else None.
    The caller deletes bytes nothing refers to any more with `drop_unreferenced`."""
    digest = sha256_of(data)
    if digest == document.sha256:
        return None
    old = document.sha256
    put_blob(session, data)
    document.sha256, document.size = digest, len(data)
    session.add(document)
    return old


def drop_unreferenced(session: Session, hashes: Iterable[str]) -> int:
    """Delete the bytes with these hashes that no document row refers to (after a
    redaction the original must not stay behind). Not committed."""
    hashes = sorted(set(hashes))
    if not hashes:
        return 0
    session.flush()
    used = set(session.exec(select(Document.sha256).where(col(Document.sha256).in_(hashes))))
    gone = [h for h in hashes if h not in used]
    if gone:
        session.exec(delete(DocumentBlob).where(col(DocumentBlob.sha256).in_(gone)))
    return len(gone)


def verify(session: Session) -> list[str]:
    """Every stored version whose bytes are missing or do not hash to its SHA-256."""
    problems = []
    for doc in session.exec(select(Document).order_by(col(Document.id))).all():
        blob = session.get(DocumentBlob, doc.sha256)
        if blob is None:
            problems.append(f"{doc.path}: innholdet mangler")
        elif sha256_of(bytes(blob.content)) != doc.sha256 or blob.size != doc.size:
            problems.append(f"{doc.path}: innholdet stemmer ikke med SHA-256")
    return problems


def _next_version(session: Session, scope: Scope, kind: str, fmt: str) -> int:
    q = select(func.max(Document.version)).where(Document.kind == kind, Document.format == fmt)
    if scope.municipality is not None:
        q = q.where(Document.municipality_id == scope.municipality.id)
    elif scope.county is None:
        q = q.where(col(Document.county_id).is_(None), col(Document.municipality_id).is_(None))
    else:
        q = q.where(Document.county_id == scope.county.id,
                    col(Document.municipality_id).is_(None))
    return (session.exec(q).one() or 0) + 1


def store(session: Session, rendered: Rendered, ctx: Ctx) -> list[Document]:
    """One new version per format of a rendered document, committed together."""
    scope, kind = rendered.scope, rendered.kind
    ids = (scope.case.id if scope.case else None,
           scope.municipality.id if scope.municipality else None,
           scope.county.id if scope.county else None)
    for _ in range(_ATTEMPTS):
        try:
            rows = []
            for fmt, data in rendered.files.items():
                version = _next_version(session, scope, kind, fmt)
                rows.append(Document(
                    case_id=ids[0], municipality_id=ids[1], county_id=ids[2], kind=kind,
                    version=version, format=fmt, created_on=ctx.today,
                    sha256=put_blob(session, data), path=f"{scope.folder}/{kind}-v{version}.{fmt}",
                    size=len(data)))
            session.add_all(rows)
            session.commit()
            return rows
        except IntegrityError:
            # Another writer took the number (or stored the same bytes) first: count again.
            session.rollback()
        except BaseException:
            session.rollback()
            raise
    raise Conflict("Dokumentet ble lagret av noen andre samtidig, flere ganger på rad. "
                   "Ingenting ble lagret; prøv igjen.")


# --- files ----------------------------------------------------------------------------


def documents_root(settings: Settings | None = None) -> Path:
    """The documents folder of installations before migration 0010 (where it moves files
    from, and a downgrade writes them back to)."""
    if settings is None:
        from avtaleflyt import runtime  # the entry point's settings (a cycle at import time)

        settings = runtime.settings()
    return settings.data_dir / "documents"


def retire_files(session: Session, root: Path) -> int:
    """Delete the files under the old documents folder whose content the database now holds
    (after migration 0010 committed): a second copy would escape erasure. A file that does
    not match its row, or belongs to no row, is left alone. Returns how many were deleted."""
    if not root.is_dir():
        return 0
    removed = 0
    for doc in session.exec(select(Document)).all():
        file = root / doc.path
        try:
            data = file.read_bytes()
        except OSError:
            continue
        digest = sha256_of(data)
        if session.get(DocumentBlob, digest) is not None:
            file.unlink()
            removed += 1
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass
    try:
        root.rmdir()
    except OSError:
        pass
    return removed


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file a reader never sees half-written (for `--out`, which may replace)."""
    from avtaleflyt.domain.errors import InvalidInput

    if path.is_dir():
        raise InvalidInput(f"«--out»: «{path}» er en mappe; oppgi et filnavn.", field="out")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as e:
        raise InvalidInput(f"«--out»: kan ikke skrive «{path}»: {disk_problem(e)}.",
                           field="out") from None


def replace_file(path: Path, data: bytes) -> None:
    """Replace (or create) a file so that a reader sees the old or the new content, never
    a mixture, and a failure (full disk, read-only file system) leaves the old one intact."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp_copy(path: Path, data: bytes) -> Path:
    """A complete, synced copy (mode 0600) under a temporary name next to `path`; on any
    failure (a full disk, a read-only file system) nothing is left behind."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def disk_problem(e: OSError) -> str:
    """What went wrong writing a file, in Norwegian (no path: the caller names the file)."""
    import errno

    return {errno.ENOSPC: "disken er full", errno.EDQUOT: "diskkvoten er brukt opp",
            errno.EROFS: "filsystemet er skrivebeskyttet",
            errno.EACCES: "mangler skrivetilgang", errno.EPERM: "mangler skrivetilgang",
            errno.ENOENT: "mappen finnes ikke"}.get(e.errno, e.strerror or "ukjent feil")


# --- storing, stage drafts and listing ------------------------------------------------


def store_document(*, session: Session, kind: str, ctx: Ctx, kommunenummer: str | None = None,
                   county: str | None = None, formats: tuple[str, ...] = ("html",),
                   year: int | None = None, settings: Settings | None = None,
                   read_scope: scopes.Scope = scopes.EVERYWHERE) -> list[Document]:
    """Render a new version of a document from the current data and store it.

    Returns one row per format; `row.path` is the version's name, its bytes are
    `document_store.content(session, row)`.
    """
    from .documents import render

    rendered = render(session=session, kind=kind, formats=formats, ctx=ctx,
                      kommunenummer=kommunenummer, county=county, year=year, settings=settings,
                      read_scope=read_scope)
    return store(session, rendered, ctx)


def ensure_stage_documents(*, session: Session, kommunenummer: str, ctx: Ctx,
                           settings: Settings | None = None) -> list[str]:
    """Write the drafts the case's current stage calls for, each unless the case already
    has one of that kind.

    Safe to repeat. Returns the stored versions' names, if any.
    """
    from .documents import FORMATS, KIND_LABELS
    from .store import get_case

    _, case = get_case(session, kommunenummer)
    kinds = STAGE_RULES[Stage(case.stage)].documents  # the stage table's drafts
    if not CaseStatus(case.status).is_open:
        return []
    paths: list[str] = []
    for kind in kinds:
        exists = session.exec(select(Document.id).where(Document.case_id == case.id,
                                                        Document.kind == kind)).first()
        if exists is not None:
            continue
        try:
            rows = store_document(session=session, kind=kind, ctx=ctx,
                                  kommunenummer=kommunenummer, formats=FORMATS,
                                  settings=settings)
        except DocumentError as e:
            # The case change before this is committed; say so, and how the draft gets made.
            raise DocumentError(
                f"{e.message} Saken er oppdatert, men utkastet «{KIND_LABELS[kind]}» ble ikke "
                f"laget. Rett malen og kjør «avtaleflyt case advance {kommunenummer}».",
                field=e.field) from e
        paths += [r.path for r in rows]
    return paths


def list_documents(*, session: Session, kommunenummer: str | None = None,
                   county: str | None = None, settings: Settings | None = None,
                   read_scope: scopes.Scope = scopes.EVERYWHERE) -> list[dict[str, Any]]:
    """A municipality's stored documents (all its cases), or the reports: a county's
    (`county` or a county `read_scope`), else every county's and the national ones."""
    from .documents import KIND_LABELS

    q = select(Document, County.code).outerjoin(County, col(County.id) == Document.county_id)
    if kommunenummer is not None:
        from .store import get_municipality

        m = get_municipality(session, kommunenummer, read_scope)
        q = q.where(Document.municipality_id == m.id)
    else:
        if county is not None and str(county).strip():
            read_scope = scopes.scope_for_code(session, county, "--county")
        q = q.where(col(Document.municipality_id).is_(None))
        if not read_scope.national:
            q = q.where(Document.county_id == read_scope.county_id)
    rows = session.exec(q.order_by(col(County.code).is_(None), col(County.code),
                                   col(Document.kind), col(Document.format),
                                   col(Document.version))).all()
    return [{"kind": d.kind, "county_code": code, "label": KIND_LABELS.get(d.kind, d.kind), "version": d.version,
             "format": d.format, "created_on": d.created_on.isoformat(),
             "created_at": d.created_at.isoformat(), "sha256": d.sha256, "size": d.size,
             "path": d.path, "case_id": d.case_id}
            for d, code in rows]
