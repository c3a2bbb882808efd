"""The JSON API's documents, deadlines, reminders and reports: listing (paged, as the CLI's
`--json`), rendering a new version, downloading the stored bytes with the right type,
county scope and idempotency. Rendering is not a flow, so nothing here starts Prefect."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import AccessLog, Document
from avtaleflyt.services import document_store
from avtaleflyt.services.documents import store_document

from .api_rest_support import Api, count, problem
from .conftest import ctx_for
from .web_support import client, open_case, to_political

TODAY = date(2026, 3, 20)
runner = CliRunner()


@pytest.fixture
def world(db_url, monkeypatch):
    """Rødøy in political approval (a saksframlegg as HTML and DOCX, a reminder that the
    meeting plan is missing), Meløy in first contact (deadlines), Oslo with a case and a
    stored agreement, Trondheim in political approval (another county's reminder)."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    to_political(db_url, "1836", date(2026, 3, 2))
    open_case(db_url, "1837", date(2026, 3, 2))  # Meløy, in first contact
    open_case(db_url, "0301", date(2026, 3, 2))
    to_political(db_url, "5001", date(2026, 3, 2))  # Trondheim: reminders of county 50
    with db.session_scope(db_url) as s:
        store_document(session=s, kind="saksframlegg", ctx=ctx_for(TODAY),
                       kommunenummer="1836", formats=("html", "docx"))
        store_document(session=s, kind="agreement", ctx=ctx_for(TODAY), kommunenummer="0301")
    return db_url


ROUTES = [("GET", "/cases/1836/documents"), ("POST", "/cases/1836/documents"),
          ("GET", "/cases/1836/documents/saksframlegg/1.html"),
          ("GET", "/documents/1836/saksframlegg-v1.html"), ("GET", "/deadlines"),
          ("GET", "/reminders"), ("GET", "/reports"), ("GET", "/reports/experience"),
          ("POST", "/reports/experience")]


def test_every_route_needs_a_token(world):
    c = client()
    for method, path in ROUTES:
        for headers in ({}, {"Authorization": "Bearer avt_feil-token"}):
            r = c.request(method, "/api/v1" + path, json={"kind": "agreement"}, headers=headers)
            problem(r, 401)
            assert "Rødøy" not in r.text
    with db.session_scope(world) as s:  # a revoked token is refused the same way
        from avtaleflyt.services import tokens

        api = Api(world)
        tokens.revoke_token(session=s, which="test")
    for method, path in ROUTES:
        problem(api.get(path) if method == "GET" else api.post(path, json={}), 401)


def test_list_render_and_download(world):
    api = Api(world)
    listed = api.get("/cases/1836/documents").json()
    cli = json.loads(runner.invoke(app, ["doc", "list", "1836", "--json"]).output)
    assert listed == {"items": cli, "total": len(cli), "page": 1, "per_page": 50}
    assert [d["path"] for d in cli] == ["1836/saksframlegg-v1.docx",
                                        "1836/saksframlegg-v1.html"]

    r = api.post("/cases/1836/documents", json={"kind": "agreement", "format": "pdf"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["path"] == "1836/agreement-v1.pdf" and made["version"] == 1
    assert made["message"].startswith("Lagret 1836/agreement-v1.pdf (versjon 1, SHA-256 ")
    with db.session_scope(world) as s:
        stored = document_store.content(s, document_store.by_name(s, made["path"]))

    for fmt, media in (("pdf", "application/pdf"),
                       ("html", "text/html; charset=utf-8"),
                       ("docx", "application/vnd.openxmlformats-officedocument."
                                "wordprocessingml.document")):
        name = "agreement/1.pdf" if fmt == "pdf" else f"saksframlegg/1.{fmt}"
        r = api.get(f"/cases/1836/documents/{name}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == media
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        if fmt == "pdf":
            assert r.content == stored and r.content.startswith(b"%PDF-")
        elif fmt == "html":
            assert "Rødøy" in r.text
        else:
            assert r.content.startswith(b"PK")  # a DOCX is a zip
    # By the name `doc list` shows, as `doc get` takes it: the same bytes.
    by_name = api.get("/documents/1836/agreement-v1.pdf")
    assert by_name.status_code == 200 and by_name.content == stored
    # Every download is in the access log, by the token's user.
    assert count(world, AccessLog, AccessLog.action == "document",
                 AccessLog.username == "kari") == 4
    # `store: false` is `doc render --out FIL`: the file itself, and no version stored.
    before = count(world, Document)
    r = api.post("/cases/1836/documents", json={"kind": "agreement", "format": "docx",
                                                 "store": False})
    assert r.status_code == 200 and r.content.startswith(b"PK")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert count(world, Document) == before
    problem(api.get("/cases/1836/documents/agreement/2.pdf"), 404, "document")
    problem(api.get("/cases/1836/documents/..%2F..%2Fsession_secret/1.html"), 404)
    problem(api.get("/documents/1836/agreement-v9.pdf"), 404)


def test_another_countys_documents_are_not_found(world):
    api = Api(world)
    before = count(world, Document)
    problem(api.get("/cases/0301/documents"), 404, "kommunenummer")
    problem(api.post("/cases/0301/documents", json={"kind": "agreement"}), 404,
            "kommunenummer")
    problem(api.get("/cases/0301/documents/agreement/1.html"), 404, "kommunenummer")
    hidden = problem(api.get("/documents/0301/agreement-v1.html"), 404)
    missing = problem(api.get("/documents/0301/agreement-v7.html"), 404)
    assert hidden["detail"] == missing["detail"].replace("v7", "v1")
    assert count(world, Document) == before
    assert count(world, AccessLog, AccessLog.action == "document") == 0
    national = Api(world, "nasjonal", county=None)
    assert national.get("/documents/0301/agreement-v1.html").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"kind": "roman"}, "kind"), ({"kind": "agreement", "format": "odt"}, "format"),
    ({}, "kind"), ({"kind": "agreement", "colour": "blå"}, "colour"),
    ({"kind": "agreement", "year": "i fjor"}, "year")])
def test_bad_render_input_is_a_problem_naming_the_field(world, body, field):
    api = Api(world)
    before = count(world, Document)
    p = problem(api.post("/cases/1836/documents", json=body), 422, field)
    assert p["exit_code"] == 2
    assert count(world, Document) == before


def test_the_same_idempotency_key_stores_one_version(world):
    api = Api(world)
    first = api.post("/cases/1836/documents", json={"kind": "agreement"}, key="avtale-1836-a")
    again = api.post("/cases/1836/documents", json={"kind": "agreement"}, key="avtale-1836-a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count(world, Document, Document.kind == "agreement",
                 Document.municipality_id.is_not(None)) == 2  # Oslo's and this one
    new = api.post("/cases/1836/documents", json={"kind": "agreement"}, key="avtale-1836-b")
    assert new.json()["version"] == 2


def test_deadlines_and_reports_as_the_cli_with_the_users_county(world):
    api = Api(world)
    everywhere = json.loads(runner.invoke(app, ["deadlines", "--days", "60", "--json"]).output)
    cli = json.loads(runner.invoke(app, ["deadlines", "--days", "60", "--county", "18",
                                         "--json"]).output)
    assert {r["kommunenummer"] for r in everywhere} == {"1837", "0301"}
    page = api.get("/deadlines", params={"days": 60}).json()
    assert page["items"] == cli and page["total"] == len(cli) > 1  # Nordland's only
    two = api.get("/deadlines", params={"days": 60, "per_page": 1, "page": 2}).json()
    assert two["items"] == cli[1:2]
    problem(api.get("/deadlines", params={"county": "03"}), 404, "county")
    problem(api.get("/deadlines", params={"days": -1}), 422, "days")
    reminders = json.loads(runner.invoke(app, ["reminders", "list", "--json"]).output)
    assert {r["kommunenummer"] for r in reminders} == {"1836", "5001"}
    mine = api.get("/reminders").json()
    assert mine["items"] == [r for r in reminders if r["kommunenummer"] == "1836"]
    assert mine["total"] == len(mine["items"]) > 0
    national = Api(world, "nasjonal", county=None)
    assert national.get("/reminders").json()["items"] == reminders

    r = api.post("/reports/experience", json={"format": "html"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["path"] == "fylke-18/experience_report-v1.html", report
    listed = api.get("/reports").json()
    assert [d["path"] for d in listed["items"]] == [report["path"]]
    assert listed["items"] == json.loads(
        runner.invoke(app, ["report", "list", "--county", "18", "--json"]).output)
    unstored = api.post("/reports/experience", json={"store": False})
    assert unstored.status_code == 200 and "<html" in unstored.text.lower()
    assert api.get("/reports").json()["total"] == 1
    figures = api.get("/reports/experience").json()
    assert figures["scope"] == "county" and figures["county_code"] == "18"
    # Another county's reports are not this user's to make or see.
    problem(api.post("/reports/experience", json={"county": "03"}), 404, "county")
    problem(api.get("/reports", params={"county": "03"}), 404, "county")
