"""Turn a rendered document's HTML into an archivable PDF (PDF/A-3b).

Like the DOCX, the PDF is derived from the one HTML rendering, so the wording is reviewed in
one place. WeasyPrint lays it out with the print CSS in base.html.j2 (A4, page numbers in
the footer) and writes PDF/A-3b: fonts embedded, an sRGB output intent, and XMP metadata
that identifies the file as PDF/A (part 3, conformance B) for the archive.

The PDF carries the HTML it was made from as an embedded file (PDF/A-3 allows embedded
files; its relationship is «Source»). Erasing a personal text (`avtaleflyt redact`) needs
it: a PDF's text cannot be edited in place, so the stored PDF is made again from its own
source with the text replaced, keeping its title, author and creation time.

WeasyPrint needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0) and a font; it is imported
only when a PDF is made, so HTML and DOCX work without it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from html import escape

SOURCE_NAME = "kilde.html"
PDF_VARIANT = "pdf/a-3b"


def with_properties(html: str, *, author: str, created: datetime) -> str:
    """The HTML with the author and creation time as <meta> tags WeasyPrint turns into the
    PDF's document information and XMP metadata (the title comes from <title>)."""
    created = created.astimezone(UTC).replace(microsecond=0)
    meta = (f'<meta name="author" content="{escape(author, quote=True)}">\n'
            f'<meta name="dcterms.created" content="{created.isoformat()}">\n')
    head_end = html.find("</head>")
    if head_end < 0:
        raise ValueError("the document's HTML has no </head>")
    return html[:head_end] + meta + html[head_end:]


def html_to_pdf(html: str, *, author: str, created: datetime) -> bytes:
    """The PDF/A-3b version of `html`, as bytes; the caller decides where they are written."""
    return source_to_pdf(with_properties(html, author=author, created=created))


def source_to_pdf(source: str) -> bytes:
    """Lay out HTML that already carries its properties, and embed it as the PDF's source."""
    from weasyprint import HTML, Attachment

    attachment = Attachment(string=source, name=SOURCE_NAME,
                            description="HTML-kilden dokumentet er laget fra",
                            relationship="Source")
    return HTML(string=source).write_pdf(pdf_variant=PDF_VARIANT, attachments=[attachment],
                                         uncompressed_pdf=False)


def embedded_source(pdf: bytes) -> str | None:
    """The HTML a PDF of ours was made from, or None for a PDF without one."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    files = reader.attachments.get(SOURCE_NAME)
    return files[0].decode("utf-8") if files else None
