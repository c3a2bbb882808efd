"""Helpers for the API tests of contacts, meetings, documents and reports (not a test
module itself): users with tokens, and an authenticated TestClient."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import func, select

from avtaleflyt import db
from avtaleflyt.services import tokens

from .web_support import client, make_user


class Api:
    """A TestClient that sends one user's token with every request."""

    def __init__(self, url: str, username: str = "kari", county: str | None = "18") -> None:
        make_user(url, username, county)
        with db.session_scope(url) as s:
            self.token = tokens.create_token(session=s, name="test", username=username)[1]
        self.http: TestClient = client()
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def __getattr__(self, method: str):
        if method not in ("get", "post", "patch", "delete", "put"):
            raise AttributeError(method)

        def call(path: str, *, key: str | None = None, headers: dict | None = None,
                 **kw: Any):
            h = {**self.headers, **(headers or {})}
            if key is not None:
                h["Idempotency-Key"] = key
            return self.http.request(method.upper(), "/api/v1" + path, headers=h, **kw)

        return call


def problem(r, status: int, field: str | None = ...) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with this status (and field, when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["detail"] and body["title"]
    if field is not ...:
        assert body["field"] == field, body
    return body


def count(url: str, model, *where) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()
