"""Render documents from templates to HTML, DOCX and PDF/A.

The built-in templates live in `<repo>/templates/documents`. A county library may override
any of them with a file of the same name in its own folder; since such files are written
outside the project, every template renders in Jinja's immutable sandbox, with autoescaping
and StrictUndefined so a typo fails loudly instead of printing nothing. User text only ever
enters as context values, never as template source, so `{{ 7*7 }}` in a name stays literal.

Rendering returns str/bytes and writes nothing: the caller writes the file once rendering
has succeeded, so a template error can never leave half a document behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from avtaleflyt.documents.context import (
    AgreementContext,
    ChecklistContext,
    DataProcessingContext,
    ExperienceComparisonContext,
    ExperienceReportContext,
    SaksframleggContext,
    YearlyReportContext,
)
from avtaleflyt.documents.html_docx import html_to_docx
from avtaleflyt.documents.html_pdf import html_to_pdf
from avtaleflyt.domain.errors import DomainError
from avtaleflyt.domain.experience import summarise
from avtaleflyt.resources import templates_dir
from avtaleflyt.formatting import (
    format_amount,
    format_date,
    format_date_short,
    format_days,
    format_percent,
)

BUILTIN_TEMPLATE_DIR = templates_dir("documents")


class DocumentError(DomainError):
    """A document could not be rendered; the message names the template and line."""


@dataclass(frozen=True)
class _Kind:
    template: str
    context_type: type
    # Derived values a template needs besides the context itself.
    extras: Callable[[Any], Mapping[str, Any]] = lambda _: {}


def _experience_extras(context: ExperienceReportContext) -> Mapping[str, Any]:
    return {"summary": summarise(context.spans, today=context.generated,
                                 threshold_days=context.stall_threshold_days)}


KINDS: dict[str, _Kind] = {
    "saksframlegg": _Kind("saksframlegg.html.j2", SaksframleggContext),
    "agreement": _Kind("agreement.html.j2", AgreementContext),
    "databehandleravtale": _Kind("databehandleravtale.html.j2", DataProcessingContext),
    "setup_checklist": _Kind("setup_checklist.html.j2", ChecklistContext),
    "yearly_report": _Kind("yearly_report.html.j2", YearlyReportContext),
    "experience_report": _Kind("experience_report.html.j2", ExperienceReportContext,
                               _experience_extras),
    "experience_comparison": _Kind("experience_comparison.html.j2",
                                   ExperienceComparisonContext),
}


def format_whole_days(days: float) -> str:
    """A median of day counts can end in .5; half a day says nothing to a reader, so round."""
    return format_days(int(Decimal(str(days)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


class DocumentRenderer:
    """Renders the document kinds in KINDS; `template_dir_override` files win over built-ins,
    and for a county's documents, files in `template_dir_override/<fylkesnummer>/` win over
    both (so one installation can serve counties with different letterheads)."""

    def __init__(self, template_dir_override: Path | None = None,
                 county: str | None = None) -> None:
        loaders = []
        if template_dir_override is not None:
            if not Path(template_dir_override).is_dir():
                raise DocumentError(
                    f"Malmappen «{template_dir_override}» finnes ikke.", field="template_dir")
            county_dir = Path(template_dir_override) / county if county else None
            if county_dir is not None and county_dir.is_dir():
                loaders.append(FileSystemLoader(county_dir))
            loaders.append(FileSystemLoader(template_dir_override))
        loaders.append(FileSystemLoader(BUILTIN_TEMPLATE_DIR))
        self._env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(
            date=format_date,
            date_short=format_date_short,
            amount=format_amount,
            percent=format_percent,
            days=format_days,
            median_days=format_whole_days,
        )

    def render_html(self, kind: str, context: Any) -> str:
        spec = _kind(kind)
        if not isinstance(context, spec.context_type):
            raise TypeError(f"{kind} needs a {spec.context_type.__name__}, "
                            f"not {type(context).__name__}")
        try:
            template = self._env.get_template(spec.template)
            return template.render(doc=context, **spec.extras(context))
        except Exception as exc:
            error = _document_error(exc, spec.template)
            if error is None:
                raise
            raise error from exc

    def render_docx(self, kind: str, context: Any, *, author: str | None = None,
                    created: datetime | None = None) -> bytes:
        return html_to_docx(self.render_html(kind, context),
                            author=author or document_author(context),
                            created=created or datetime.now(UTC))

    def render_pdf(self, kind: str, context: Any, *, author: str | None = None,
                   created: datetime | None = None) -> bytes:
        return html_to_pdf(self.render_html(kind, context),
                           author=author or document_author(context),
                           created=created or datetime.now(UTC))

    def render(self, kind: str, context: Any, fmt: str, *, author: str | None = None,
               created: datetime | None = None) -> bytes:
        """One format of the document as bytes: "html", "docx" or "pdf" (PDF/A-3b).

        `author` defaults to the county the document comes from, `created` to now; the
        HTML carries neither, so it is the same for the same data."""
        if fmt == "html":
            return self.render_html(kind, context).encode("utf-8")
        if fmt == "docx":
            return self.render_docx(kind, context, author=author, created=created)
        if fmt == "pdf":
            return self.render_pdf(kind, context, author=author, created=created)
        raise DocumentError(f"Ukjent format «{fmt}». Kjente formater: {', '.join(FORMATS)}.",
                            field="format")


FORMATS = ("html", "docx", "pdf")


def document_author(context: Any) -> str:
    """Who wrote the document, for its properties: the county (its name as a party), or the
    county library that made a report, or for the comparison of counties, the product."""
    county = getattr(context, "county", None)
    if county is not None and getattr(county, "name", None):
        return county.name
    return getattr(context, "county_name", None) or "avtaleflyt"


def _kind(kind: str) -> _Kind:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(KINDS)
        raise DocumentError(f"Ukjent dokumenttype «{kind}». Kjente typer: {known}.",
                            field="kind") from None


def _document_error(exc: Exception, template: str) -> DocumentError | None:
    """Name the template file and line that failed, or None if no template is to blame."""
    where = _template_location(exc)
    if where is None and not isinstance(exc, TemplateError):
        return None  # a bug in Python code, not in a template: let it surface as one
    if isinstance(exc, TemplateSyntaxError):
        what = f"syntaksfeil: {exc.message}"
    elif isinstance(exc, SecurityError):
        what = f"ikke tillatt i en mal: {exc}"
    elif isinstance(exc, UndefinedError):
        what = f"ukjent verdi: {exc}"
    elif isinstance(exc, TemplateNotFound):
        what = f"fant ikke malen «{exc.name}»"
    else:
        what = f"{type(exc).__name__}: {exc}"
    if where is None:
        return DocumentError(f"Malfeil i «{template}»: {what}")
    name, line = where
    return DocumentError(f"Malfeil i «{name}», linje {line}: {what}")


def _template_location(exc: Exception) -> tuple[str, int] | None:
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return Path(exc.filename or exc.name or "?").name, exc.lineno
    # Jinja rewrites tracebacks so template frames carry the template file and line;
    # the innermost one is where the failing expression is.
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (Path(filename).name, tb.tb_lineno)
        tb = tb.tb_next
    return found
