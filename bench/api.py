"""Issue 10's speed goals: the CLI as a client of a running `serve`, against a floor.

    python bench/api.py [--repeat 7] [--cases 16] [--json]

Starts `avtaleflyt serve --scheduler workers` (its own Prefect server, the dashboard and
the JSON API) on a temporary data directory holding open cases in Nordland, then measures,
as whole processes, interleaved, in one run:

  floor     a process that imports httpx and makes one authenticated POST /api/v1/ping
  record    `avtaleflyt case record KNR meeting-held` (a state change: a flow run)
  task      `avtaleflyt task done ID` (a state change: a flow run)
  refused   `avtaleflyt task done 999999` (unknown id: refused before a flow starts)
  refused2  `avtaleflyt case record KNR council-decision` (no --outcome: refused likewise)
  raw, raw-task  (for reference, no goal) a process that imports httpx and POSTs the same
            fact to /api/v1/cases/KNR/facts, or the task to /api/v1/tasks/done, itself: the
            server's share of a write, which no client can undercut

The CLI finds serve by itself (serve discovery: serve.json and the local token in the data
directory). Goals (issue 10): writes ≤ 3× the floor, refusals ≤ 1.5× the floor.
Prints medians (wall clock, ms), the ratios, and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

GOALS = {"record": 3.0, "task": 3.0, "refused": 1.5, "refused2": 1.5}
ENTRY = "from avtaleflyt.cli.entry import main; main()"
FLOOR = """
import sys, httpx
r = httpx.post(sys.argv[1] + "/api/v1/ping", headers={"Authorization": "Bearer " + sys.argv[2]})
r.raise_for_status()
"""
RAW = """
import sys, httpx
kind, _, what = sys.argv[3].partition(":")
path, body = (("/tasks/done", {"task_ids": [int(what)]}) if kind == "task"
              else (f"/cases/{what}/facts", {"fact": "meeting-held"}))
r = httpx.post(sys.argv[1] + "/api/v1" + path, timeout=300, json=body,
               headers={"Authorization": "Bearer " + sys.argv[2]})
r.raise_for_status()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVTALEFLYT_", "PREFECT_"))}
    return env | {"AVTALEFLYT_DATA_DIR": str(data), "USER": "koordinator",
                  "LOGNAME": "koordinator", "NO_COLOR": "1", "COLUMNS": "160"}


# A case carried through the services to system setup, whose checklist tasks are ticked off
# by hand (`task done`); the first-contact tasks close with their facts instead.
TO_SETUP = [("meeting-held", {}), ("needs-assessed", {}), ("intent-confirmed", {}),
            ("council-decision", {"outcome": "approved"}),
            ("county-decision", {"outcome": "approved"}),
            ("terms-set", {"years": "3", "notice_months": "6"}),
            ("signed", {"party": "municipality"}), ("signed", {"party": "county"})]


def prepare(data: Path, n: int) -> tuple[list[str], list[str], list[int]]:
    """A migrated database with reference data and, in Nordland, 2×`n` cases in first
    contact (to record a fact in) and 2×`n` in system setup (to mark a task done in), made
    through the services. Returns the first ones' kommunenummer (for the CLI, for the raw
    POST) and one open task of each of the others (likewise)."""
    os.environ["AVTALEFLYT_DATA_DIR"] = str(data)
    from avtaleflyt import db
    from avtaleflyt.filemodes import private_dir
    from avtaleflyt.models import Municipality
    from avtaleflyt.services import cases, document_store, facts, mytasks
    from avtaleflyt.services.context import make_ctx
    from avtaleflyt.services.queries import case_detail
    from avtaleflyt.services.reference import load_reference_data
    from sqlmodel import col, select

    private_dir(data)
    url = f"sqlite:///{data / 'avtaleflyt.db'}"
    db.upgrade(url)
    today = date.today()
    on = today - timedelta(30)
    ctx = make_ctx(today=today, actor="koordinator")
    tasks = []
    with db.session_scope(url) as s:
        load_reference_data(s)
        knrs = [m.kommunenummer for m in s.exec(
            select(Municipality).where(col(Municipality.kommunenummer).startswith("18"))
            .order_by(col(Municipality.kommunenummer))).all()][:4 * n]
        for knr in knrs:
            cases.open_case(session=s, kommunenummer=knr, opened_on=on, ctx=ctx)
        for knr in knrs[2 * n:]:
            for fact, options in TO_SETUP:
                if fact == "terms-set":
                    options = options | {"start": (today + timedelta(90)).isoformat()}
                cases.record_fact(session=s, kommunenummer=knr,
                                  fact=facts.build_fact(fact, on, options, ctx), ctx=ctx)
                cases.advance(session=s, kommunenummer=knr, ctx=ctx)
            # The setup checklist draft, as the stage flow writes it when a case enters
            # system setup through a command: a case there through `serve` has it.
            document_store.ensure_stage_documents(session=s, kommunenummer=knr, ctx=ctx)
            s.commit()
            ids = [t["id"] for t in case_detail(s, knr, today)["tasks"] if not t["done_on"]]
            refused = {r.task_id for r in mytasks.check_completions(s, ids, today, ctx)}
            tasks.append(next(i for i in ids if i not in refused))
    db.get_engine(url).dispose()
    return knrs[:n], knrs[n:2 * n], tasks


def start_serve(data: Path) -> tuple[subprocess.Popen, str, str]:
    port, prefect_port = _free_port(), _free_port()
    log = open(data.parent / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "serve", "--port", str(port), "--prefect-port",
         str(prefect_port), "--scheduler", "workers"], env=_env(data), stdout=log,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    found = data / "serve.json"
    deadline = time.monotonic() + 300
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve stopped (code {proc.returncode}); see {log.name}")
        if found.exists():
            d = json.loads(found.read_text())
            try:
                r = httpx.post(d["url"] + "/api/v1/ping", timeout=5,
                               headers={"Authorization": f"Bearer {d['token']}"})
                if r.status_code == 200:
                    return proc, d["url"], d["token"]
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    raise SystemExit("serve did not answer within 300 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def timed(args: list[str], env: dict[str, str], expect: int) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                       timeout=600)
    elapsed = time.perf_counter() - t
    if r.returncode != expect:  # the command, never the token
        what = " ".join(args[2:]) if args[1] == ENTRY else args[-1] if args[1] == RAW else "floor"
        raise SystemExit(f"{what} exited {r.returncode}, not {expect}:\n{r.stdout}\n{r.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.repeat + 1  # one warm-up round
    if not 1 <= args.repeat <= 9:
        ap.error("--repeat: 1–9 (each round uses four of Nordland's 41 municipalities)")
    tmp = Path(tempfile.mkdtemp(prefix="avtaleflyt-bench-api-"))
    data = tmp / "data"
    proc = None
    try:
        knrs, raw_knrs, all_tasks = prepare(data, n)
        tasks, raw_tasks = all_tasks[:n], all_tasks[n:]
        proc, url, token = start_serve(data)
        env = _env(data)
        times: dict[str, list[float]] = {k: [] for k in ("floor", *GOALS, "raw", "raw-task")}
        load_before = os.getloadavg()
        for i in range(n):  # interleaved: the machine's load falls on every measure alike
            got = {
                "floor": timed(["-c", FLOOR, url, token], env, 0),
                "record": timed(["-c", ENTRY, "case", "record", knrs[i], "meeting-held"],
                                env, 0),
                "task": timed(["-c", ENTRY, "task", "done", str(tasks[i])], env, 0),
                "refused": timed(["-c", ENTRY, "task", "done", "999999"], env, 1),
                "refused2": timed(["-c", ENTRY, "case", "record", knrs[i],
                                   "council-decision"], env, 2),
                "raw": timed(["-c", RAW, url, token, f"case:{raw_knrs[i]}"], env, 0),
                "raw-task": timed(["-c", RAW, url, token, f"task:{raw_tasks[i]}"], env, 0),
            }
            if i:  # the first round warms the server's caches and the OS's
                for k, v in got.items():
                    times[k].append(v)
        load_after = os.getloadavg()
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    floor = statistics.median(times["floor"])
    result = {"repeat": args.repeat, "floor_ms": round(floor * 1000),
              "load": [round(x, 1) for x in (*load_before, *load_after)], "measures": {}}
    for k, goal in GOALS.items():
        med = statistics.median(times[k])
        result["measures"][k] = {"median_ms": round(med * 1000), "ratio": round(med / floor, 2),
                                 "goal": goal, "met": med / floor <= goal}
    for k in ("raw", "raw-task"):
        raw = statistics.median(times[k])
        result[k] = {"median_ms": round(raw * 1000), "ratio": round(raw / floor, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"floor (import httpx + POST /api/v1/ping): {result['floor_ms']} ms median of "
          f"{args.repeat}")
    labels = {"record": "case record (client mode)", "task": "task done (client mode)",
              "refused": "task done 999999 (refused)",
              "refused2": "case record, no --outcome (refused)"}
    for k, m in result["measures"].items():
        print(f"{labels[k]:40} {m['median_ms']:6} ms  {m['ratio']:5.2f}× floor  "
              f"(goal ≤ {m['goal']}×: {'met' if m['met'] else 'NOT met'})")
    for k, label in (("raw", "(raw POST of the fact, no CLI)"),
                     ("raw-task", "(raw POST of the task done, no CLI)")):
        print(f"{label:40} {result[k]['median_ms']:6} ms  {result[k]['ratio']:5.2f}× floor  "
              "(the server's share of a write)")
    print("load average (1, 5, 15 min) before: {} {} {}; after: {} {} {}".format(
        *result["load"]))


if __name__ == "__main__":
    main()
