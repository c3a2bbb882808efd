"""Security checks against ONE running `avtaleflyt serve`, over real HTTP.

A data directory gets a realistic year through the real CLI (`avtaleflyt demo --reuse`,
pointed at serve's own Prefect server), a contact person with a phone number who is
assigned a setup task and named in stored documents, and a note and a hold reason typed into
the dashboard's forms of the running server. Then, against that server:

1. a session cookie replayed after logout is refused (GET → login, POST → 401);
2. 20 bad logins for one name: 429 from the 6th on, in Norwegian, and the right password is
   refused while throttled;
3. no note text, hold/withdraw reason, contact name or e-mail, nor the dashboard login name,
   is anywhere in Prefect's own database files, in any flow run's name or parameters, or in
   the logs endpoint;
4. erasing a contact removes their name, e-mail and phone from every table of the
   application database and from every stored document (HTML and DOCX's XML);
5. the data directory, the databases, the secrets and the documents are private (0700/0600);
6. a foreign-origin form post riding on the session cookie without the CSRF token is
   refused and changes nothing.

Prefect's 401s without the credential and its CORS answers are covered in
tests/test_prefect_security.py (`test_serve_prefect_api_requires_the_stored_credential`),
not repeated here.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import zipfile
from contextlib import closing
from datetime import date
from pathlib import Path

import httpx
import pytest

from avtaleflyt.cli.demo import scenario

from .test_serve import Serve
from .web_support import PASSWORD, csrf_of

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

USER = "vilde.saksbehandler"  # the dashboard login used for the forms
THROTTLED = "bjorn.proever"  # a second user, only for the throttling test
# A contact added on top of the demo: assigned a setup task, so the checklist names her.
ERASED = {"name": "Sigrid Ødegård-Vik", "email": "sigrid.odegard-vik@example.org",
          "phone": "+47 913 57 246", "role": "IT-leder"}
DASH_NOTE = "Bjørg på sentralbordet ba om ny kopi av avtalen (notat XQ-7731)."
DASH_HOLD = "Venter på budsjettsvar fra økonomisjefen (grunn ZP-4410)."
SETUP_KNR, HOLD_KNR, CSRF_KNR = "1837", "1834", "1857"


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "AVTALEFLYT_"))}
    env["AVTALEFLYT_DATA_DIR"] = str(data_dir)  # the default SQLite database in it
    return env


def _cli(env: dict[str, str], *args: str, stdin: str | None = None,
         timeout: float = 300) -> str:
    r = subprocess.run([sys.executable, "-m", "avtaleflyt", *args], env=env, input=stdin,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def _login(web: str, username: str = USER) -> httpx.Client:
    """Log in through the real login form (its CSRF token included), as a browser does."""
    c = httpx.Client(base_url=web, follow_redirects=False, timeout=60)
    token = csrf_of(c.get("/logg-inn").text)
    r = c.post("/logg-inn", data={"username": username, "password": PASSWORD,
                                  "csrf_token": token, "neste": "/"})
    assert r.status_code == 303, r.text
    return c


def _case(env, knr: str) -> dict:
    return json.loads(_cli(env, "case", "show", knr, "--json"))


def _secrets_in_play() -> dict[str, str]:
    """Every personal or free-text string the scenario wrote, labelled."""
    found: dict[str, str] = {}
    for step in scenario(date(2026, 1, 5)):
        a = step.args
        if step.action == "note":
            found[f"note {step.knr}"] = a["text"]
        elif step.action in ("hold", "withdraw"):
            found[f"{step.action} reason {step.knr}"] = a["reason"]
        elif step.action == "contact":
            found[f"contact name {step.knr}"] = a["name"]
            found[f"contact e-mail {step.knr}"] = a["email"]
    found.update({"dashboard note": DASH_NOTE, "dashboard hold reason": DASH_HOLD,
                  "added contact name": ERASED["name"], "added contact e-mail": ERASED["email"],
                  "added contact phone": ERASED["phone"], "dashboard login name": USER})
    return found


def _needles(text: str) -> list[str]:
    """The forms a string takes when stored: as typed, JSON-escaped (ensure_ascii), and
    the first 24 characters (a truncated copy), all case-folded."""
    forms = {text, json.dumps(text)[1:-1]}
    if len(text) > 30:
        forms |= {text[:24], json.dumps(text[:24])[1:-1]}
    return sorted(f.casefold() for f in forms)


def _leaks(haystack: str, secrets: dict[str, str]) -> list[str]:
    hay = haystack.casefold()
    return [label for label, text in secrets.items() if any(n in hay for n in _needles(text))]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sectest")
    data_dir = tmp / "data"
    env = _env(data_dir)
    _cli(env, "init")
    for name in (USER, THROTTLED):
        _cli(env, "user", "add", name, "--county", "18", "--password-stdin",
             stdin=PASSWORD + "\n")
    serve = Serve(env, tmp)
    try:
        serve.up()
        # Commands record their flow runs in serve's Prefect server (the credential is
        # picked up from the data directory by the CLI itself).
        cli_env = env | {"PREFECT_API_URL": serve.api}
        _cli(cli_env, "demo", "--reuse", timeout=600)

        _cli(cli_env, "contact", "add", SETUP_KNR, "--name", ERASED["name"], "--role",
             ERASED["role"], "--email", ERASED["email"], "--phone", ERASED["phone"])
        contact = next(c for c in json.loads(_cli(cli_env, "contact", "list", SETUP_KNR,
                                                  "--json")) if c["email"] == ERASED["email"])
        task = next(t for t in _case(cli_env, SETUP_KNR)["tasks"]
                    if t["stage"] == "system_setup" and t["done_on"] is None)
        _cli(cli_env, "task", "assign", str(task["id"]), "--contact", str(contact["id"]))
        for fmt in ("html", "docx"):  # a new stored checklist version naming her
            _cli(cli_env, "doc", "render", SETUP_KNR, "setup_checklist", "--format", fmt)

        # The dashboard's forms, on the running server.
        with closing(_login(serve.web)) as c:
            token = csrf_of(c.get(f"/sak/{SETUP_KNR}").text)
            r = c.post(f"/sak/{SETUP_KNR}/notat", data={
                "csrf_token": token, "theme": "other", "text": DASH_NOTE})
            assert r.status_code == 303, r.text
            token = csrf_of(c.get(f"/sak/{HOLD_KNR}").text)
            r = c.post(f"/sak/{HOLD_KNR}/vent", data={"csrf_token": token,
                                                      "reason": DASH_HOLD})
            assert r.status_code == 303, r.text
        assert DASH_NOTE in [n["text"] for n in _case(env, SETUP_KNR)["notes"]]
        assert _case(env, HOLD_KNR)["status"] == "on_hold"
        yield {"serve": serve, "env": env, "cli_env": cli_env, "data_dir": data_dir,
               "contact_id": contact["id"]}
    finally:
        serve.cleanup()


# --- 1. logout ends the session for every copy of the cookie ------------------------------

def test_a_session_cookie_replayed_after_logout_is_refused(world):
    web, env = world["serve"].web, world["env"]
    c = _login(web)
    assert c.get("/").status_code == 200
    stolen = c.cookies.get("avtaleflyt_session")
    assert stolen
    page = c.get(f"/sak/{SETUP_KNR}")
    assert page.status_code == 200
    token = csrf_of(page.text)  # a valid form token of that session, taken too
    r = c.post("/logg-ut", data={"csrf_token": csrf_of(c.get("/").text)})
    assert r.status_code == 303 and r.headers["location"] == "/logg-inn"
    c.close()

    notes_before = len(_case(env, SETUP_KNR)["notes"])
    with httpx.Client(base_url=web, follow_redirects=False, timeout=60,
                      cookies={"avtaleflyt_session": stolen}) as replay:
        r = replay.get(f"/sak/{SETUP_KNR}")
        assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn")
        r = replay.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn")
        r = replay.post(f"/sak/{SETUP_KNR}/notat", data={
            "csrf_token": token, "theme": "other", "text": "Skrevet med en gammel informasjonskapsel."})
        assert r.status_code == 401
        assert "Du må logge inn" in r.text
    assert len(_case(env, SETUP_KNR)["notes"]) == notes_before


# --- 6. a foreign site's form post riding on the session cookie ---------------------------

def test_a_foreign_origin_post_without_the_csrf_token_is_refused_and_changes_nothing(world):
    serve, env = world["serve"], world["env"]

    def flow_runs() -> int:
        r = httpx.post(serve.api + "/flow_runs/count", json={}, auth=serve.auth, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    before, runs_before = _case(env, CSRF_KNR), flow_runs()
    assert before["status"] == "active"
    with closing(_login(serve.web)) as c:
        # An attacker can get a token of their own from the login page; it is not this
        # session's.
        with httpx.Client(base_url=serve.web, timeout=60) as attacker:
            foreign_token = csrf_of(attacker.get("/logg-inn").text)
        evil = {"Origin": "https://evil.example", "Referer": "https://evil.example/side"}
        attempts = [
            (f"/sak/{CSRF_KNR}/vent", {"reason": "Satt på vent av en fremmed side."}),
            (f"/sak/{CSRF_KNR}/notat", {"theme": "other", "text": "Notat fra evil.example."}),
            (f"/sak/{CSRF_KNR}/fakta", {"fact": "meeting-held"}),
            (f"/sak/{CSRF_KNR}/vent", {"reason": "Med en annens kode.",
                                       "csrf_token": foreign_token}),
        ]
        for path, form in attempts:
            r = c.post(path, data=form, headers=evil)
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert "Skjemaet ble avvist" in r.text and "Ingenting ble lagret" in r.text
        assert c.get("/").status_code == 200  # the session itself is still fine
    after = _case(env, CSRF_KNR)
    assert (after["status"], after["stage"], after["notes"], after["history"]) == (
        before["status"], before["stage"], before["notes"], before["history"])
    assert flow_runs() == runs_before  # nothing was started either


# --- 3. Prefect never holds the free text or personal data --------------------------------

def _prefect_database_files(data_dir: Path) -> list[Path]:
    dbs = [p for p in (data_dir / "prefect").rglob("*")
           if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00"]
    assert len(dbs) == 1, dbs  # the one Prefect server database serve uses
    main = dbs[0]
    return [main] + [main.with_name(main.name + s) for s in ("-wal", "-shm", "-journal")
                     if main.with_name(main.name + s).exists()]


def _all_pages(api: str, path: str, auth, body: dict) -> list[dict]:
    out, offset = [], 0
    while True:
        r = httpx.post(api + path, json={**body, "limit": 200, "offset": offset},
                       auth=auth, timeout=60)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page
        if len(page) < 200:
            return out
        offset += 200


def test_prefect_holds_no_note_reason_contact_or_login_name(world):
    serve, data_dir = world["serve"], world["data_dir"]
    secrets = _secrets_in_play()
    assert len(secrets) >= 30, secrets

    # The strings are real: the application database holds every one of them.
    app_db = "\n".join(str(v) for v in _every_value(data_dir / "avtaleflyt.db"))
    kept = [label for label in secrets if not label.startswith("added contact")]
    assert [label for label in _leaks(app_db, secrets) if label in kept] == kept

    files = _prefect_database_files(data_dir)
    raw = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in files)
    assert "add-note" in raw and "change-case-status" in raw  # the flows did run here
    assert _leaks(raw, secrets) == [], [str(p) for p in files]
    with sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True) as con:
        rows = "\n".join(str(v) for t, in con.execute(
            "select name from sqlite_master where type='table'")
            for row in con.execute(f'select * from "{t}"') for v in row)
    assert _leaks(rows, secrets) == []

    runs = _all_pages(serve.api, "/flow_runs/filter", serve.auth, {"sort": "ID_DESC"})
    names = {f["id"]: f["name"] for f in _all_pages(serve.api, "/flows/filter",
                                                    serve.auth, {})}
    by_flow = {}
    for run in runs:
        by_flow.setdefault(names[run["flow_id"]], []).append(run)
    # The demo's four notes and the dashboard's one, the demo's hold and withdrawal and
    # the dashboard's hold: all ran as flow runs on this server.
    assert len(by_flow["add-note"]) >= 5 and len(by_flow["change-case-status"]) >= 3
    seen = json.dumps([{"name": r["name"], "parameters": r["parameters"]} for r in runs],
                      ensure_ascii=False)
    assert _leaks(seen, secrets) == []

    logs = _all_pages(serve.api, "/logs/filter", serve.auth, {})
    assert logs  # the sweep and the flows log their progress
    assert _leaks(json.dumps(logs, ensure_ascii=False), secrets) == []


# --- 4. erasing a contact ----------------------------------------------------------------

def _every_value(path: Path) -> list:
    """Every value of every column of every table of a SQLite database."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        tables = [t for t, in con.execute("select name from sqlite_master where type='table'")]
        values = []
        for t in tables:
            for row in con.execute(f'select * from "{t}"'):
                values += [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                           for v in row if v is not None]
    return values


def _document_texts(data_dir: Path) -> dict[str, str]:
    """Every stored document's bytes, read from the database (documents live there since
    migration 0010), including bytes no version refers to any more: HTML as it is, DOCX as
    each XML part (and its text with the tags removed, so a name split over Word runs is
    still found), PDF as its text and its embedded HTML source."""
    import io
    import sqlite3

    from pypdf import PdfReader

    con = sqlite3.connect(data_dir / "avtaleflyt.db")
    try:
        names = dict(con.execute("select sha256, path from document"))
        blobs = con.execute("select sha256, content from document_blob").fetchall()
    finally:
        con.close()
    out = {}
    for sha, data in blobs:
        name = names.get(sha, f"(uten versjon) {sha[:12]}")
        if data[:4] == b"%PDF":
            reader = PdfReader(io.BytesIO(data))
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
            for fname, contents in (reader.attachments or {}).items():
                text += "\n" + b"".join(contents).decode("utf-8", "replace")
            out[f"{name}:pdf"] = text
        elif data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for part in z.namelist():
                    if part.endswith(".xml"):
                        xml = z.read(part).decode("utf-8")
                        out[f"{name}:{part}"] = xml + "\n" + re.sub(r"<[^>]+>", "", xml)
        else:
            out[name] = data.decode("utf-8", "replace")
    return out


def test_erasing_a_contact_removes_them_from_every_table_and_every_document(world):
    env, data_dir = world["env"], world["data_dir"]
    person = {k: ERASED[k] for k in ("name", "email", "phone")}
    person["phone digits"] = re.sub(r"\D", "", ERASED["phone"])

    def where(values: list, docs: dict[str, str]) -> dict[str, list[str]]:
        found = {}
        for label, text in person.items():
            hits = [f"db: {str(v)[:80]}" for v in values
                    if any(n in str(v).casefold() for n in _needles(text))]
            hits += [name for name, body in docs.items()
                     if any(n in body.casefold() for n in _needles(text))]
            if hits:
                found[label] = hits
        return found

    before = where(_every_value(data_dir / "avtaleflyt.db"), _document_texts(data_dir))
    assert set(before) >= {"name", "email", "phone"}
    # The stored checklist (both formats) named her: the erasure has documents to fix.
    assert any(h.endswith(".html") for h in before["name"]), before["name"]
    assert any(".docx:" in h for h in before["name"]), before["name"]

    out = _cli(env, "contact", "erase", str(world["contact_id"]), "--yes")
    assert "slettet" in out.lower()

    after = where(_every_value(data_dir / "avtaleflyt.db"), _document_texts(data_dir))
    assert after == {}
    # The versions that named her are still there, with the name replaced.
    named = [h for h in before["name"] if re.fullmatch(rf"{SETUP_KNR}/setup_checklist-v\d+\.html", h)]
    texts = _document_texts(data_dir)
    assert named and all("[slettet]" in texts[name] for name in named), named


# --- 5. file modes ------------------------------------------------------------------------

def test_data_directory_databases_secrets_and_documents_are_private(world):
    data_dir = world["data_dir"]

    def mode(p: Path) -> str:
        return oct(stat.S_IMODE(p.stat().st_mode))

    expected = {data_dir: "0o700", data_dir / "prefect": "0o700"}
    for db_file in (data_dir / "avtaleflyt.db", *_prefect_database_files(data_dir)):
        for p in (db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-shm"))):
            if p.exists():
                expected[p] = "0o600"
    for name in ("session_secret", "prefect_auth", "prefect_server_url"):
        expected[data_dir / name] = "0o600"
    # Documents are rows in the (0600) database, not files in the data directory.
    assert not (data_dir / "documents").exists() or not any((data_dir / "documents").rglob("*"))
    got = {str(p): mode(p) for p in expected}
    assert {p: m for p, m in got.items() if m != expected[Path(p)]} == {}


# --- 2. login throttling (last: it also throttles 127.0.0.1 for a while) ----------------

def test_twenty_bad_logins_are_throttled_from_the_sixth_and_the_right_password_too(world):
    web = world["serve"].web
    with httpx.Client(base_url=web, follow_redirects=False, timeout=60) as c:
        token = csrf_of(c.get("/logg-inn").text)
        codes = []
        for i in range(20):
            r = c.post("/logg-inn", data={"username": THROTTLED, "password": f"feil-{i}",
                                          "csrf_token": token, "neste": "/"})
            codes.append(r.status_code)
            if r.status_code == 429:
                assert "For mange mislykkede innlogginger. Prøv igjen kl." in r.text
                assert int(r.headers["retry-after"]) > 0
        assert codes == [401] * 5 + [429] * 15
        r = c.post("/logg-inn", data={"username": THROTTLED, "password": PASSWORD,
                                      "csrf_token": token, "neste": "/"})
        assert r.status_code == 429 and "avtaleflyt_session" not in r.cookies
        assert "For mange mislykkede innlogginger" in r.text
        assert c.get("/").status_code == 303  # still not logged in
        # The address counts too, and a forged X-Forwarded-For does not give a fresh one:
        # `serve` believes the header only from proxies the operator names.
        for name in ("annen.bruker", "tredje.bruker"):
            r = c.post("/logg-inn", headers={"X-Forwarded-For": "10.0.0.9"},
                       data={"username": name, "password": "feil-passord-igjen",
                             "csrf_token": token, "neste": "/"})
            assert r.status_code == 429, (name, r.status_code)
