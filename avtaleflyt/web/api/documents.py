"""/api/v1 documents of a case: list, render a new version, download a stored one.

As `doc list|render|get`: rendering changes no case (it appends no event and moves no
stage), so it is not a flow run; the stored version is its own insert-only `document` row.
A download is looked up in the database (never a path taken from the URL) and logged in
the access log, as the dashboard's download is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from avtaleflyt import runtime
from avtaleflyt.domain.errors import NotFound
from avtaleflyt.services.privacy import log_access

from .base import ApiUser, IdempotencyKey, Page, PageParams, paged
from .direct import once

router = APIRouter(tags=["Dokumenter"])

MEDIA_TYPES = {"html": "text/html; charset=utf-8",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "pdf": "application/pdf"}


class RenderIn(BaseModel):
    """As `doc render KNR KIND [--format html|docx|pdf] [--year YYYY]`; `store: false` is
    `--out FIL`: the rendered file is the answer, and no version is stored."""

    model_config = ConfigDict(extra="forbid")
    kind: str = ""
    format: str = "html"
    year: int | None = None
    store: bool = True


def stored_answer(row) -> dict[str, Any]:
    """A stored version as `doc list --json` shows it, and the line `doc render` prints."""
    return {"message": f"Lagret {row.path} (versjon {row.version}, SHA-256 "
                       f"{row.sha256[:12]}…). Hent en kopi med «avtaleflyt doc get {row.path} "
                       "--out FIL».",
            "kind": row.kind, "version": row.version, "format": row.format,
            "created_on": row.created_on.isoformat(), "sha256": row.sha256, "size": row.size,
            "path": row.path}


def file_answer(data: bytes, fmt: str, filename: str, sha256: str | None = None) -> Response:
    """A document's bytes as an attachment (an HTML document never runs in our origin)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"',
               "Cache-Control": "private, no-store"}
    if sha256:
        headers["ETag"] = f'"{sha256}"'
    return Response(data, media_type=MEDIA_TYPES.get(fmt, "application/octet-stream"),
                    headers=headers)


def download(data: bytes, doc: dict[str, Any] | Any) -> Response:
    """A stored version's bytes, named as its version."""
    get = doc.get if isinstance(doc, dict) else lambda k: getattr(doc, k)
    return file_answer(data, get("format"), get("path").rsplit("/", 1)[-1], get("sha256"))


@router.get("/cases/{knr}/documents", response_model=Page[dict[str, Any]],
            summary="Sakens lagrede dokumenter (som «doc list --json»)")
def list_documents(user: ApiUser, knr: str, paging: PageParams) -> dict[str, Any]:
    """Kommunens lagrede dokumenter, som `doc list KNR --json`."""
    from avtaleflyt.services.documents import list_documents as rows_of

    with runtime.session() as s:
        rows = rows_of(session=s, kommunenummer=knr, read_scope=user.scope)
    return paged(rows, paging.page, paging.per_page)


@router.post("/cases/{knr}/documents", status_code=201,
             summary="Lag et dokument (som «doc render»)")
def render_document(user: ApiUser, key: IdempotencyKey, knr: str,
                    body: RenderIn) -> dict[str, Any]:
    """Lag og lagre en ny versjon fra dagens data (som `doc render KNR KIND`). Gamle
    versjoner beholdes alltid."""
    from avtaleflyt.services import documents
    from avtaleflyt.services.store import get_municipality

    kind = documents.check_kind(body.kind, documents.CASE_KINDS)
    fmt = documents.check_format(body.format)
    if not body.store:
        with runtime.session() as s:
            get_municipality(s, knr, user.scope)
            rendered = documents.render(session=s, kind=kind, formats=(fmt,),
                                        ctx=runtime.ctx(actor=user.username),
                                        kommunenummer=knr, year=body.year)
            log_access(s, username=user.username, action="document", kommunenummer=knr,
                       object=f"{kind} ({fmt}), laget uten å lagres, via API")
        return file_answer(rendered.files[fmt], fmt, f"{knr}-{rendered.kind}.{fmt}")

    def go() -> dict[str, Any]:
        with runtime.session() as s:
            get_municipality(s, knr, user.scope)
            [row] = documents.store_document(session=s, kind=kind, formats=(fmt,),
                                             ctx=runtime.ctx(actor=user.username),
                                             kommunenummer=knr, year=body.year)
            return stored_answer(row)

    return once(user, key, "render_document", go)


@router.get("/cases/{knr}/documents/{kind}/{version}.{fmt}",
            summary="Last ned en lagret versjon",
            responses={200: {"content": {t.split(";")[0]: {} for t in MEDIA_TYPES.values()},
                             "description": "Den lagrede versjonen, byte for byte."}})
def get_document(user: ApiUser, knr: str, kind: str, version: int, fmt: str) -> Response:
    """Last ned en lagret versjon (samme innhold og SHA-256 som `doc get`)."""
    from avtaleflyt.services import document_store
    from avtaleflyt.services.documents import list_documents as rows_of

    with runtime.session() as s:
        docs = rows_of(session=s, kommunenummer=knr, read_scope=user.scope)
        doc = next((d for d in docs if (d["kind"], d["version"], d["format"]) ==
                    (kind, version, fmt)), None)
        if doc is None:
            raise NotFound(f"Fant ikke dokumentet {kind} versjon {version} ({fmt}) for "
                           f"{knr}. Se «avtaleflyt doc list {knr}».", field="document")
        data = document_store.read_blob(s, doc["sha256"])
        log_access(s, username=user.username, action="document", kommunenummer=knr,
                   case_id=doc.get("case_id"), object=f"{kind} v{version} ({fmt}) via API")
    return download(data, doc)


@router.get("/documents/{name:path}",
            summary="Last ned en lagret versjon ved navn (som «doc get»)",
            responses={200: {"content": {t.split(";")[0]: {} for t in MEDIA_TYPES.values()},
                             "description": "Den lagrede versjonen, byte for byte."}})
def get_by_name(user: ApiUser, name: str) -> Response:
    """Last ned en lagret versjon ved navnet `doc list`/`report list` viser
    (f.eks. `1836/agreement-v2.docx`), som `doc get NAVN`."""
    from avtaleflyt.models import Municipality
    from avtaleflyt.services import document_store

    with runtime.session() as s:
        doc = document_store.by_name(s, name)
        m = s.get(Municipality, doc.municipality_id) if doc.municipality_id else None
        county_id = m.county_id if m is not None else doc.county_id
        if not user.scope.allows(county_id):
            # Another county's document (or, for a county's user, a national report): the
            # same answer as for a name that is not there.
            raise NotFound(f"Fant ikke dokumentet «{name}». Se navnene med «avtaleflyt doc "
                           "list KOMMUNENUMMER» eller «avtaleflyt report list».")
        data = document_store.content(s, doc)
        log_access(s, username=user.username, action="document",
                   kommunenummer=m.kommunenummer if m is not None else None,
                   case_id=doc.case_id, object=f"{doc.path} via API")
        return download(data, doc)
