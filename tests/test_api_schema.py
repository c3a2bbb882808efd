"""The API's OpenAPI document (valid, API routes only, behind a token or a login) and its
server-side reference page (behind the dashboard's login, no script, no CDN)."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from avtaleflyt import db
from avtaleflyt.services import tokens

from .web_support import client, logged_in, make_user


def _token(url: str) -> dict[str, str]:
    make_user(url, "api")
    with db.session_scope(url) as s:
        token = tokens.create_token(session=s, name="t", username="api")[1]
    return {"Authorization": f"Bearer {token}"}


def test_the_openapi_document_is_valid_and_lists_only_the_api(sqlite_url):
    c = client()
    r = c.get("/api/v1/openapi.json")
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    r = c.get("/api/v1/openapi.json", headers=_token(sqlite_url))
    assert r.status_code == 200, r.text
    doc = r.json()
    validate(doc)  # raises on an invalid OpenAPI document
    paths = set(doc["paths"])
    assert all(p.startswith("/api/v1/") for p in paths), paths
    assert {"/api/v1/ping", "/api/v1/cases", "/api/v1/cases/{knr}", "/api/v1/cases/{knr}/facts",
            "/api/v1/cases/{knr}/hold", "/api/v1/cases/{knr}/resume",
            "/api/v1/cases/{knr}/withdraw", "/api/v1/cases/{knr}/advance",
            "/api/v1/cases/{knr}/notes", "/api/v1/tasks/done",
            "/api/v1/tasks/{task_id}/assign"} <= paths
    assert "/api/v1/openapi.json" not in paths and "/api/v1/docs" not in paths
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    facts = doc["paths"]["/api/v1/cases/{knr}/facts"]["post"]
    problem = facts["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_a_dashboard_login_may_read_the_document(sqlite_url):
    c = logged_in(sqlite_url)
    assert c.get("/api/v1/openapi.json").status_code == 200


def test_the_reference_page_is_behind_the_login_and_needs_no_script(sqlite_url):
    r = client().get("/api/v1/docs")
    assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn")
    c = logged_in(sqlite_url)
    r = c.get("/api/v1/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "API-referanse" in html and "POST /api/v1/cases/{knr}/facts" in html
    assert "notice_months" in html and "Authorization: Bearer" in html
    assert "<script" not in html
    # Nothing from another origin (the CSP allows only 'self').
    assert not re.search(r'(src|href)="https?://', html)
    assert "script-src 'self'" in r.headers["content-security-policy"]
