"""Stored PDFs stay erasable: a contact person erased, or a personal text redacted, is gone
from the PDF's pages and from the HTML source it carries, and the PDF is still PDF/A-3b.

Real SQLite and PostgreSQL; the PDFs are read back with pypdf.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pypdf
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.documents.html_pdf import embedded_source
from avtaleflyt.domain.stages import Theme
from avtaleflyt.models import ContactPerson, Document
from avtaleflyt.services import people, texts
from avtaleflyt.services import document_store
from avtaleflyt.services.documents import store_document

from .conftest import ctx_for
from .web_support import to_setup

NAME, EMAIL = "Kari Hemmelig-Nordmann", "kari.hemmelig@rodoy.example"
DAY = date(2026, 5, 22)


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def _is_pdf_a(data: bytes) -> bool:
    rdf = pypdf.PdfReader(io.BytesIO(data)).xmp_metadata.rdf_root.toxml()
    return 'pdfaid:part="3"' in rdf and 'pdfaid:conformance="B"' in rdf


def _stored_pdf(url: str, kind: str) -> tuple[Document, bytes]:
    with db.session_scope(url) as s:
        row = s.exec(select(Document).where(Document.kind == kind, Document.format == "pdf")
                     .order_by(Document.version.desc())).first()
        return row, document_store.content(s, row)


def test_an_erased_contact_is_gone_from_the_stored_agreement_pdf(db_url):
    to_setup(db_url, "1836")
    with db.session_scope(db_url) as s:
        people.add_contact(session=s, kommunenummer="1836", name=NAME, role="Kultursjef",
                           email=EMAIL, phone=None, primary=True, ctx=ctx_for(DAY))
        store_document(session=s, kind="agreement", ctx=ctx_for(DAY), kommunenummer="1836",
                       formats=("pdf",))
    row, before = _stored_pdf(db_url, "agreement")
    assert f"For kommunen: {NAME}, Kultursjef, {EMAIL}" in _pdf_text(before)
    assert NAME in embedded_source(before)

    with db.session_scope(db_url) as s:
        contact = s.exec(select(ContactPerson.id).where(ContactPerson.email == EMAIL)).one()
        people.erase_contact(session=s, contact_id=contact, ctx=ctx_for(DAY))

    after_row, after = _stored_pdf(db_url, "agreement")
    assert after_row.version == row.version and after_row.path == row.path
    text = _pdf_text(after)
    assert NAME not in text and EMAIL not in text
    assert "For kommunen: [slettet], Kultursjef, [slettet]" in text
    assert NAME not in embedded_source(after) and NAME.encode() not in after
    assert _is_pdf_a(after)
    assert after_row.sha256 == hashlib.sha256(after).hexdigest() != row.sha256
    # The rest of what it said is as it was: it is the same version, not a new rendering.
    assert text.replace("[slettet]", "") == _pdf_text(before).replace(NAME, "").replace(
        EMAIL, "")


def test_a_redacted_note_is_gone_from_the_stored_report_pdf(db_url):
    secret = "Ola Hemmelig i IT-avdelingen svarte aldri på e-post."
    to_setup(db_url, "1836")
    with db.session_scope(db_url) as s:
        people.add_note(session=s, kommunenummer="1836", theme=Theme.ENGAGEMENT, on=DAY,
                        ctx=ctx_for(DAY), text=secret)
        store_document(session=s, kind="experience_report", ctx=ctx_for(DAY), county="18",
                       formats=("pdf", "html"))
    row, before = _stored_pdf(db_url, "experience_report")
    assert secret in _pdf_text(before)

    with db.session_scope(db_url) as s:
        [note] = [t for t in texts.list_texts(s, "1836") if t["text"] == secret]
        result = texts.redact(session=s, text_id=note["id"], reason="Navngir en ansatt",
                              ctx=ctx_for(DAY))
    assert len(result["documents"]) == 2  # the PDF and the HTML
    _, after = _stored_pdf(db_url, "experience_report")
    assert secret not in _pdf_text(after) and "[sladdet]" in _pdf_text(after)
    assert secret not in embedded_source(after)
    assert _is_pdf_a(after)
