"""The issue-12 benchmarks (P1–P5), each against a floor measured in the same run.

    python bench/run.py [--sizes 1x,10x,full] [--db sqlite|postgresql] [--repeat 5]
                        [--only P1,P3] [--json]

For each size a generated national installation (bench/generate.py; cached) is measured:

  P1  `avtaleflyt status --json` as a whole process  vs  `import sqlmodel` + the same figures
      by one raw query, as a whole process
  P2  the sweep (services.sweep.run_sweep, dry run and a real run to a local HTTP sink and
      SMTP server)  vs  a raw SELECT of the due rows (open tasks of active cases due within
      14 days)
  P3  Oversikt, Restanser, Kommende frister, Statistikk (FastAPI TestClient in process) and
      the calendar feed  vs  the raw SQL of the rows shown + the product's own template
      rendered with the context the route passed (the feed: plain iCalendar text, window
      30 days back / 400 ahead)
  P4  Prefect objects after one `avtaleflyt sweep --dry-run` (flow runs, task runs,
      artifacts, artifact bytes), read from the temporary Prefect server of that process
  P5  1 000 due digests sent by reminders.send_due_digests to a local HTTP sink and to a
      local SMTP server: time, messages received, duplicates, SMTP connections

Each measure runs in a process of its own; "peak MB" is that process's maximum resident set
size (os.wait4's ru_maxrss, via spawn.py), so it includes the interpreter and its imports
(~60–170 MB).
Times are medians of --repeat runs after one warm-up run; for P1 the whole process is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

MEASURES = {
    "P1": ["status"],
    "P2": ["sweep-dry", "sweep-real"],
    "P3": ["board", "overdue", "upcoming", "statistics", "feed"],
    "P4": ["prefect"],
    "P5": ["send-http", "send-smtp"],
}
LABELS = {
    "status": "P1 status --json (process)", "sweep-dry": "P2 sweep, dry run",
    "sweep-real": "P2 sweep, real run", "board": "P3 Oversikt /", "overdue":
    "P3 Restanser", "upcoming": "P3 Kommende frister", "statistics": "P3 Statistikk",
    "feed": "P3 kalenderfeed", "prefect": "P4 Prefect objects / sweep",
    "send-http": "P5 1000 digests → HTTP", "send-smtp": "P5 1000 digests → SMTP",
}
FLOOR_CODE = """
import sys, sqlmodel, sqlalchemy as sa
sys.path.insert(0, sys.argv[3])
from measure import RAW
e = sa.create_engine(sys.argv[1].replace("postgresql://", "postgresql+psycopg://", 1))
with e.connect() as c:
    c.execute(sa.text(RAW["status"]), {"today": sys.argv[2]}).fetchall()
"""
PROBE_CODE = """
import sys, atexit, sqlalchemy as sa
n = [0]
sa.event.listen(sa.engine.Engine, "before_cursor_execute", lambda *a, **k: n.__setitem__(0, n[0] + 1))
atexit.register(lambda: print(f"BENCH-QUERIES {n[0]}", file=sys.stderr))
sys.argv = ["avtaleflyt", "status", "--json"]
from avtaleflyt.cli.entry import main
main()
"""


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


CPU = {"last": 0.0}


def child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, str]:
    """Run a process; its wall time, its peak RSS in MB, stdout and stderr. Its CPU time
    (user + system) is left in CPU["last"]. Started through `spawn.py`, a small process, so
    the peak is the command's own: Linux carries the parent's peak across fork and exec,
    and this process holds a generated database's rows."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as rep:
        p = subprocess.Popen([sys.executable, str(HERE / "spawn.py"), rep.name, *cmd],
                             env=env, stdout=out, stderr=err)
        p.wait()
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({p.returncode}):\n{e[-3000:]}")
        usage = json.load(open(rep.name))
    CPU["last"] = usage["cpu_s"]
    return usage["wall_s"], usage["maxrss_kb"] / 1024, o, e


def env_for(url: str, data_dir: Path) -> dict[str, str]:
    return generate._clean_env(AVTALEFLYT_DATABASE_URL=url,
                               AVTALEFLYT_TODAY=generate.BENCH_TODAY.isoformat(),
                               AVTALEFLYT_DATA_DIR=str(data_dir),
                               PREFECT_HOME=str(data_dir / "prefect"))


def measure_child(name: str, url: str, env, repeat: int, n: int = 1000) -> tuple[dict, float]:
    _, rss, out, _ = child([sys.executable, str(HERE / "measure.py"), name, "--url", url,
                            "--today", generate.BENCH_TODAY.isoformat(),
                            "--repeat", str(repeat), "--n", str(n)], env)
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH-RESULT "))
    return json.loads(line.removeprefix("BENCH-RESULT ")), rss


def med(xs) -> float | None:
    return statistics.median(xs) if xs else None


def run_size(kind: str, size: str, repeat: int, only: set[str], work: Path) -> list[dict]:
    say(f"== {kind} {size}: database …")
    url, info = generate.cached(kind, size)
    results: list[dict] = []
    data_dir = work / f"{kind}-{size}"
    data_dir.mkdir(parents=True, exist_ok=True)
    base = {"size": size, "db": kind, "tasks": info["counts"]["task"],
            "events": info["counts"]["event"], "cases": info["counts"]["onboarding_case"]}

    def add(name, product, floor, queries, rss, extra=None, floor_label=""):
        ratio = product / floor if product is not None and floor else None
        results.append({**base, "measure": name, "label": LABELS[name],
                        "product_s": product, "floor_s": floor, "ratio": ratio,
                        "floor": floor_label, "queries": queries, "peak_mb": rss,
                        "extra": extra or {}})
        r = f"{ratio:.1f}×" if ratio else "–"
        say(f"   {LABELS[name]}: {product:.3f} s, floor {floor or 0:.3f} s, {r}, "
            f"{queries} queries, {rss:.0f} MB {extra or ''}")

    read = generate.working_copy(kind, url, "read")  # pages add a user and a feed token
    try:
        env = env_for(read, data_dir)
        if "P1" in only:
            say("   P1 …")
            exe = str(Path(sys.executable).with_name("avtaleflyt"))
            prod, floor, rss, pcpu, fcpu = [], [], 0.0, [], []
            child([exe, "status", "--json"], env)  # warm-up (page cache, .pyc)
            child([sys.executable, "-c", FLOOR_CODE, read,
                   generate.BENCH_TODAY.isoformat(), str(HERE)], env)
            for _ in range(repeat):
                w, r, out, _ = child([exe, "status", "--json"], env)
                prod.append(w)
                pcpu.append(CPU["last"])
                rss = max(rss, r)
                w, _r, _o, _e = child([sys.executable, "-c", FLOOR_CODE, read,
                                       generate.BENCH_TODAY.isoformat(), str(HERE)], env)
                floor.append(w)
                fcpu.append(CPU["last"])
            rows = len(json.loads(out))
            _, _, _, err = child([sys.executable, "-c", PROBE_CODE], env)
            q = int(next(ln for ln in err.splitlines() if ln.startswith("BENCH-QUERIES"))
                    .split()[1])
            add("status", med(prod), med(floor), q, rss,
                {"rows": rows, "cpu_s": round(med(pcpu), 3), "floor_cpu_s": round(med(fcpu), 3),
                 "cpu_ratio": round(med(pcpu) / med(fcpu), 2)},
                "import sqlmodel + 1 raw query (process)")
        if "P2" in only:
            say("   P2 …")
            fl, _ = measure_child("floor-sweep", read, env, repeat)
            res, rss = measure_child("sweep-dry", read, env, repeat)
            add("sweep-dry", med(res["samples"]), med(fl["samples"]), res["queries"], rss,
                {**res["extra"], "due_rows": fl["extra"]["rows"]}, "raw SELECT of due rows")
            prod, q, rss_max, extra = [], None, 0.0, {}
            for i in range(max(1, min(repeat, 3))):
                copy = generate.working_copy(kind, url, f"sweep{i}")
                try:
                    res, rss = measure_child("sweep-real", copy, env_for(copy, data_dir), 1)
                finally:
                    generate.drop_copy(kind, copy)
                prod += res["samples"]
                q, extra, rss_max = res["queries"], res["extra"], max(rss_max, rss)
            add("sweep-real", med(prod), med(fl["samples"]), q, rss_max, extra,
                "raw SELECT of due rows")
        if "P3" in only:
            say("   P3 …")
            for name in MEASURES["P3"]:
                res, rss = measure_child(name, read, env, repeat)
                extra = dict(res["extra"])
                fs = extra.pop("floor_samples")
                add(name, med(res["samples"]), med(fs), res["queries"], rss, extra,
                    "raw SQL + render" if name != "feed" else "raw SQL + plain iCal")
        if "P4" in only:
            say("   P4 (starts a temporary Prefect server) …")
            res, rss = measure_child("prefect", read, env, 1)
            add("prefect", med(res["samples"]), None, res["queries"], rss, res["extra"])
        if "P5" in only:
            say("   P5 …")
            for name in MEASURES["P5"]:
                # One send per fresh copy, up to three (the median; on a shared machine a
                # single send is mostly the load of its moment). The notes are the last
                # run's, with every run's time and duplicates.
                samples, dups, rss_max = [], [], 0.0
                for i in range(max(1, min(repeat, 3))):
                    copy = generate.working_copy(kind, url, f"{name}{i}")
                    try:
                        res, rss = measure_child(name, copy, env_for(copy, data_dir), 1)
                    finally:
                        generate.drop_copy(kind, copy)
                    samples += res["samples"]
                    dups.append(res["extra"]["duplicates"])
                    rss_max = max(rss_max, rss)
                add(name, med(samples), None, res["queries"], rss_max,
                    {**res["extra"], "runs_s": [round(x, 2) for x in samples],
                     "duplicates": sum(dups)})
    finally:
        generate.drop_copy(kind, read)
    return results


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description="avtaleflyt benchmarks P1–P5 (issue 12)")
    ap.add_argument("--sizes", default="1x,10x,full",
                    help="comma-separated: 1x, 10x, full or a share of full history")
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="P1,P2,P3,P4,P5", help="e.g. P1,P3")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    only = {p.strip().upper() for p in args.only.split(",")}
    unknown = only - set(MEASURES)
    if unknown:
        raise SystemExit(f"--only: ukjent måling {', '.join(sorted(unknown))} "
                         f"(kjente: {', '.join(MEASURES)}).")
    for s in args.sizes.split(","):
        generate.scale_fraction(s.strip())
    results = []
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="avtaleflyt-bench-") as tmp:
        for size in [s.strip() for s in args.sizes.split(",")]:
            results += run_size(args.db, size, args.repeat, only, Path(tmp))
    meta = {"db": args.db, "repeat": args.repeat, "load_before": load_before,
            "load_after": load(), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"avtaleflyt P1–P5 on {args.db} (median of {args.repeat}; floors from "
                    f"this run; load {load_before} → {meta['load_after']} on "
                    f"{meta['cpus']} CPUs)")
    for c in ("measure", "size", "tasks", "events", "product", "floor", "ratio",
              "queries", "peak MB", "notes"):
        t.add_column(c, justify="left" if c in ("measure", "notes") else "right")
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r["extra"].items())
        t.add_row(r["label"], r["size"], f"{r['tasks']:,}", f"{r['events']:,}",
                  f"{r['product_s']:.3f} s" if r["product_s"] is not None else "–",
                  f"{r['floor_s']:.3f} s" if r["floor_s"] else "–",
                  f"{r['ratio']:.1f}×" if r["ratio"] else "–",
                  str(r["queries"]), f"{r['peak_mb']:.0f}", notes)
    Console(width=250).print(t)


if __name__ == "__main__":
    main()
