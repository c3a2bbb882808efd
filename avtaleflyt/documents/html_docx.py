"""Turn a rendered document's HTML into a Word file.

Each document has one template, so its wording is reviewed in one place; the DOCX is
derived from the same HTML instead of from a second template that could drift. The
converter knows only the small, regular subset of HTML our templates use: h1-h3, p,
strong/b, em/i, br, ul/ol/li, table/tr/th/td and `<div class="signature">` holding one
`<div>` per signatory. Anything else is transparent: its text is kept, its tag ignored.
Text arrives entity-decoded from `html.parser`, so what a user typed comes out literally.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser

import docx
from docx.document import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Emu, Mm, Pt
from docx.table import _Row
from docx.text.paragraph import Paragraph

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3}
_WHITESPACE = re.compile(r"\s+")
# Norwegian Bokmål, so Word checks spelling and hyphenates as Norwegian.
LANGUAGE = "nb-NO"
# The text width between the margins set in _set_up_page: 210 mm - 25 mm - 20 mm.
_TEXT_WIDTH = Mm(165)
# Widths for fitting table columns to their words: a generous average character at 11 pt
# (wide enough for DejaVu Sans, the font LibreOffice falls back to when Calibri and Carlito
# are missing, so also for Calibri), bold header text wider, and Word's default cell
# margins (0.08 inch either side).
_CHAR = Mm(2.5)
_BOLD_CHAR = Mm(2.8)
_CELL_PADDING = Mm(4.3)


@dataclass
class _Run:
    text: str
    bold: bool
    italic: bool


@dataclass
class _Para:
    style: str | None = None
    classes: frozenset[str] = frozenset()
    list_id: int | None = None  # which <ol> an ordered list item belongs to
    runs: list[_Run] = field(default_factory=list)

    def add(self, text: str, bold: bool, italic: bool) -> None:
        """Append text the way a browser lays it out: no leading or doubled spaces."""
        last = self.runs[-1].text[-1:] if self.runs else ""
        if last in ("", " ", "\n"):
            text = text.lstrip(" ")
        if text == "\n" and self.runs:
            self.runs[-1].text = self.runs[-1].text.rstrip(" ")
        if not text:
            return
        if self.runs and (self.runs[-1].bold, self.runs[-1].italic) == (bold, italic):
            self.runs[-1].text += text
        else:
            self.runs.append(_Run(text, bold, italic))

    def finish(self) -> None:
        if self.runs:
            self.runs[-1].text = self.runs[-1].text.rstrip(" ")
        self.runs = [r for r in self.runs if r.text]


@dataclass
class _Cell:
    paragraphs: list[_Para] = field(default_factory=list)
    header: bool = False


@dataclass
class _Table:
    signature: bool
    rows: list[list[_Cell]] = field(default_factory=list)


class _Parser(HTMLParser):
    """Collects the document as paragraphs and tables, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Para | _Table] = []
        self.title = ""
        self._skip = 0  # inside <style> or <script>
        self._in_title = False
        self._bold = 0
        self._italic = 0
        self._para: _Para | None = None
        self._lists: list[int | None] = []  # per open list: its id if ordered, else None
        self._list_count = 0
        self._table: _Table | None = None
        self._cell: _Cell | None = None
        self._divs: list[str] = []  # per open div: "signature", "signatory" or ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = frozenset((dict(attrs).get("class") or "").split())
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._open(_Para(style=f"Heading {_HEADINGS[tag]}"))
        elif tag == "p":
            self._open(_Para(classes=classes))
        elif tag in ("ul", "ol"):
            self._close()
            self._list_count += 1
            self._lists.append(self._list_count if tag == "ol" else None)
        elif tag == "li":
            self._open(self._list_item())
        elif tag in ("strong", "b", "th"):
            self._bold += 1
        elif tag in ("em", "i"):
            self._italic += 1
        elif tag == "br":
            self.handle_data("\n")
        if tag == "table":
            self._close()
            self._table = _Table(signature=False)
        elif tag == "tr" and self._table is not None:
            self._table.rows.append([])
        elif tag in ("td", "th") and self._table is not None and self._table.rows:
            self._start_cell(_Cell(header=tag == "th"), self._table.rows[-1])
        elif tag == "div":
            self._start_div(classes)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS or tag in ("p", "li"):
            self._close()
        elif tag in ("ul", "ol"):
            self._close()
            if self._lists:
                self._lists.pop()
        elif tag in ("strong", "b"):
            self._bold = max(0, self._bold - 1)
        elif tag in ("em", "i"):
            self._italic = max(0, self._italic - 1)
        if tag in ("td", "th"):
            self._close()
            self._cell = None
            if tag == "th":
                self._bold = max(0, self._bold - 1)
        elif tag == "table":
            self._end_table()
        elif tag == "div" and self._divs:
            role = self._divs.pop()
            if role == "signatory":
                self._close()
                self._cell = None
            elif role == "signature":
                self._end_table()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
            return
        text = data if data == "\n" else _WHITESPACE.sub(" ", data)
        if self._para is None:
            if not text.strip() or (self._table is not None and self._cell is None):
                return  # layout whitespace, or stray text between table cells
            self._para = _Para()
        self._para.add(text, self._bold > 0, self._italic > 0)

    def _list_item(self) -> _Para:
        depth = len(self._lists)
        list_id = self._lists[-1] if self._lists else None
        style = "List Number" if list_id is not None else "List Bullet"
        if depth > 1:
            style += f" {min(depth, 3)}"
        return _Para(style=style, list_id=list_id if depth <= 1 else None)

    def _start_div(self, classes: frozenset[str]) -> None:
        self._close()
        if "signature" in classes:
            self._table = _Table(signature=True, rows=[[]])
            self._divs.append("signature")
        elif self._divs and self._divs[-1] == "signature" and self._table is not None:
            self._start_cell(_Cell(), self._table.rows[0])
            self._divs.append("signatory")
        else:
            self._divs.append("")

    def _start_cell(self, cell: _Cell, row: list[_Cell]) -> None:
        self._close()
        row.append(cell)
        self._cell = cell

    def _end_table(self) -> None:
        self._close()
        if self._table is not None:
            self.blocks.append(self._table)
        self._table, self._cell = None, None

    def _open(self, para: _Para) -> None:
        self._close()
        self._para = para

    def _close(self) -> None:
        if self._para is None:
            return
        para, self._para = self._para, None
        para.finish()
        if not para.runs:
            return
        if self._cell is not None:
            self._cell.paragraphs.append(para)
        elif self._table is None:
            self.blocks.append(para)


def html_to_docx(html: str, *, author: str, created: datetime | None = None) -> bytes:
    """The Word version of `html`, as bytes; the caller decides where they are written.

    `author` (the county) and `created` (default: now) become the file's properties; the
    title is the HTML's <title>. Styles and runs are marked as Norwegian Bokmål, and the
    footer numbers the pages («Side 2 av 5»)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    document = docx.Document()
    _set_up_page(document)
    _set_properties(document, parser.title.strip(), author, created or datetime.now(UTC))
    _set_language(document)
    _page_numbers(document)
    numbering = _Numbering(document)
    for block in parser.blocks:
        if isinstance(block, _Table):
            _write_table(document, block, numbering)
        else:
            _write_paragraph(document.add_paragraph(), block, numbering)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _set_up_page(document: Document) -> None:
    """A4 with the same margins as the print CSS in base.html.j2."""
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = section.bottom_margin = Mm(25)
    section.left_margin, section.right_margin = Mm(25), Mm(20)


def _set_properties(document: Document, title: str, author: str, created: datetime) -> None:
    props = document.core_properties
    created = created.astimezone(UTC).replace(microsecond=0, tzinfo=None)  # stored as UTC
    props.title = title
    props.author = author
    props.last_modified_by = author
    props.created = created
    props.modified = created
    props.language = LANGUAGE
    props.revision = 1
    props.comments = ""
    props.keywords = ""
    props.subject = ""


def _lang_element() -> OxmlElement:
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), LANGUAGE)
    lang.set(qn("w:eastAsia"), LANGUAGE)
    lang.set(qn("w:bidi"), "ar-SA")
    return lang


def _set_lang(rpr) -> None:
    for old in rpr.findall(qn("w:lang")):
        rpr.remove(old)
    rpr.append(_lang_element())


def _set_language(document: Document) -> None:
    """Norwegian Bokmål as the proofing language: the document default, every style that
    sets a language of its own (python-docx's template says en-US), and each written run."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")) if defaults is not None else None
    if rpr_default is not None:
        _set_lang(rpr_default.get_or_add_rPr() if hasattr(rpr_default, "get_or_add_rPr")
                  else rpr_default.find(qn("w:rPr")))
    for style in document.styles:
        element = style.element
        rpr = element.find(qn("w:rPr"))
        if rpr is not None and rpr.find(qn("w:lang")) is not None:
            _set_lang(rpr)
    document.styles["Normal"].element.get_or_add_rPr()
    _set_lang(document.styles["Normal"].element.rPr)


def _field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word updates when it lays out the pages."""
    def char(kind: str):
        run = paragraph.add_run()
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        run._r.append(element)

    char("begin")
    run = paragraph.add_run()
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    char("separate")
    paragraph.add_run(shown)
    char("end")


def _page_numbers(document: Document) -> None:
    """«Side N av M», centred in the footer of every page, as the PDF has it."""
    footer = document.sections[0].footer
    paragraph = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Side ")
    _field(paragraph, "PAGE", "1")
    paragraph.add_run(" av ")
    _field(paragraph, "NUMPAGES", "1")
    for run in paragraph.runs:
        run.font.size = Pt(9)
        _set_lang(run._r.get_or_add_rPr())


class _Numbering:
    """Restart numbering for every <ol>; Word would otherwise continue 1, 2, 3 across lists."""

    def __init__(self, document: Document) -> None:
        self._document = document
        self._num_ids: dict[int, int] = {}

    def apply(self, paragraph: Paragraph, list_id: int) -> None:
        if list_id not in self._num_ids:
            self._num_ids[list_id] = self._restarted_num(paragraph)
        num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = self._num_ids[list_id]

    def _restarted_num(self, paragraph: Paragraph) -> int:
        numbering = self._document.part.numbering_part.element
        style_num_id = paragraph.style.element.pPr.numPr.numId.val
        abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        return num.numId


def _write_paragraph(paragraph: Paragraph, para: _Para, numbering: _Numbering) -> None:
    if para.style:
        paragraph.style = para.style
    if para.list_id is not None:
        numbering.apply(paragraph, para.list_id)
    sign_field = "sign-field" in para.classes
    if sign_field:
        _top_border(paragraph)
        paragraph.paragraph_format.space_before = Pt(30)
    for run in para.runs:
        written = paragraph.add_run(run.text)  # python-docx turns "\n" into a line break
        written.bold = run.bold or None
        written.italic = run.italic or None
        if sign_field:
            written.font.size = Pt(9)
        _set_lang(written._r.get_or_add_rPr())


def _top_border(paragraph: Paragraph) -> None:
    """The line a signatory signs on, drawn above its label as in the CSS."""
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("val", "single"), ("sz", "6"), ("space", "1"), ("color", "000000")):
        top.set(qn(f"w:{key}"), value)
    borders.append(top)
    paragraph._p.get_or_add_pPr().append(borders)


def _write_table(document: Document, block: _Table, numbering: _Numbering) -> None:
    columns = max((len(row) for row in block.rows), default=0)
    if columns == 0:
        return
    table = document.add_table(rows=len(block.rows), cols=columns)
    if not block.signature:
        table.style = "Table Grid"  # signature lines are laid out side by side, unframed
    widths = ([Emu(int(_TEXT_WIDTH / columns))] * columns if block.signature
              else column_widths(block.rows, columns))
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    for col_index, width in enumerate(widths):
        table.columns[col_index].width = width
    for row, cells in zip(table.rows, block.rows):
        if cells and all(cell.header for cell in cells):
            _repeat_as_header(row)
        for col_index, target in enumerate(row.cells):
            target.width = widths[col_index]  # Word reads the width of each cell
        for target, cell in zip(row.cells, cells):
            for i, para in enumerate(cell.paragraphs):
                paragraph = target.paragraphs[0] if i == 0 else target.add_paragraph()
                _write_paragraph(paragraph, para, numbering)


def _cell_words(cell: _Cell) -> list[tuple[str, bool]]:
    return [(word, run.bold or cell.header)
            for para in cell.paragraphs for run in para.runs for word in run.text.split()]


def column_widths(rows: list[list[_Cell]], columns: int, total: int = _TEXT_WIDTH) -> list[Emu]:
    """Widths that never break a word: each column gets at least its longest word (plus
    the cell margins); what is left of the text width goes to the columns with the most
    text, in proportion to how much wider than that minimum they would like to be."""
    minimum = [int(_CELL_PADDING)] * columns
    wanted = [int(_CELL_PADDING)] * columns
    for row in rows:
        for i, cell in enumerate(row[:columns]):
            words = _cell_words(cell)
            longest = max((len(w) * (_BOLD_CHAR if bold else _CHAR) for w, bold in words),
                          default=0)
            length = sum((len(w) + 1) * (_BOLD_CHAR if bold else _CHAR) for w, bold in words)
            minimum[i] = max(minimum[i], int(longest + _CELL_PADDING))
            wanted[i] = max(wanted[i], int(length + _CELL_PADDING))
    spare = total - sum(minimum)
    if spare <= 0:  # even the longest words do not fit side by side: share out by them
        return [Emu(int(total * m / sum(minimum))) for m in minimum]
    extra = [max(0, w - m) for w, m in zip(wanted, minimum)]
    if sum(extra) <= spare:  # everything fits on one line; the rest by the same shares
        room = spare - sum(extra)
        shares = [w for w in wanted]
        return [Emu(int(m + e + room * s / sum(shares)))
                for m, e, s in zip(minimum, extra, shares)]
    return [Emu(int(m + spare * e / sum(extra))) for m, e in zip(minimum, extra)]


def _repeat_as_header(row: _Row) -> None:
    """Mark a header row so Word repeats it on every page the table spans."""
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(header)
