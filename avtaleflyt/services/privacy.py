"""Personal data: erasing a contact person's copies, and the access log.

A contact person's name, e-mail address and phone number live in `contact_person`. Copies
can end up in rendered text: stored digests (a coordinator's digest names a task's owner,
a failed send's error may quote an address) and stored documents (the setup checklist
names the contact a task is assigned to; their bytes are in `document_blob`). Erasing a contact blanks those copies out here.
Events never hold them: they name a contact by id.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from avtaleflyt.models import AccessLog, Delivery, Digest, Document, Municipality, Reminder, utcnow

from . import document_store
from .scope import EVERYWHERE, Scope

REDACTED = "[slettet]"
CONTACT_PREFIX = "contact:"


def _pattern(values: list[str], escapes=(lambda v: v,)) -> re.Pattern[str] | None:
    forms = sorted({f(v) for v in values if v for f in escapes}, key=len, reverse=True)
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)


def redact_text(text: str | None, values: list[str]) -> str | None:
    """`text` with every (case-insensitive) occurrence of `values`, also HTML-escaped,
    replaced by «[slettet]»."""
    if not text:
        return text
    pattern = _pattern(values, (lambda v: v, lambda v: html.escape(v, quote=True),
                                lambda v: html.escape(v, quote=False)))
    return pattern.sub(REDACTED, text) if pattern else text


def redact_outbox(session: Session, contact_id: int, values: list[str]) -> None:
    """Drop the contact's undigested reminders, give up unsent digests to them, and blank
    the values out of every stored digest and delivery error."""
    recipient = f"{CONTACT_PREFIX}{contact_id}"
    session.exec(delete(Reminder).where(Reminder.recipient == recipient,
                                        col(Reminder.digest_id).is_(None)))
    for d in session.exec(select(Digest).where(Digest.recipient == recipient,
                                               col(Digest.status).in_(
                                                   ("pending", "failed", "sending")))).all():
        d.status, d.next_attempt_on = "gave_up", None
        d.last_error = "Kontaktpersonen er slettet; meldingen ble ikke sendt."
        session.add(d)
    if not values:
        return
    likes = [func.lower(c).contains(v.lower()) for v in values
             for c in (Digest.title, Digest.body_text, Digest.body_html, Digest.last_error)]
    likes += [func.lower(Digest.body_html).contains(html.escape(v).lower()) for v in values]
    for d in session.exec(select(Digest).where(or_(*likes))).all():
        d.title = redact_text(d.title, values)
        d.body_text = redact_text(d.body_text, values)
        d.body_html = redact_text(d.body_html, values)
        d.last_error = redact_text(d.last_error, values)
        session.add(d)
    likes = [func.lower(c).contains(v.lower()) for v in values
             for c in (Delivery.error, Delivery.target)]
    for row in session.exec(select(Delivery).where(or_(*likes))).all():
        row.error = redact_text(row.error, values)
        row.target = redact_text(row.target, values)
        session.add(row)


def _redact_docx(data: bytes, values: list[str]) -> bytes:
    """Blank the values out of every XML part of a DOCX (a zip): the converter writes a
    table cell's or paragraph's text as one run, so a name is never split across runs."""
    pattern = _pattern(values, (lambda v: v, xml_escape, lambda v: html.escape(v)))
    if pattern is None:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.endswith((".xml", ".rels")):
                part = pattern.sub(REDACTED, part.decode("utf-8")).encode("utf-8")
            dst.writestr(info, part)
    return out.getvalue()


def redact_file_bytes(fmt: str, data: bytes, values: list[str]) -> bytes:
    if fmt == "docx":
        return _redact_docx(data, values)
    if fmt == "pdf":  # made again from the HTML source the PDF carries (documents/html_pdf.py)
        from avtaleflyt.documents.html_pdf import embedded_source, source_to_pdf

        source = embedded_source(data)
        if source is None:
            from avtaleflyt.domain.errors import Conflict

            raise Conflict("En lagret PDF mangler HTML-kilden sin og kan ikke renskes; "
                           "ingenting er endret.")
        new = redact_text(source, values) or ""
        return data if new == source else source_to_pdf(new)
    return (redact_text(data.decode("utf-8"), values) or "").encode("utf-8")


def redact_documents(session: Session, m: Municipality, values: list[str],
                     root: Path | None = None) -> int:
    """Blank the values out of the stored documents of the municipality, its county's
    reports and the national ones: each changed version points at its redacted bytes (new
    SHA-256 and size, `redacted_at`), and the original bytes are deleted unless another
    version still refers to them. A redacted version keeps its number and everything else
    it said: re-rendering would instead change a signed agreement into today's wording.
    Returns how many versions changed. (`root` is unused since documents moved into the
    database; kept for callers.) Not committed."""
    docs = session.exec(select(Document).where(or_(
        Document.municipality_id == m.id,
        (col(Document.municipality_id).is_(None)) & (Document.county_id == m.county_id),
        (col(Document.municipality_id).is_(None)) & (col(Document.county_id).is_(None)),
    ))).all()
    changed = 0
    old: list[str] = []
    for doc in docs:
        data = document_store.content(session, doc)
        new = redact_file_bytes(doc.format, data, values) if values else data
        replaced = document_store.replace_content(session, doc, new)
        if replaced is not None:
            doc.redacted_at = utcnow()
            old.append(replaced)
            changed += 1
    document_store.drop_unreferenced(session, old)
    return changed


# --- the access log --------------------------------------------------------------------

ACTIONS = {
    "case_page": "Saksside",
    "api_case": "Sak lest via API-et",
    "case_page_denied": "Saksside (avvist: annet fylke eller finnes ikke)",
    "contact_list": "Kontaktpersoner",
    "document": "Dokument lastet ned",
    "feed": "Kalenderstrøm",
}


def log_access(session: Session, *, username: str, action: str,
               kommunenummer: str | None = None, case_id: int | None = None,
               object: str | None = None, at: datetime | None = None) -> None:
    """Append one access log row and commit it (a read is logged even if nothing else is
    written)."""
    session.add(AccessLog(at=at or utcnow(), username=username[:80], action=action,
                          kommunenummer=kommunenummer, case_id=case_id,
                          object=(object or None) and object[:200]))
    session.commit()


def log_access_many(session: Session, *, username: str, action: str,
                    kommunenumre: list[str], object: str | None = None) -> None:
    """One row per municipality (a calendar feed shows many), one commit."""
    now = utcnow()
    session.add_all([AccessLog(at=now, username=username[:80], action=action,
                               kommunenummer=knr, object=object) for knr in kommunenumre])
    session.commit()


def access_rows(session: Session, kommunenummer: str, scope: Scope = EVERYWHERE
                ) -> list[dict[str, Any]]:
    """A municipality's access log, newest first."""
    from .store import get_municipality

    m = get_municipality(session, kommunenummer, scope)
    rows = session.exec(select(AccessLog).where(AccessLog.kommunenummer == m.kommunenummer)
                        .order_by(col(AccessLog.at).desc(), col(AccessLog.id).desc())).all()
    return [{"at": r.at.isoformat(), "username": r.username, "action": r.action,
             "action_label": ACTIONS.get(r.action, r.action), "kommunenummer": r.kommunenummer,
             "case_id": r.case_id, "object": r.object} for r in rows]


def purge_access_log(session: Session, *, days: int, now: datetime | None = None) -> int:
    """Delete access log rows older than `days` days (the `[privacy] access_log_days`
    retention). Returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = session.exec(delete(AccessLog).where(col(AccessLog.at) < cutoff))
    session.commit()
    return result.rowcount or 0
