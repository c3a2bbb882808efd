"""One measure in a process of its own (started by bench/run.py, one process per measure so
its peak memory is its own). Prints one JSON object on stdout:

    {"samples": [seconds…], "queries": n, "extra": {...}}

`samples` time the operation only (imports, app start and login are outside the clock);
`queries` is the number of SQL statements one run of the operation sent (SQLAlchemy's
`before_cursor_execute` on every engine, or the DB-API cursor for the floors).

    python bench/measure.py NAME --url URL --today YYYY-MM-DD [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics as _st
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

QUERIES: dict[str, float] = {"n": 0, "sql_s": 0.0}  # statements and seconds spent in them
CPU: list[float] = []  # CPU seconds (all threads) of the last `timed` runs


def count_queries() -> None:
    import sqlalchemy as sa

    def _count(conn, *_a, **_k):
        QUERIES["n"] += 1
        conn.info["bench_t0"] = time.perf_counter()

    def _took(conn, *_a, **_k):
        QUERIES["sql_s"] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _count)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", _took)


def timed(fn, repeat: int) -> tuple[list[float], int, object]:
    """Warm-up once (imports, caches), then `repeat` timed runs; queries of the last run.
    The CPU time of each run (this process, every thread) is left in CPU: on a loaded
    machine it says more than the wall clock about a few milliseconds."""
    out = fn()
    samples = []
    CPU.clear()
    for _ in range(repeat):
        QUERIES["n"], QUERIES["sql_s"] = 0, 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        samples.append(time.perf_counter() - t0)
        CPU.append(time.process_time() - c0)
    return samples, int(QUERIES["n"]), out


# --- raw SQL floors -----------------------------------------------------------------------------

LATEST = "SELECT max(id) FROM onboarding_case GROUP BY municipality_id"
RAW = {
    # the status table / the board: one row per municipality's latest case with its figures
    "status": f"""
SELECT m.kommunenummer, m.name, co.code, co.name, c.stage, c.status, c.stage_entered_on,
       c.opened_on, t.next_due, t.overdue
FROM onboarding_case c
JOIN municipality m ON m.id = c.municipality_id
JOIN county co ON co.id = m.county_id
LEFT JOIN (SELECT case_id, min(due_on) AS next_due,
                  sum(CASE WHEN due_on < :today THEN 1 ELSE 0 END) AS overdue
           FROM task WHERE done_on IS NULL AND case_id IN ({LATEST})
           GROUP BY case_id) t ON t.case_id = c.id
WHERE c.id IN ({LATEST})
ORDER BY m.kommunenummer""",
    # the sweep's due rows: open tasks of active cases due by the reminder horizon
    "sweep": f"""
SELECT t.id, t.case_id, t.key, t.due_on, t.responsible, t.contact_id, c.municipality_id
FROM task t JOIN onboarding_case c ON c.id = t.case_id
WHERE t.done_on IS NULL AND t.due_on IS NOT NULL AND t.due_on <= :horizon
  AND c.status = 'active' AND c.id IN ({LATEST})""",
    "overdue": f"""
SELECT t.id, m.kommunenummer, m.name, t.stage, t.title, t.responsible, t.due_on
FROM task t JOIN onboarding_case c ON c.id = t.case_id
JOIN municipality m ON m.id = c.municipality_id
WHERE t.done_on IS NULL AND t.due_on < :today AND c.status = 'active'
  AND c.id IN ({LATEST})
ORDER BY t.due_on, m.kommunenummer, t.id""",
    "upcoming": f"""
SELECT t.id, m.kommunenummer, m.name, t.stage, t.title, t.responsible, t.due_on
FROM task t JOIN onboarding_case c ON c.id = t.case_id
JOIN municipality m ON m.id = c.municipality_id
WHERE t.done_on IS NULL AND t.due_on >= :today AND t.due_on <= :until
  AND c.status = 'active' AND c.id IN ({LATEST})
ORDER BY t.due_on, m.kommunenummer, t.id""",
    "feed": f"""
SELECT t.id, m.kommunenummer, m.name, t.stage, t.title, t.responsible, t.due_on,
       c.version, c.updated_at
FROM task t JOIN onboarding_case c ON c.id = t.case_id
JOIN municipality m ON m.id = c.municipality_id
WHERE t.done_on IS NULL AND t.due_on >= :back AND t.due_on <= :ahead
  AND c.status = 'active' AND c.id IN ({LATEST})
ORDER BY t.due_on, m.kommunenummer, t.id""",
    # Statistikk: time per stage needs every case's row (opened, status, closed on, whose)
    # and every stage move (case, day, "to"), each in case order: two plain queries, the
    # cheapest raw way to read those rows. (One LEFT JOIN of the two is slower on SQLite;
    # the stage moves alone, as this floor once was, leave out half of what the page reads.)
    # The forecast's few active cases are not counted here.
    "statistics": ("""
SELECT c.id, m.kommunenummer, m.name, c.opened_on, c.status, c.closed_on
FROM onboarding_case c JOIN municipality m ON m.id = c.municipality_id ORDER BY c.id""", """
SELECT e.case_id, e.occurred_on, e.details FROM event e
WHERE e.kind = 'stage_entered' ORDER BY e.case_id, e.occurred_on, e.id"""),
}
RAW_PARAMS = {
    "status": lambda d: {"today": d},
    "sweep": lambda d: {"horizon": d + timedelta(days=14)},
    "overdue": lambda d: {"today": d},
    "upcoming": lambda d: {"today": d, "until": d + timedelta(days=30)},
    "feed": lambda d: {"back": d - timedelta(days=30), "ahead": d + timedelta(days=400)},
    "statistics": lambda d: {},
}


def raw_connection(url: str):
    """The bare DB-API connection (sqlite3 or psycopg): no ORM, no SQLAlchemy."""
    if url.startswith("sqlite"):
        import sqlite3

        return sqlite3.connect(url.removeprefix("sqlite:///")), "sqlite"
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")), "pg"


def run_raw(conn, flavour: str, name: str, today: date) -> list[tuple]:
    import re

    params = {k: v.isoformat() if flavour == "sqlite" else v
              for k, v in RAW_PARAMS[name](today).items()}
    rows = []
    for sql in (RAW[name],) if isinstance(RAW[name], str) else RAW[name]:
        if flavour == "pg":
            sql = re.sub(r":(\w+)", r"%(\1)s", sql)
        cur = conn.cursor()
        cur.execute(sql, params)
        rows += cur.fetchall()
        cur.close()
    return rows


def floor(name: str, url: str, today: date, repeat: int) -> dict:
    conn, flavour = raw_connection(url)
    samples, _, rows = timed(lambda: run_raw(conn, flavour, name, today), repeat)
    return {"samples": samples, "queries": 1, "extra": {"rows": len(rows)}}


# --- the sweep (P2) -------------------------------------------------------------------------------

def sweep(url: str, today: date, repeat: int, *, dry_run: bool) -> dict:
    """services.sweep.run_sweep, as the flow calls it, against a local HTTP sink and SMTP
    server. A dry run is repeated on the same database (it rolls back); a real run writes,
    so run.py gives each real run a fresh copy (repeat=1 here)."""
    from avtaleflyt import db
    from avtaleflyt.notifications.channels import TargetBook
    from avtaleflyt.services import sweep as svc
    from avtaleflyt.services.context import make_ctx

    from sinks import ChildSinks

    import apprise

    apprise.Apprise.instantiate("json://localhost")  # its plugins load here, as in P5
    sinks = ChildSinks().start()
    targets = TargetBook(coordinator=(sinks.url("koordinator"),),
                         leader=(sinks.url("leder"),), smtp_url=sinks.smtp_url)
    ctx = make_ctx(today=today, actor="deadline-sweep")
    count_queries()
    result = {}

    cpu: list[float] = []

    def once():
        c0 = time.process_time()
        try:
            return _once()
        finally:
            cpu.append(time.process_time() - c0)

    def _once():
        if dry_run:
            with svc.dry_run_session(url) as s:
                r = svc.run_sweep(session=s, ctx=ctx, targets=targets, dry_run=True)
        else:
            with db.session_scope(url) as s:
                r = svc.run_sweep(session=s, ctx=ctx, targets=targets)
        result["r"] = r
        return r

    if dry_run:
        samples, queries, _ = timed(once, repeat)
    else:
        QUERIES["n"], QUERIES["sql_s"] = 0, 0.0
        t0 = time.perf_counter()
        once()
        samples, queries = [time.perf_counter() - t0], int(QUERIES["n"])
    r = result["r"]
    sinks.stop()
    bodies = [b for b in sinks.bodies] + [m[2] for m in sinks.messages]
    return {"samples": samples, "queries": queries, "extra": {
        # CPU time of the sweep's own process (the sinks run in another): median of the
        # timed runs, steadier than wall time on a loaded machine
        "cpu_s": round(sorted(cpu[-len(samples):])[len(samples) // 2], 3),
        # wall time inside the SQL statements of the last run (the floor is one statement)
        "sql_s": round(QUERIES["sql_s"], 4),
        "reminders_new": r.reminders_new, "digests_built": r.digests_built,
        "messages": len(r.sent), "received": len(bodies),
        "duplicates": len(bodies) - len(set(bodies)),
        "smtp_connections": sinks.connections, "duties_created": r.duties_created}}


# --- pages and the feed (P3) ----------------------------------------------------------------------

PAGES = {"board": "/", "overdue": "/restanser", "upcoming": "/frister",
         "statistics": "/statistikk"}


def _client(url: str):
    import re
    import secrets

    from fastapi.testclient import TestClient

    from avtaleflyt import db
    from avtaleflyt.services import users
    from avtaleflyt.web.app import create_app

    password = secrets.token_urlsafe(16)
    name = "benk" + secrets.token_hex(3)
    with db.session_scope(url) as s:
        users.create_user(session=s, username=name, password=password, national=True)
        feed = users.issue_feed_token(session=s, username=name)
    c = TestClient(create_app(), follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/logg-inn").text).group(1)
    r = c.post("/logg-inn", data={"username": name, "password": password,
                                  "csrf_token": token, "neste": "/"})
    assert r.status_code == 303, r.text[:300]
    return c, feed


def page(name: str, url: str, today: date, repeat: int) -> dict:
    """The page through the real app (FastAPI TestClient, in process: nothing listens), and
    its floor: the raw SQL of the rows it shows + the product's own template rendering with
    the very context the route passed (captured from the product's request)."""
    from avtaleflyt.web import app as webapp

    captured = {}
    real_render = webapp.Pages.render

    def capture(self, request, tpl, status_code=200, **context):
        captured.update(tpl=tpl, context=context, request=request, env=self.env)
        return real_render(self, request, tpl, status_code, **context)

    webapp.Pages.render = capture
    client, feed_token = _client(url)
    count_queries()
    if name == "feed":
        path = f"/kalender/{feed_token}.ics"
    else:
        path = PAGES[name]

    def get():
        r = client.get(path)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return r

    samples, queries, r = timed(get, repeat)
    cpu = list(CPU)
    extra = {"bytes": len(r.content)}
    conn, flavour = raw_connection(url)
    raw_name = "status" if name == "board" else name

    def floor_once():
        rows = run_raw(conn, flavour, raw_name, today)
        if name == "feed":
            return rows, _plain_ical(rows)
        ctx = captured["context"]
        from avtaleflyt import runtime

        html = captured["env"].get_template(captured["tpl"]).render(
            request=captured["request"], path=path, csrf="x", flashes=[],
            today=runtime.today(), **ctx)
        return rows, html

    fsamples, _, (rows, _out) = timed(floor_once, repeat)
    pcpu, fcpu = _st.median(cpu), _st.median(CPU)
    extra.update(floor_samples=fsamples, floor_rows=len(rows), cpu_s=round(pcpu, 4),
                 floor_cpu_s=round(fcpu, 4), cpu_ratio=round(pcpu / fcpu, 2) if fcpu else None)
    client.close()
    return {"samples": samples, "queries": queries, "extra": extra}


def _plain_ical(rows) -> str:
    """The feed's floor: the same events written as plain iCalendar text."""
    out = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//NO"]
    for r in rows:
        due = r[6] if isinstance(r[6], date) else date.fromisoformat(r[6])
        out += ["BEGIN:VEVENT", f"UID:task-{r[0]}@avtaleflyt", f"SUMMARY:{r[2]}: {r[4]}",
                f"DTSTART;VALUE=DATE:{due:%Y%m%d}",
                f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}",
                f"DESCRIPTION:{r[3]}. Ansvar: {r[5]}. Kommunenummer {r[1]}.",
                f"SEQUENCE:{r[7]}", "END:VEVENT"]
    out.append("END:VCALENDAR")
    return "\r\n".join(out)


# --- Prefect objects per sweep (P4) ----------------------------------------------------------------

def prefect_objects(url: str, today: date, repeat: int) -> dict:
    """The deployment's flow (`deadline-sweep`, dry_run=True) run in this process as
    `runtime.run_flow` runs it, on the temporary Prefect server Prefect starts for it; then
    the objects that server holds. (The CLI's `sweep --dry-run` runs no flow at all.)"""
    from avtaleflyt import runtime
    from avtaleflyt.flows.sweep import deadline_sweep

    count_queries()
    t0 = time.perf_counter()
    runtime.run_flow(deadline_sweep, dry_run=True)
    seconds = time.perf_counter() - t0

    # The temporary server keeps its state in PREFECT_HOME's SQLite database; read it there
    # (the server itself stops with the command's flow-run context).
    import os
    import sqlite3

    home = Path(os.environ["PREFECT_HOME"])
    dbs = sorted(home.rglob("*.db"), key=lambda p: p.stat().st_size)
    assert dbs, f"no Prefect database under {home}"
    with sqlite3.connect(dbs[-1]) as c:
        n_flows = c.execute("SELECT count(*) FROM flow_run").fetchone()[0]
        n_tasks = c.execute("SELECT count(*) FROM task_run").fetchone()[0]
        n_arts, size = c.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM artifact").fetchone()
    return {"samples": [seconds], "queries": QUERIES["n"], "extra": {
        "flow_runs": n_flows, "task_runs": n_tasks, "artifacts": n_arts,
        "artifact_bytes": size}}


# --- sending (P5) --------------------------------------------------------------------------------

def send(channel: str, url: str, today: date, n: int) -> dict:
    """`n` due digests (copies of a digest row the product wrote, each with its own marker)
    sent by reminders.send_due_digests to a local HTTP sink or SMTP server."""
    import sqlalchemy as sa
    from sqlmodel import select

    from avtaleflyt import db
    from avtaleflyt.models import ContactPerson, County, Digest
    from avtaleflyt.notifications.channels import TargetBook
    from avtaleflyt.services import reminders
    from avtaleflyt.services.context import make_ctx

    from sinks import ChildSinks

    with db.session_scope(url) as s:
        # limit(1): an ORM result is fetched whole before .first() (at full size that was
        # every digest with its bodies, 280 MB of this process's peak, none of it sending).
        model = s.exec(select(Digest).order_by(Digest.id.desc()).limit(1)).first()
        assert model is not None, "the generated database has no digest to copy"
        if channel == "http":
            keys = [f"coordinator:{c}" for c in s.exec(select(County.code)).all()]
        else:
            keys = [f"contact:{i}" for i in s.exec(select(ContactPerson.id)).all()]
        rows = []
        for i in range(n):
            rows.append({
                "recipient": keys[i % len(keys)],
                # Days long before any generated history: no (recipient, day) clash.
                "sweep_on": date(1990, 1, 1) + timedelta(days=i // len(keys)),
                "status": "pending", "attempts": 0, "next_attempt_on": today,
                "title": model.title, "body_text": f"{model.body_text}\n[benk {i}]",
                "body_html": f"{model.body_html}<p>[benk {i}]</p>", "item_count": 1,
                "created_at": model.created_at})
        s.connection().execute(sa.insert(Digest.__table__), rows)
        s.commit()
    import apprise

    # An import, outside the clock like every other: `import apprise` loads its plugins
    # (130-odd modules, 0.2–0.6 s here) only when a URL is first parsed.
    apprise.Apprise.instantiate("json://localhost")

    sinks = ChildSinks().start()
    targets = TargetBook(coordinator=(sinks.url(),) if channel == "http" else (),
                         smtp_url=sinks.smtp_url if channel == "smtp" else None)
    ctx = make_ctx(today=today, actor="deadline-sweep")
    count_queries()
    QUERIES["n"] = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with db.session_scope(url) as s:
        reports = reminders.send_due_digests(session=s, ctx=ctx, targets=targets)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    sinks.stop()
    if channel == "http":
        bodies = list(sinks.bodies)
        conns = None
    else:
        bodies = [m[2] for m in sinks.messages]
        conns = sinks.connections
    import re

    markers = [m.group(0) for b in bodies for m in [re.search(rb"\[benk \d+\]", b)] if m]
    return {"samples": [seconds], "queries": QUERIES["n"], "extra": {
        "cpu_s": round(cpu, 3), "digests": n, "sent_reports": len(reports),
        "received": len(bodies),
        "duplicates": len(markers) - len(set(markers)), "smtp_connections": conns}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--url", required=True)
    ap.add_argument("--today", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args()
    today = date.fromisoformat(a.today)
    name = a.name
    if name.startswith("floor-"):
        out = floor(name.removeprefix("floor-"), a.url, today, a.repeat)
    elif name == "sweep-dry":
        out = sweep(a.url, today, a.repeat, dry_run=True)
    elif name == "sweep-real":
        out = sweep(a.url, today, 1, dry_run=False)
    elif name in PAGES or name == "feed":
        out = page(name, a.url, today, a.repeat)
    elif name == "prefect":
        out = prefect_objects(a.url, today, a.repeat)
    elif name in ("send-http", "send-smtp"):
        out = send(name.removeprefix("send-"), a.url, today, a.n)
    else:
        raise SystemExit(f"unknown measure {name}")
    print("BENCH-RESULT " + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
