"""The API's own description: the OpenAPI document (/api/v1/openapi.json, only the API's
routes) and a reference page drawn from it on the server (/api/v1/docs).

FastAPI's Swagger UI and ReDoc load scripts from a CDN, which the dashboard's Content
Security Policy (`script-src 'self'`) forbids and an installation may not reach; the page
here is plain HTML from a Jinja template, with no script at all.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from avtaleflyt.services.users import UserView

from ..auth import current_user
from .base import MEDIA_TYPE, api_or_session_user

router = APIRouter(include_in_schema=False)

TITLE = "Avtaleflyt API"
VERSION = "1"
DESCRIPTION = (
    "JSON-API for avtaleflyt: de samme handlingene som kommandolinjen og nettsiden. "
    "Autentisering med personlig tilgangstoken (`Authorization: Bearer avt_…`, lages med "
    "`avtaleflyt token create NAVN`). Feil er RFC 9457 `application/problem+json` med den "
    "norske meldingen i `detail` og feltet i `field`. `Idempotency-Key` på en POST gjør et "
    "nytt forsøk trygt. Lister er delt i sider: `?page=1&per_page=50` (høyst 100).")

PROBLEM_SCHEMA = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details, med feltene avtaleflyt legger til.",
    "required": ["type", "title", "status", "detail", "field", "error", "exit_code"],
    "properties": {
        "type": {"type": "string", "description": "about:blank eller "
                 "https://avtaleflyt.no/problemer/<slug>"},
        "title": {"type": "string", "description": "Kort norsk tittel."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Meldingen slik kommandolinjen skriver "
                   "den."},
        "field": {"type": ["string", "null"], "description": "Feltet det gjelder, eller null."},
        "error": {"type": "string", "description": "Feilens klasse: InvalidInput, NotFound, "
                  "Conflict, PrefectUnavailable, Unauthorized, …"},
        "exit_code": {"type": "integer", "description": "Avslutningskoden kommandolinjen "
                      "bruker for feilen."},
    },
}
_PROBLEMS = {"401": "Mangler gyldig token", "404": "Fant ikke (også en sak i et annet fylke)",
             "409": "Konflikt med sakens tilstand", "422": "Ugyldig inndata",
             "503": "Prefect svarer ikke"}

_cache: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the /api/v1 routes only (built once per process)."""
    global _cache
    if _cache is None:
        from . import router as api_router

        app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION,
                      openapi_url=None, docs_url=None, redoc_url=None)
        app.include_router(api_router)
        doc = app.openapi()
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        # FastAPI's own 422 body is never sent: every error is a Problem.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        components["securitySchemes"] = {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "Personlig tilgangstoken fra «avtaleflyt token create»."}}
        doc["security"] = [{"bearerAuth": []}]
        problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in doc.get("paths", {}).values():
            for method, op in operations.items():
                responses = op.setdefault("responses", {})
                for code, text in _PROBLEMS.items():
                    if method == "get" and code in ("409", "503"):
                        continue  # a read conflicts with nothing and runs no flow
                    responses[code] = {"description": text, "content": problem}
        _cache = doc
    return _cache


@router.get("/openapi.json")
def openapi_json(user: Annotated[UserView, Depends(api_or_session_user)]) -> JSONResponse:
    """Behind a token or a dashboard login: it lists every action the API offers."""
    return JSONResponse(openapi_document(), headers={"Cache-Control": "private, no-store"})


def _resolve(doc: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    while schema and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema or {}


def _type(doc: dict[str, Any], schema: dict[str, Any]) -> str:
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return " | ".join(_type(doc, s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"liste av {_type(doc, schema.get('items') or {})}"
    if "title" in schema and schema.get("type") == "object" and "properties" in schema:
        return schema["title"]
    return str(schema.get("type", "objekt"))


def reference(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document as rows for the page: one per operation, with its parameters and the
    fields of its JSON body."""
    rows = []
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            schema = _resolve(doc, (body or {}).get("schema"))
            required = set(schema.get("required", []))
            fields = [{"name": name, "type": _type(doc, spec), "required": name in required,
                       "description": spec.get("description", "")}
                      for name, spec in schema.get("properties", {}).items()]
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "type": _type(doc, p.get("schema") or {}),
                       "description": p.get("description", "")}
                      for p in op.get("parameters", [])]
            ok = next((c for c in op.get("responses", {}) if c.startswith("2")), "200")
            rows.append({"method": method.upper(), "path": path,
                         "summary": op.get("summary", ""),
                         "description": op.get("description", ""), "tag": (op.get("tags")
                                                                            or ["API"])[0],
                         "params": params, "fields": fields, "status": ok,
                         "anchor": op.get("operationId", f"{method}-{path}")})
    return rows


@router.get("/docs")
def docs_page(request: Request, user: Annotated[UserView, Depends(current_user)]):
    """The reference page, behind the dashboard's login (a GET without one is sent to the
    login page, as every dashboard page is)."""
    doc = openapi_document()
    rows = reference(doc)
    tags: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        tags.setdefault(row["tag"], []).append(row)
    return request.app.state.pages.render(request, "api_docs.html.j2", title="API-referanse",
                                          user=user, doc=doc, tags=tags)
