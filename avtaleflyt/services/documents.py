"""Documents from the case store: the document kinds, and rendering one from current data.

Rendering happens entirely in memory first; only a document that rendered completely is
stored, so a template error leaves nothing. The module is split by responsibility:

- `document_contexts.py`: what each case document shows (saksframlegg, agreements,
  setup checklist, yearly report);
- `experience_report.py`: the experience report and the comparison of the counties;
- `document_store.py`: storing versions, the stage drafts, listing, the bytes.

The names callers use (`render`, `store_document`, `ensure_stage_documents`,
`list_documents`, `experience_figures`, the file helpers) stay importable from here.
Nothing here imports Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from avtaleflyt.documents.kinds import CASE_KINDS, COUNTY_KINDS, FORMATS, KIND_LABELS
from avtaleflyt.documents.render import DocumentRenderer
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.settings import Settings

from . import scope as scopes
from .context import Ctx
from .document_contexts import (
    Scope,
    agreement_context,
    case_scope,
    checklist_context,
    data_processing_context,
    saksframlegg_context,
    yearly_report_context,
)
from .experience_report import comparison_context, experience_context, report_county

# --- input checks ---------------------------------------------------------------------


def check_kind(kind: str, allowed: tuple[str, ...] = CASE_KINDS) -> str:
    kind = kind.strip().lower().replace("-", "_")
    if kind not in allowed:
        raise InvalidInput(f"Ukjent dokumenttype «{kind}». Velg en av: {', '.join(allowed)}.",
                           field="kind")
    return kind


def check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"«--format»: «{fmt}» er ikke et gyldig format. Velg html, docx "
                           "eller pdf.", field="format")
    return fmt


# --- rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    scope: Scope
    kind: str
    files: dict[str, bytes]  # format -> content


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from avtaleflyt import runtime  # the entry point's settings (a cycle at import time)

    return runtime.settings()


def render(*, session: Session, kind: str, formats: tuple[str, ...], ctx: Ctx,
           kommunenummer: str | None = None, county: str | None = None,
           year: int | None = None, settings: Settings | None = None,
           read_scope: scopes.Scope = scopes.EVERYWHERE) -> Rendered:
    """Render one document from the current data, in every format asked for, in memory.

    The experience report covers `county` (or `read_scope`'s county, or the one county that
    has cases); otherwise it becomes the comparison of the counties."""
    kind = check_kind(kind, CASE_KINDS + COUNTY_KINDS)
    formats = tuple(dict.fromkeys(check_format(f) for f in formats))
    if kind in COUNTY_KINDS:
        c = (None if kind == "experience_comparison"
             else report_county(session, county, read_scope))
        scope = Scope(c)
        if c is None:
            kind = "experience_comparison"
            context: Any = comparison_context(session, ctx)
        else:
            context = experience_context(session, c, ctx)
    else:
        if kommunenummer is None:
            raise InvalidInput("Kommunenummer mangler.", field="kommunenummer")
        scope = case_scope(session, kommunenummer)
        ctx = ctx.for_county(scope.county.code)  # the county's standard offer and deadlines
        if kind == "saksframlegg":
            context = saksframlegg_context(session, scope, ctx)
        elif kind == "agreement":
            context = agreement_context(session, scope, ctx)
        elif kind == "databehandleravtale":
            context = data_processing_context(session, scope, ctx)
        elif kind == "setup_checklist":
            context = checklist_context(session, scope, ctx)
        else:
            context = yearly_report_context(session, scope, ctx,
                                            year if year is not None else ctx.today.year - 1)
    renderer = DocumentRenderer(_settings(settings).template_dir, 
                                county=scope.county.code if scope.county else None)
    created = datetime.now(UTC)  # the files' "created" property; the HTML does not carry it
    files = {fmt: renderer.render(kind, context, fmt, created=created) for fmt in formats}
    return Rendered(scope, kind, files)


# --- the names callers import from here ----------------------------------------------

__all__ = [
    "CASE_KINDS", "COUNTY_KINDS", "FORMATS", "KIND_LABELS", "Rendered",
    "Scope", "check_format", "check_kind", "comparison_figures", "disk_problem",
    "documents_root", "ensure_stage_documents", "experience_figures", "list_documents",
    "render", "replace_file", "store_document", "write_atomically",
]

from .document_store import (  # noqa: E402,F401
    disk_problem,
    documents_root,
    ensure_stage_documents,
    list_documents,
    replace_file,
    store_document,
    write_atomically,
)
from .experience_report import comparison_figures, experience_figures  # noqa: E402,F401
