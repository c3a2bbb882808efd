"""Free text that may name people, kept in one redactable table (`personal_text`).

Notes and hold/withdraw reasons refer to a row here by id; the append-only `event` table
only ever holds the id. Redaction (`avtaleflyt redact`) empties the row, records who
redacted which id and when, and scrubs stored documents that contained the text.
Nothing here imports Prefect.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound, ref
from avtaleflyt.domain.text import check_text
from avtaleflyt.formatting import format_count
from avtaleflyt.models import Document, Municipality, PersonalText, utcnow

from .context import Ctx

REDACTED = "[sladdet]"
LIMITS = {"note": 5000, "reason": 500, "situation": 5000}
_FIELDS = {"note": "text", "reason": "reason", "situation": "situation"}


def clean(value: str | None, kind: str, *, required: bool) -> str | None:
    """The text as it will be stored, or a refusal naming the field."""
    return check_text(value, _FIELDS[kind], LIMITS[kind], required=required, multiline=True)


def store(session: Session, *, municipality_id: int, case_id: int | None, kind: str,
          text: str) -> PersonalText:
    row = PersonalText(municipality_id=municipality_id, case_id=case_id, kind=kind, text=text)
    session.add(row)
    session.flush()
    return row


def load(session: Session, text_id: int, municipality_id: int) -> PersonalText:
    row = session.get(PersonalText, text_id)
    if row is None or row.municipality_id != municipality_id:
        raise NotFound(f"Fant ingen tekst med id {text_id}.", field="text_id")
    return row


def resolve(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Each id's text, or «[sladdet]» once redacted: one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(PersonalText.id, PersonalText.text)
                        .where(col(PersonalText.id).in_(wanted))).all()
    return {i: (t if t is not None else REDACTED) for i, t in rows}


def shown(row: PersonalText | None) -> str:
    return REDACTED if row is None or row.text is None else row.text


def list_texts(session: Session, kommunenummer: str) -> list[dict[str, Any]]:
    """A municipality's texts with their ids, for an operator deciding what to redact."""
    from .store import get_municipality

    m = get_municipality(session, kommunenummer)
    rows = session.exec(select(PersonalText).where(PersonalText.municipality_id == m.id)
                        .order_by(col(PersonalText.id))).all()
    return [{"id": r.id, "kind": r.kind, "text": shown(r), "case_id": r.case_id,
             "created_at": r.created_at.isoformat(),
             "redacted_at": r.redacted_at.isoformat() if r.redacted_at else None,
             "redacted_by": r.redacted_by} for r in rows]


def redact(*, session: Session, text_id: int, reason: str, ctx: Ctx) -> dict[str, Any]:
    """Empty the text, record an event (the id, never the text) and scrub stored documents.

    Stored documents are redacted in place, not re-rendered: a stored version is the record
    of what was sent at the time, so it keeps its version number and everything else it said;
    only the text becomes «[sladdet]», and the row's SHA-256 and size follow the new file.
    A re-rendered new version would show today's data and leave the old file with the text.
    """
    from avtaleflyt.domain.machine import NewEvent
    from avtaleflyt.models import OnboardingCase

    from .store import add_events

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"{ref('reason')} kan ikke være tom: skriv hvorfor teksten sladdes.",
                           field="reason")
    if len(reason) > 500:
        raise InvalidInput(f"{ref('reason')} er for lang (høyst 500 tegn).", field="reason")
    row = session.get(PersonalText, text_id)
    if row is None:
        raise NotFound(f"Fant ingen tekst med id {text_id}. Se «avtaleflyt redact --list KNR».",
                       field="text_id")
    if row.text is None:
        raise Conflict(f"Tekst {text_id} er allerede sladdet "
                       f"({row.redacted_at:%d.%m.%Y} av {row.redacted_by}).", field="text_id")
    original = row.text
    row.text = None
    row.redacted_at = utcnow()
    row.redacted_by = ctx.actor
    row.redaction_reason = reason
    session.add(row)
    scrubbed = _scrub_documents(session, original)
    m = session.get(Municipality, row.municipality_id)
    case = session.get(OnboardingCase, row.case_id) if row.case_id else None
    add_events(session, m, case, [NewEvent(EventKind.TEXT_REDACTED, ctx.today, {
        "text_id": text_id, "documents": [d for d, _ in scrubbed]})], ctx)
    session.commit()
    from avtaleflyt.db import forget_freed_pages

    forget_freed_pages(session)
    updated = format_count(len(scrubbed), "lagret dokument", "lagrede dokumenter")
    return {"text_id": text_id, "kommunenummer": m.kommunenummer, "redacted_by": ctx.actor,
            "redacted_at": row.redacted_at.isoformat(),
            "documents": [{"id": d, "file": f} for d, f in scrubbed],
            "message": f"Tekst {text_id} er sladdet ({m.name})"
                       + (f"; {updated} er oppdatert." if scrubbed else ".")}


# --- stored documents ------------------------------------------------------------------


def _variants(text: str) -> list[str]:
    """How the text may appear in a stored HTML file (templates autoescape)."""
    out = [text, html.escape(text, quote=True), html.escape(text, quote=False),
           str(html.escape(text)).replace("&#x27;", "&#39;")]
    return list(dict.fromkeys(v for v in out if v))


def _scrub_html(data: bytes, text: str) -> bytes | None:
    s = data.decode("utf-8")
    new = s
    for v in _variants(text):
        new = new.replace(v, REDACTED)
    # A multi-line note may be rendered with its lines split by <br> or whitespace.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        pattern = r"(?:\s|<br\s*/?>)*".join(re.escape(html.escape(x, quote=True))
                                            for x in lines)
        new = re.sub(pattern, REDACTED, new)
    return new.encode("utf-8") if new != s else None


def _scrub_docx(data: bytes, text: str) -> bytes | None:
    import docx

    document = docx.Document(io.BytesIO(data))
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for r in table.rows:
            for cell in r.cells:
                paragraphs.extend(cell.paragraphs)
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [text]
    changed = False
    for p in paragraphs:
        for needle in dict.fromkeys([text, *lines]):
            if needle not in p.text:
                continue
            if any(needle in r.text for r in p.runs):
                for r in p.runs:
                    if needle in r.text:
                        r.text = r.text.replace(needle, REDACTED)
            else:  # split across runs: the paragraph's text goes into its first run
                whole = p.text.replace(needle, REDACTED)
                for i, r in enumerate(p.runs):
                    r.text = whole if i == 0 else ""
            changed = True
    if not changed:
        return None
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _scrub_pdf(data: bytes, text: str) -> bytes | None:
    """A PDF cannot be edited in place: make it again from the HTML source it carries
    (see documents/html_pdf.py), with the text replaced; title, author and creation time
    are in that source and stay as they were."""
    from avtaleflyt.documents.html_pdf import embedded_source, source_to_pdf

    source = embedded_source(data)
    if source is None:
        raise Conflict("En lagret PDF mangler HTML-kilden sin og kan ikke sladdes; "
                       "ingenting er endret.", field="text_id")
    new = _scrub_html(source.encode("utf-8"), text)
    return None if new is None else source_to_pdf(new.decode("utf-8"))


_SCRUBBERS = {"html": _scrub_html, "docx": _scrub_docx, "pdf": _scrub_pdf}


def _scrub_documents(session: Session, text: str) -> list[tuple[int, str]]:
    """Blank the text out of every stored version that holds it; the original bytes are
    deleted unless a version not holding the text refers to them. Not committed."""
    from . import document_store

    scrubbed = []
    old: list[str] = []
    for d in session.exec(select(Document).order_by(col(Document.id))).all():
        data = document_store.content(session, d)
        new = _SCRUBBERS[d.format](data, text)
        if new is None:
            continue
        replaced = document_store.replace_content(session, d, new)
        if replaced is not None:
            old.append(replaced)
        scrubbed.append((d.id, d.path))
    document_store.drop_unreferenced(session, old)
    return scrubbed
