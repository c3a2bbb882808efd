"""Benchmarks with their floor measured in the same run, printed as ratios.

    python bench/run.py [--cases 357] [--repeat 5] [--json]

Builds a throwaway SQLite database at national scale (357 municipalities with a case each, at
every stage), then compares:
  * `avtaleflyt status --json` as a process   vs  a bare `python -c pass` start
  * the status read model (services.queries)  vs  the same figures by hand-written raw SQL
  * recording one fact through the service    vs  a raw INSERT of one event row + UPDATE
No Prefect is involved: these are the read path and the service layer.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table


from avtaleflyt import db
from avtaleflyt.services import cases, facts, queries
from avtaleflyt.services.context import make_ctx
from avtaleflyt.models import County, Municipality

console = Console()
START = date(2026, 1, 5)


def build(url: str, n: int) -> None:
    db.upgrade(url)
    with db.session_scope(url) as s:
        county = County(code="99", name="Benkfylke", library_name="Benkfylkesbibliotek")
        s.add(county)
        s.flush()
        for i in range(n):
            s.add(Municipality(kommunenummer=f"{5000 + i:04d}", name=f"Kommune {i}",
                               county_id=county.id))
        s.commit()
    plan = ["meeting-held", "needs-assessed", "intent-confirmed"]
    with db.session_scope(url) as s:
        for i in track(range(n), description="Bygger saker", console=console):
            knr = f"{5000 + i:04d}"
            day = START + timedelta(days=i % 60)
            ctx = make_ctx(today=day + timedelta(days=30), actor="bench")
            cases.open_case(session=s, kommunenummer=knr, opened_on=day, ctx=ctx)
            for k, kind in enumerate(plan[: i % 4]):
                f = facts.build_fact(kind, day + timedelta(days=k + 1), {}, ctx)
                cases.record_fact(session=s, kommunenummer=knr, fact=f, ctx=ctx)
            cases.run_stage(session=s, kommunenummer=knr,
                            stage=cases.current_stage(session=s, kommunenummer=knr), ctx=ctx)


RAW_STATUS = """
SELECT m.kommunenummer, m.name, c.stage, c.status, t.next_due, COALESCE(t.overdue, 0)
FROM onboarding_case c
JOIN (SELECT max(id) AS id FROM onboarding_case GROUP BY municipality_id) l ON l.id = c.id
JOIN municipality m ON m.id = c.municipality_id
LEFT JOIN (SELECT case_id, min(CASE WHEN done_on IS NULL THEN due_on END) AS next_due,
                  sum(CASE WHEN done_on IS NULL AND due_on < ? THEN 1 ELSE 0 END) AS overdue
           FROM task GROUP BY case_id) t ON t.case_id = c.id
ORDER BY m.kommunenummer
"""


def timed(fn, repeat: int) -> float:
    fn()  # warm-up: imports, caches, page cache
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=357)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="avtaleflyt-bench-"))
    path = tmp / "bench.db"
    url = f"sqlite:///{path}"
    build(url, args.cases)
    today = START + timedelta(days=90)
    env = {**os.environ, "AVTALEFLYT_DATABASE_URL": url, "AVTALEFLYT_TODAY": today.isoformat()}
    exe = Path(sys.executable).with_name("avtaleflyt")
    results = []

    bare = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.repeat)
    cli = timed(lambda: subprocess.run([str(exe), "status", "--json"], env=env, check=True,
                                       stdout=subprocess.DEVNULL), args.repeat)
    results.append(("avtaleflyt status --json (process)", cli, "python -c pass", bare))

    raw = sqlite3.connect(path)
    raw_q = timed(lambda: raw.execute(RAW_STATUS, (today.isoformat(),)).fetchall(), args.repeat)
    with db.session_scope(url) as s:
        svc_q = timed(lambda: queries.status_rows(s, today), args.repeat)
    results.append((f"status read model, {args.cases} cases", svc_q, "raw SQL, same figures",
                    raw_q))

    knrs = iter(f"{5000 + i:04d}" for i in range(0, args.cases, 4))  # cases with no facts yet
    ctx = make_ctx(today=today, actor="bench")

    def record_one():
        with db.session_scope(url) as s:
            f = facts.build_fact("meeting-held", today, {}, ctx)
            cases.record_fact(session=s, kommunenummer=next(knrs), fact=f, ctx=ctx)

    svc_w = timed(record_one, args.repeat)
    ids = iter(range(1, 10_000))

    def raw_write():
        cid = next(ids)
        with raw:
            raw.execute("INSERT INTO event (municipality_id, case_id, kind, occurred_on, "
                        "recorded_at, recorded_by, details) VALUES (1, ?, 'bench', ?, ?, 'b', '{}')",
                        (cid, today.isoformat(), "2026-01-01 00:00:00"))
            raw.execute("UPDATE onboarding_case SET version = version + 1 WHERE id = ?", (cid,))

    raw_w = timed(raw_write, args.repeat)
    results.append(("record one fact (service, one transaction)", svc_w,
                    "raw INSERT event + UPDATE case", raw_w))

    if args.json:
        print(json.dumps([{"measure": m, "seconds": round(v, 6), "floor": f,
                           "floor_seconds": round(fv, 6), "ratio": round(v / fv, 2)}
                          for m, v, f, fv in results], indent=2))
        return
    t = Table(title=f"avtaleflyt benchmarks (median of {args.repeat}; floors from this run)")
    for c in ("measure", "time", "floor", "floor time", "ratio"):
        t.add_column(c, justify="right" if "time" in c or c == "ratio" else "left")
    for m, v, f, fv in results:
        t.add_row(m, f"{v * 1000:.1f} ms", f, f"{fv * 1000:.2f} ms", f"{v / fv:.1f}×")
    console.print(t)


if __name__ == "__main__":
    main()
