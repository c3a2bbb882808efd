"""Build a national avtaleflyt installation with 20 years of history, for the benchmarks.

    python bench/generate.py --scale 1x|10x|full|<fraction> [--db sqlite|postgresql] [--json]

How the rows are made (so they cannot drift from what the product writes):

1. A *sample* is produced by the product itself: `avtaleflyt demo` runs a Nordland year
   through the real Prefect flows (ten municipalities, every stage and status); the real
   sweep (`services.sweep.run_sweep`, not a dry run) then writes reminders, digests and
   deliveries to a local HTTP sink and a local SMTP server. A copy of that database is carried
   three more years through the services (weekly `keep_deadlines`, monthly duties done as they
   fall due, a real sweep every four weeks) until the pilot's agreement has ended, which gives
   a completed case with its duties and outbox history.
2. The installation is those rows replicated: every one of the 357 municipalities gets a
   current case copied from one of the ten sample cases (dates unchanged, so its deadlines fall
   around the benchmark day), and closed cases (completed, rejected, withdrawn) copied with their
   tasks, events, reminders, digests and deliveries at random points of the last 20 years until
   the requested number of tasks and events is reached. Only ids, foreign keys, dates (shifted
   by whole days, including ISO dates inside JSON details) and recipient keys are changed; every
   other value is the product's own. Rows go in with SQLAlchemy Core `executemany` through the
   product's column types, so they are encoded exactly as the services encode them.

The sample is cached by the schema revision and a hash of the product's source; a generated
database by scale + sample key, so a rerun is quick: SQLite files under the cache directory,
PostgreSQL databases named `avbench_…` (copied with `CREATE DATABASE … TEMPLATE` for a run that
writes). Not replicated: documents (files on disk), the command inbox and the access log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
ROOT = HERE.parent
SAMPLE_VERSION = 2  # the sample's making (2: the pilot's snapshot while active)
GEN_VERSION = 4  # the replication (4: long-running cases have their renewals recorded)
SAMPLE_TODAY = date(2026, 6, 1)  # a Monday; the demo's year ends here
BENCH_TODAY = date(2026, 6, 2)  # the benchmarks' "today": the next working day
YEARS = 20
FULL = {"tasks": 500_000, "events": 1_000_000}  # the national installation
SCALES = {"1x": 0.01, "10x": 0.1, "full": 1.0}  # share of FULL's closed-case history
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CLOSED = ("completed", "rejected", "withdrawn")
FOREVER = date(9999, 12, 31)  # services.deadlines.ALL_PLANNED: moved by no shift
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def cache_dir() -> Path:
    d = Path(os.environ.get("BENCH_CACHE_DIR", HERE / ".cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def scale_fraction(scale: str) -> float:
    if scale in SCALES:
        return SCALES[scale]
    try:
        value = float(scale.rstrip("x"))
    except ValueError:
        raise SystemExit(f"--scale: «{scale}» er verken 1x, 10x, full eller et desimaltall "
                         "(andel av full historikk, for eksempel 0.001).") from None
    if not 0 <= value <= 2:
        raise SystemExit(f"--scale: {value} er utenfor 0–2 (andel av full historikk).")
    return value


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the sample, made by the product ------------------------------------------------------

def product_hash() -> str:
    """Schema revision + the source that writes rows: a change rebuilds the sample."""
    from avtaleflyt import db

    h = hashlib.sha256(str(db.head_revision()).encode())
    import avtaleflyt

    pkg = Path(avtaleflyt.__file__).resolve().parent
    roots = [pkg / "services", pkg / "domain", pkg / "cli" / "demo.py"]
    for extra in ("flows", "models", "notifications"):
        roots.append(ROOT / extra if (ROOT / extra).exists() else pkg / extra)
    read_only = {"queries.py", "dashboard.py"}  # read models: they never write a row
    for r in roots:
        for f in sorted([r] if r.is_file() else r.rglob("*.py")):
            if f.name not in read_only:
                h.update(f.read_bytes())
    return f"{db.head_revision()}-{h.hexdigest()[:10]}"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVTALEFLYT_", "PREFECT_"))}
    env.update(extra)
    return env


def build_sample() -> Path:
    """Run the demo, sweep for real, then carry a copy three years on. Cached."""
    key = product_hash()
    d = cache_dir() / f"sample-{key}-g{SAMPLE_VERSION}"
    if (d / "done").exists():
        return d
    tmp = d.with_name(d.name + ".tmp")
    if not (tmp / "demo-done").exists():  # the demo is the slow part: kept across a failure
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        exe = Path(sys.executable).with_name("avtaleflyt")
        say(f"Utvalg: kjører «avtaleflyt demo» (ekte Prefect-flyter) i {tmp} …")
        t0 = time.perf_counter()
        for attempt in range(3):  # a temporary Prefect server on a loaded machine may stall
            done = subprocess.run([str(exe), "demo"], stdout=subprocess.DEVNULL,
                                  env=_clean_env(AVTALEFLYT_DATA_DIR=str(tmp),
                                                 AVTALEFLYT_TODAY=SAMPLE_TODAY.isoformat(),
                                                 PREFECT_HOME=str(tmp / "prefect")))
            if done.returncode == 0:
                break
            say(f"  demoen feilet (kode {done.returncode}); prøver igjen …")
        else:
            raise RuntimeError("avtaleflyt demo failed three times")
        say(f"  demo ferdig på {time.perf_counter() - t0:.0f} s")
        (tmp / "demo-done").write_text("")
    current = tmp / "current.db"
    _copy_sqlite(tmp / "demo.db", current)
    _sweep(f"sqlite:///{current}", SAMPLE_TODAY)
    history = tmp / "history.db"
    _copy_sqlite(current, history)
    _carry_on(history, tmp / "longrun.db")
    shutil.rmtree(tmp / "prefect", ignore_errors=True)
    (tmp / "done").write_text(key)
    shutil.rmtree(d, ignore_errors=True)
    tmp.rename(d)
    return d


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy (write-ahead log included) through SQLite's backup API."""
    import sqlite3

    for p in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
        p.unlink(missing_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def _sweep(url: str, day: date) -> None:
    """The real sweep (not a dry run) through the services, to local sinks."""
    from avtaleflyt import db
    from avtaleflyt.notifications.channels import TargetBook
    from avtaleflyt.services.context import make_ctx
    from avtaleflyt.services.sweep import run_sweep

    from sinks import HttpSink, SmtpSink

    http, smtp = HttpSink().start(), SmtpSink().start()
    try:
        targets = TargetBook(coordinator=(http.url("koordinator"),),
                             leader=(http.url("leder"),), smtp_url=smtp.url)
        with db.session_scope(url) as s:
            run_sweep(session=s, ctx=make_ctx(today=day, actor="fristsveip"), targets=targets)
    finally:
        http.stop()
        smtp.stop()


def _carry_on(path: Path, snapshot: Path) -> None:
    """Weeks after the demo: deadlines kept, the pilot's duties done as they fall due, a real
    sweep every fourth week, until the pilot's agreement has ended (about three years).
    `snapshot` keeps the database as it was after the last sweep of the first two years,
    with the pilot still active in running operation: the long-running open case."""
    url = f"sqlite:///{path}"
    from sqlmodel import col, select

    from avtaleflyt import db
    from avtaleflyt.models import OnboardingCase, Task
    from avtaleflyt.services import cases
    from avtaleflyt.services.context import make_ctx
    from avtaleflyt.services.sweep import keep_deadlines

    with db.session_scope(url) as s:
        pilot = s.exec(select(OnboardingCase).where(
            OnboardingCase.stage == "running_operation")).first()
        assert pilot is not None, "the demo has no case in running operation"
        pilot_id = pilot.id
    day, week = SAMPLE_TODAY, 0
    say("Utvalg: driver pilotkommunen videre til avtalen er utløpt …")
    while week < 52 * 5:
        day += timedelta(days=7)
        week += 1
        with db.session_scope(url) as s:
            # What fell due by this morning is done first (on its due date), then the
            # morning's sweep keeps the deadlines, which ends the agreement on its last day.
            due = s.exec(select(Task).where(Task.case_id == pilot_id,
                                            col(Task.done_on).is_(None),
                                            col(Task.due_on) < day)
                         .order_by(col(Task.due_on), col(Task.id))).all()
            for t in due:
                cases.complete_task(session=s, task_id=t.id, on=t.due_on,
                                    ctx=make_ctx(today=t.due_on, actor="demo"))
            keep_deadlines(session=s, ctx=make_ctx(today=day, actor="fristsveip"))
            status = s.get(OnboardingCase, pilot_id).status
        if week % 4 == 0:
            _sweep(url, day)
            if status == "active" and week <= 104:
                db.get_engine(url).dispose()
                _copy_sqlite(path, snapshot)
                snapshot.with_suffix(".day").write_text(day.isoformat())
        if status != "active":
            say(f"  pilotens sak er {status} {day} (uke {week})")
            return
    raise RuntimeError("the pilot's agreement did not end within five years")


# --- archetypes: one case's rows ------------------------------------------------------------

def _tables() -> dict[str, sa.Table]:
    from sqlmodel import SQLModel

    from avtaleflyt.models import load_all

    load_all()

    return dict(SQLModel.metadata.tables)


# Foreign keys and the id space they point into; `M` and `C` are the target municipality/county.
FKS: dict[str, dict[str, str]] = {
    "onboarding_case": {"id": "case", "municipality_id": "M"},
    "agreement_terms": {"id": "terms", "case_id": "case"},
    "responsibility_item": {"id": "ri", "terms_id": "terms"},
    "personal_text": {"id": "text", "municipality_id": "M", "case_id": "case"},
    "experience_note": {"id": "note", "case_id": "case", "text_id": "text"},
    "contact_person": {"id": "contact", "municipality_id": "M"},
    "task": {"id": "task", "case_id": "case", "contact_id": "contact"},
    "digest": {"id": "digest"},
    "delivery": {"id": "delivery", "digest_id": "digest"},
    "reminder": {"id": "reminder", "task_id": "task", "case_id": "case",
                 "digest_id": "digest"},
    "event": {"id": "event", "municipality_id": "M", "case_id": "case"},
    "meeting": {"id": "meeting", "county_id": "C", "municipality_id": "M"},
}
ORDER = ["contact_person", "meeting", "onboarding_case", "agreement_terms",
         "responsibility_item", "personal_text", "experience_note", "task", "digest",
         "delivery", "reminder", "event"]
DETAIL_IDS = {"reason_text_id": "text", "text_id": "text", "task_id": "task",
              "contact_id": "contact"}


@dataclass
class Archetype:
    name: str
    status: str
    rows: dict[str, list[dict[str, Any]]]
    first: date
    last: date
    tasks: int = 0
    events: int = 0


def _dates(value: Any):
    if isinstance(value, date) and value.year == FOREVER.year:
        return  # a sentinel (`duties_until` when every duty is planned), not a point in time
    if isinstance(value, datetime):
        yield value.date()
    elif isinstance(value, date):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _dates(v)
    elif isinstance(value, str) and _ISO_DATE.match(value):
        yield date.fromisoformat(value)


def load_archetypes(path: Path) -> tuple[list[Archetype], dict[str, Any]]:
    """Every case of a sample database with the rows that belong to it, plus the
    municipality-level rows (contacts, their events, meetings)."""
    tables = _tables()
    eng = sa.create_engine(f"sqlite:///{path}")
    out = []
    with eng.connect() as c:
        def rows(name, where):
            return [dict(r) for r in c.execute(sa.select(tables[name]).where(where)).mappings()]

        t = tables
        muni = {r.id: r.kommunenummer for r in c.execute(sa.select(t["municipality"]))}
        per_muni: dict[str, Any] = {}
        for case in rows("onboarding_case", sa.true()):
            cid = case["id"]
            r: dict[str, list[dict[str, Any]]] = {"onboarding_case": [case]}
            r["agreement_terms"] = rows("agreement_terms", t["agreement_terms"].c.case_id == cid)
            r["responsibility_item"] = rows("responsibility_item", t["responsibility_item"].c
                                            .terms_id.in_([x["id"] for x in
                                                           r["agreement_terms"]]))
            r["experience_note"] = rows("experience_note", t["experience_note"].c.case_id == cid)
            r["personal_text"] = rows("personal_text", sa.or_(
                t["personal_text"].c.case_id == cid,
                t["personal_text"].c.id.in_([n["text_id"] for n in r["experience_note"]])))
            r["task"] = rows("task", t["task"].c.case_id == cid)
            r["reminder"] = rows("reminder", t["reminder"].c.case_id == cid)
            r["digest"] = rows("digest", t["digest"].c.id.in_(
                {x["digest_id"] for x in r["reminder"] if x["digest_id"]}))
            r["delivery"] = rows("delivery", t["delivery"].c.digest_id.in_(
                [x["id"] for x in r["digest"]]))
            r["event"] = rows("event", t["event"].c.case_id == cid)
            dates = [d for rs in r.values() for row in rs for v in row.values()
                     for d in _dates(v)]
            knr = muni[case["municipality_id"]]
            out.append(Archetype(f"{knr}/{case['status']}/{case['stage']}", case["status"], r,
                                 min(dates), max(dates), len(r["task"]), len(r["event"])))
            mid = case["municipality_id"]
            per_muni[out[-1].name] = {
                "contact_person": rows("contact_person",
                                       t["contact_person"].c.municipality_id == mid),
                "event": rows("event", sa.and_(t["event"].c.municipality_id == mid,
                                               t["event"].c.case_id.is_(None))),
                "meeting": rows("meeting", t["meeting"].c.municipality_id == mid),
            }
        county_meetings = rows("meeting", t["meeting"].c.municipality_id.is_(None))
    eng.dispose()
    return out, {"per_municipality": per_muni, "county_meetings": county_meetings}


# --- replication ------------------------------------------------------------------------------

@dataclass
class Writer:
    conn: sa.Connection
    tables: dict[str, sa.Table]
    next_id: dict[str, int]
    buffers: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    digests: dict[tuple[str, date], int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: int = 0

    def new_id(self, table: str) -> int:
        n = self.next_id[table]
        self.next_id[table] = n + 1
        return n

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.buffers[table].append(row)
        self.counts[table] += 1
        self.pending += 1
        if self.pending >= 50_000:
            self.flush()

    def flush(self) -> None:
        for name in ORDER:
            rows = self.buffers.pop(name, None)
            if rows:
                self.conn.execute(self.tables[name].insert(), rows)
        self.pending = 0


def _shift(value: Any, delta: timedelta, maps: dict[str, dict[int, int]]) -> Any:
    if isinstance(value, (date, datetime)):
        return value if value.year == FOREVER.year else value + delta
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in DETAIL_IDS and isinstance(v, int) and v in maps[DETAIL_IDS[k]]:
                out[k] = maps[DETAIL_IDS[k]][v]
            else:
                out[k] = _shift(v, delta, maps)
        return out
    if isinstance(value, str) and _ISO_DATE.match(value):
        return (date.fromisoformat(value) + delta).isoformat()
    return value


def _recipient(value: str, county_code: str, maps) -> str:
    role, _, key = value.partition(":")
    if role in ("coordinator", "leader") and key:
        return f"{role}:{county_code}"
    if role == "contact" and key.isdigit():
        return f"contact:{maps['contact'].get(int(key), int(key))}"
    return value


def emit(w: Writer, table: str, rows: list[dict[str, Any]], *, delta: timedelta,
         maps: dict[str, dict[int, int]], target: dict[str, Any]) -> None:
    spec = FKS[table]
    for row in rows:
        new = {}
        for col, value in row.items():
            space = spec.get(col)
            if value is None:
                new[col] = None
            elif space == "M":
                new[col] = target["municipality_id"]
            elif space == "C":
                new[col] = target["county_id"]
            elif col == "id":
                continue
            elif space:
                new[col] = maps[space].get(value, value if space == "contact" else None)
            elif col == "recipient":
                new[col] = _recipient(value, target["county_code"], maps)
            elif col == "email" and table == "contact_person":
                local, _, domain = value.partition("@")
                new[col] = f"{local.split('.')[0]}.{target['kommunenummer']}@{domain}"
            else:
                new[col] = _shift(value, delta, maps)
        if table == "task" and row["contact_id"] is not None and \
                row["contact_id"] not in maps["contact"]:
            new["contact_id"] = None
        if table == "digest":
            key = (new["recipient"], new["sweep_on"])
            if key in w.digests:  # one digest per recipient and day: join the existing one
                maps["digest"][row["id"]] = w.digests[key]
                maps["merged_digest"][row["id"]] = 1
                continue
        if table == "delivery" and row["digest_id"] in maps["merged_digest"]:
            continue
        new["id"] = w.new_id(table)
        maps[spec["id"]][row["id"]] = new["id"]
        if table == "digest":
            w.digests[(new["recipient"], new["sweep_on"])] = new["id"]
        w.add(table, new)


def replicate(w: Writer, arch: Archetype, target: dict[str, Any], delta: timedelta,
              contacts: dict[int, int]) -> None:
    maps: dict[str, dict[int, int]] = defaultdict(dict)
    maps["contact"] = dict(contacts)
    for table in ORDER:
        if table in arch.rows:
            emit(w, table, arch.rows[table], delta=delta, maps=maps, target=target)


# --- long-running open cases ----------------------------------------------------------------------

def operation_years(fraction: float) -> int:
    """How many years the long-running cases have been in running operation: 18 (of the 20
    years of history) at full size, fewer at smaller sizes, so what the pages show grows
    with the installation."""
    return max(2, min(YEARS - 2, round(2 + 16 * fraction ** 0.5)))


@dataclass
class LongRun:
    """The pilot as the sample left it while still active (`longrun.db`): the template of a
    case in running operation for many years, its duties planned by the product's own
    `plan_duties` and each one's rows (task, reminders, digests, deliveries, events) copied
    from the pilot's duty of the same kind."""

    arch: Archetype
    per_muni: dict[str, Any]
    day: date  # the sample's day of the snapshot: mapped to SAMPLE_TODAY
    terms: dict[str, Any]
    duty_rows: dict[str, list[dict[str, Any]]]  # the pilot's duty rows by kind, done first
    planning_events: list[dict[str, Any]]
    plans: dict[int, tuple] = field(default_factory=dict)  # by years: plan_long_run's result


def _duty_kind(key: str) -> str:
    return key.split(".")[1]


def load_long_run(sample: Path) -> LongRun:
    archs, extra = load_archetypes(sample / "longrun.db")
    arch = next(a for a in archs if a.status == "active"
                and a.rows["onboarding_case"][0]["stage"] == "running_operation")
    day = date.fromisoformat((sample / "longrun.day").read_text().strip())
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in sorted(arch.rows["task"], key=lambda t: (t["done_on"] is None, t["due_on"])):
        if t["key"].startswith("duty."):
            by_kind[_duty_kind(t["key"])].append(t)
    planning = [e for e in arch.rows["event"] if e["kind"] == "duties_planned"]
    return LongRun(arch, extra["per_municipality"][arch.name], day,
                   arch.rows["agreement_terms"][0], dict(by_kind), planning)


def _duty_template(lr: LongRun, kind: str, done: bool) -> dict[str, Any]:
    rows = lr.duty_rows.get(kind) or lr.duty_rows["followup"]
    matching = [t for t in rows if (t["done_on"] is not None) == done]
    return (matching or rows)[0 if done else -1]


def plan_long_run(lr: LongRun, years: int) -> tuple[dict[str, Any], list, date]:
    """The terms (a three-year agreement renewed automatically, in operation since 1 January
    `years` years before the sample's day) and the duties the product plans for them by
    SAMPLE_TODAY, with the case's `duties_until` computed as the sweep computes it."""
    if years not in lr.plans:
        lr.plans[years] = _plan_long_run(lr, years)
    return lr.plans[years]


def _plan_long_run(lr: LongRun, years: int) -> tuple[dict[str, Any], list, date]:
    from decimal import Decimal

    from avtaleflyt.domain.duties import plan_duties
    from avtaleflyt.domain.agreement import Terms
    from avtaleflyt.services.context import make_ctx
    from avtaleflyt.services.deadlines import ALL_PLANNED, _duty_rules

    start = date(SAMPLE_TODAY.year - years, 1, 1)
    row = {**lr.terms, "start_date": start, "renewal": "auto"}
    terms = Terms(start_date=start, years=row["years"], notice_months=row["notice_months"],
                  yearly_price=row["yearly_price"],
                  position_share=Decimal(row["position_share"]),
                  site_visits_per_year=row["site_visits_per_year"], split=(),
                  months=row["months"], renewal="auto")
    ctx = make_ctx(today=SAMPLE_TODAY, actor="fristsveip")
    rules = _duty_rules(ctx)
    planned = plan_duties(terms, entered_on=start, today=SAMPLE_TODAY, rules=rules,
                          cal=ctx.calendar)
    keys = {p.key for p in planned}
    later = [p.due_on for p in plan_duties(terms, entered_on=start, today=terms.end_date,
                                           rules=rules, cal=ctx.calendar)
             if p.key not in keys]
    return row, planned, min(later) if later else ALL_PLANNED


def renewals(lr: LongRun, years: int) -> list[tuple[int, date, date]]:
    """(number, first day, last day) of each period after the first that the long-running
    case's agreement has begun by SAMPLE_TODAY: the sweep recorded each as an
    `agreement_renewed` event on its first day (`machine.agreement_renewals`)."""
    from decimal import Decimal

    from avtaleflyt.domain.agreement import Terms

    row, _planned, _until = plan_long_run(lr, years)
    terms = Terms(start_date=row["start_date"], years=row["years"],
                  notice_months=row["notice_months"], yearly_price=row["yearly_price"],
                  position_share=Decimal(row["position_share"]),
                  site_visits_per_year=row["site_visits_per_year"], split=(),
                  months=row["months"], renewal="auto")
    return [(k, start, end) for k, (start, end) in enumerate(terms.periods(SAMPLE_TODAY), 1)
            if k > 1 and start <= SAMPLE_TODAY]


def _done_events(lr: LongRun, task: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in lr.arch.rows["event"] if e["kind"] == "task_done"
            and (e["details"] or {}).get("task_id") == task["id"]]


def long_run_size(lr: LongRun, years: int) -> tuple[int, int]:
    """The tasks and events `replicate_long_run` writes for one case."""
    _terms, planned, _until = plan_long_run(lr, years)
    duties = sum(len(v) for v in lr.duty_rows.values())
    duty_ids = {t["id"] for v in lr.duty_rows.values() for t in v}
    own_events = [e for e in lr.arch.rows["event"] if e["kind"] != "duties_planned"
                  and (e["details"] or {}).get("task_id") not in duty_ids]
    done = [p for p in planned if p.due_on < SAMPLE_TODAY]
    events = len(own_events) + len({p.due_on.year for p in planned}) + sum(
        len(_done_events(lr, _duty_template(lr, _duty_kind(p.key), True))) for p in done)
    return lr.arch.tasks - duties + len(planned), events + len(renewals(lr, years))


def replicate_long_run(w: Writer, lr: LongRun, years: int, target: dict[str, Any],
                       contacts: dict[int, int]) -> None:
    """One long-running open case for `target`: the pilot's rows before running operation
    moved back to `years` years ago, then every duty the product plans for it since then,
    done on its due date if it fell due before SAMPLE_TODAY."""
    terms_row, planned, duties_until = plan_long_run(lr, years)
    a = lr.arch
    case = a.rows["onboarding_case"][0]
    entered = case["stage_entered_on"]
    before = terms_row["start_date"] - entered  # the case's own history, moved back
    now = SAMPLE_TODAY - lr.day  # the snapshot's day becomes the sample's today
    duty_ids = {t["id"] for t in a.rows["task"] if t["key"].startswith("duty.")}
    maps: dict[str, dict[int, int]] = defaultdict(dict)
    maps["contact"] = dict(contacts)

    def is_duty_row(table: str, row: dict[str, Any]) -> bool:
        if table == "task":
            return row["id"] in duty_ids
        if table == "reminder":
            return row["task_id"] in duty_ids
        if table == "event":
            return row["kind"] == "duties_planned" or \
                (row["details"] or {}).get("task_id") in duty_ids
        return False

    for table in ORDER:
        rows = [r for r in a.rows.get(table, []) if not is_duty_row(table, r)]
        if table == "digest":  # only those of the case's own (non-duty) reminders
            used = {r["digest_id"] for r in a.rows["reminder"]
                    if r["task_id"] not in duty_ids and r["digest_id"]}
            rows = [r for r in rows if r["id"] in used]
        elif table == "delivery":
            rows = [r for r in rows if r["digest_id"] in maps["digest"]]
        if table == "agreement_terms":
            rows = [{**terms_row, "start_date": entered}]
        emit(w, table, rows, delta=before, maps=maps, target=target)
        if table == "onboarding_case":  # planned and changed last at the snapshot
            w.buffers[table][-1].update(duties_until=duties_until,
                                        updated_at=case["updated_at"] + now)
    # The duties, year by year as the sweep plans them.
    by_year: dict[int, list] = defaultdict(list)
    for p in planned:
        by_year[p.due_on.year].append(p)
    plan_event = lr.planning_events[0]
    for year, duties in sorted(by_year.items()):
        first = min(p.due_on for p in duties)
        on = max(terms_row["start_date"], first - timedelta(days=31))
        emit(w, "event", [{**plan_event, "details": {
            "count": len(duties), "until": max(p.due_on for p in duties).isoformat()}}],
             delta=on - plan_event["occurred_on"], maps=maps, target=target)
    for k, start, end in renewals(lr, years):  # as the sweep's run of the stage wrote them
        delta = start - plan_event["occurred_on"]
        emit(w, "event", [{**plan_event, "kind": "agreement_renewed", "details": {
            "period": k, "start": (start - delta).isoformat(),
            "end": (end - delta).isoformat()}}], delta=delta, maps=maps, target=target)
    for p in planned:
        done = p.due_on < SAMPLE_TODAY
        tpl = _duty_template(lr, _duty_kind(p.key), done)
        delta = p.due_on - tpl["due_on"]
        dmaps: dict[str, dict[int, int]] = defaultdict(dict)
        dmaps.update(case=maps["case"], contact=maps["contact"], text=maps["text"])
        task = {**tpl, "key": p.key, "title": p.title, "stage": p.stage.value,
                "responsible": p.responsible.value, "mandatory": p.mandatory,
                "milestone": p.milestone.value if p.milestone else None,
                "due_on": p.due_on - delta, "done_on": (p.due_on - delta) if done else None}
        emit(w, "task", [task], delta=delta, maps=dmaps, target=target)
        if done or tpl["done_on"] is None:  # an open duty keeps only an open one's reminders
            reminders = [r for r in a.rows["reminder"] if r["task_id"] == tpl["id"]]
            digest_ids = {r["digest_id"] for r in reminders if r["digest_id"]}
            digests = [d for d in a.rows["digest"] if d["id"] in digest_ids]
            emit(w, "digest", digests, delta=delta, maps=dmaps, target=target)
            emit(w, "delivery", [d for d in a.rows["delivery"] if d["digest_id"] in digest_ids],
                 delta=delta, maps=dmaps, target=target)
            emit(w, "reminder", reminders, delta=delta, maps=dmaps, target=target)
        if done:
            events = [{**e, "details": {**e["details"], "key": p.key, "title": p.title}}
                      for e in _done_events(lr, tpl)]
            emit(w, "event", events, delta=delta, maps=dmaps, target=target)


# --- the installation ---------------------------------------------------------------------------

def generate(url: str, fraction: float, *, seed: int = 20, progress: bool = True,
             years: int | None = None) -> dict[str, Any]:
    """Build the installation into the empty database at `url`; returns its counts.
    `years`: the long-running cases' years in operation instead of `operation_years`
    (a test that compares two sizes of history with the same current cases)."""
    from avtaleflyt import db
    from avtaleflyt.services.reference import load_reference_data

    t0 = time.perf_counter()
    sample = build_sample()
    current, extra = load_archetypes(sample / "current.db")
    long_run = load_long_run(sample)
    years = operation_years(fraction) if years is None else years
    history_all, _ = load_archetypes(sample / "history.db")
    history = [a for a in history_all if a.status in CLOSED]
    statuses = {a.status for a in history}
    if not set(CLOSED) <= statuses:
        raise RuntimeError(f"the sample lacks closed statuses: {set(CLOSED) - statuses}")
    db.upgrade(url)
    with db.session_scope(url) as s:
        load_reference_data(s)
    db.get_engine(url).dispose()
    tables = _tables()
    rng = random.Random(seed)
    engine = sa.create_engine(url)
    if url.startswith("sqlite"):
        @sa.event.listens_for(engine, "connect")
        def _fast(dbapi_conn, _rec):  # generation only; the product's own pragmas differ
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=OFF")
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
    targets = {"tasks": int(FULL["tasks"] * fraction), "events": int(FULL["events"] * fraction)}
    with engine.begin() as conn:
        munis = [dict(r) for r in conn.execute(sa.text(
            "SELECT m.id AS municipality_id, m.kommunenummer, c.id AS county_id, "
            "c.code AS county_code FROM municipality m JOIN county c ON c.id = m.county_id "
            "ORDER BY m.kommunenummer")).mappings()]
        next_id = {}
        for name in ORDER:
            next_id[name] = (conn.execute(sa.select(sa.func.max(tables[name].c.id))).scalar()
                             or 0) + 1
        w = Writer(conn, tables, next_id)
        plan_current = [current[i % len(current)] for i in range(len(munis))]
        # Where the current case is the pilot in running operation, it is a long-running
        # one instead: in operation for `years` years under one open case.
        long_idx = {i for i, a in enumerate(plan_current) if a.name.split("/")[0] ==
                    long_run.arch.name.split("/")[0]}
        lr_tasks, lr_events = long_run_size(long_run, years)
        have = {"tasks": sum(a.tasks for i, a in enumerate(plan_current) if i not in long_idx)
                + lr_tasks * len(long_idx),
                "events": sum(a.events for i, a in enumerate(plan_current) if i not in long_idx)
                + lr_events * len(long_idx)}
        hist_idx = [i for i in range(len(munis)) if i not in long_idx]
        # Contacts first: history tasks and reminders point at the municipality's contacts.
        contact_maps: list[dict[int, int]] = []
        for m, arch in zip(munis, plan_current):
            maps: dict[str, dict[int, int]] = defaultdict(dict)
            emit(w, "contact_person", extra["per_municipality"][arch.name]["contact_person"],
                 delta=timedelta(0), maps=maps, target=m)
            contact_maps.append(dict(maps["contact"]))
        counties = {m["county_id"]: m for m in munis}
        for m in counties.values():
            emit(w, "meeting", extra["county_meetings"], delta=timedelta(0),
                 maps=defaultdict(dict), target={**m, "municipality_id": None})
        # Closed history, round-robin over the municipalities, until the targets are met.
        earliest = BENCH_TODAY - timedelta(days=365 * YEARS)
        bar = _bar(progress, "Historikk", sum(targets.values()))
        n_hist, i = 0, 0
        while (have["tasks"] < targets["tasks"] or have["events"] < targets["events"]
               or n_hist < len(history)):  # every closed status at least once
            if n_hist < len(history):
                arch = history[n_hist]
            else:  # whichever kind of case brings the laggard count closest
                lag_t = (targets["tasks"] - have["tasks"]) / max(targets["tasks"], 1)
                lag_e = (targets["events"] - have["events"]) / max(targets["events"], 1)
                key = (lambda a: a.tasks / max(a.events, 1)) if lag_t > lag_e else \
                    (lambda a: a.events / max(a.tasks, 1))
                arch = max(history, key=key) if rng.random() < 0.8 else rng.choice(history)
            idx = hist_idx[i % len(hist_idx)]  # a long-running case has no room before it
            m, cur = munis[idx], plan_current[idx]
            span = (arch.last - arch.first).days
            latest_end = cur.first - timedelta(days=1)
            lo = earliest + timedelta(days=span)
            end = lo + timedelta(days=rng.randint(0, max((latest_end - lo).days, 0)))
            replicate(w, arch, m, end - arch.last, contact_maps[idx])
            have["tasks"] += arch.tasks
            have["events"] += arch.events
            n_hist += 1
            i += 1
            bar(arch.tasks + arch.events)
        bar(None)
        # Current cases last: each municipality's latest case has its highest id.
        bar = _bar(progress, "Nåværende saker", len(munis))
        for idx, (m, arch) in enumerate(zip(munis, plan_current)):
            per = extra["per_municipality"][arch.name]
            maps = defaultdict(dict)
            maps["contact"] = dict(contact_maps[idx])
            if idx in long_idx:
                replicate_long_run(w, long_run, years, m, contact_maps[idx])
            else:
                for table in ORDER:
                    if table in arch.rows:
                        emit(w, table, arch.rows[table], delta=timedelta(0), maps=maps,
                             target=m)
            emit(w, "meeting", per["meeting"], delta=timedelta(0), maps=maps, target=m)
            emit(w, "event", per["event"], delta=timedelta(0), maps=maps, target=m)
            bar(1)
        bar(None)
        w.flush()
        if conn.dialect.name == "postgresql":
            for name in ORDER:
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    if url.startswith("postgresql"):
        # Autovacuum would have analysed tables of this size long ago.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))
    with engine.connect() as c:
        counts = {name: c.execute(sa.select(sa.func.count()).select_from(tables[name])).scalar()
                  for name in ORDER + ["municipality", "county"]}
        counts["cases_by_status"] = dict(c.execute(sa.text(
            "SELECT status, count(*) FROM onboarding_case GROUP BY status")).all())
    engine.dispose()
    return {"fraction": fraction, "targets": targets, "history_cases": n_hist,
            "long_running": {"cases": len(long_idx), "years": years,
                             "tasks_each": lr_tasks, "events_each": lr_events},
            "counts": counts, "seconds": round(time.perf_counter() - t0, 1),
            "sample": sample.name}


def _bar(enabled: bool, label: str, total: int):
    """Progress on stderr: a line every 10 %, and the total at the end."""
    state = {"done": 0, "next": 0.1, "t0": time.perf_counter()}

    def step(n):
        if not enabled:
            return
        if n is None:
            say(f"  {label}: ferdig, {state['done']:,} på {time.perf_counter() - state['t0']:.0f} s"
                .replace(",", " "))
            return
        state["done"] += n
        if total and state["done"] / total >= state["next"]:
            say(f"  {label}: {min(100, 100 * state['done'] // total)} % "
                f"({time.perf_counter() - state['t0']:.0f} s)")
            state["next"] += 0.1
    return step


# --- cached databases ----------------------------------------------------------------------

def _key(kind: str, scale: str) -> str:
    slug = re.sub(r"[^a-z0-9]", "_", scale.lower())
    return f"avbench_{kind[:2]}_{slug}_{product_hash().replace('-', '_')}_g{GEN_VERSION}"


def cached(kind: str, scale: str, *, progress: bool = True) -> tuple[str, dict[str, Any]]:
    """The URL of a generated database (built if missing) and its manifest."""
    fraction = scale_fraction(scale)
    key = _key(kind, scale)
    manifest = cache_dir() / f"{key}.json"
    if kind == "sqlite":
        path = cache_dir() / f"{key}.db"
        url = f"sqlite:///{path}"
        if path.exists() and manifest.exists():
            return url, json.loads(manifest.read_text())
        tmp = path.with_name(path.name + ".tmp")
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
        info = generate(f"sqlite:///{tmp}", fraction, progress=progress)
        from avtaleflyt import db

        db.get_engine.cache_clear()
        c = sa.create_engine(f"sqlite:///{tmp}")
        with c.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        c.dispose()
        tmp.rename(path)
        info["bytes"] = path.stat().st_size
    elif kind == "postgresql":
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{key}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": key}).first()
        if exists and manifest.exists():
            admin.dispose()
            return url, json.loads(manifest.read_text())
        tmpname = key + "_tmp"
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{tmpname}"'))
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{key}"'))
            c.execute(sa.text(f'CREATE DATABASE "{tmpname}"'))
        tmp_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{tmpname}"
        info = generate(tmp_url, fraction, progress=progress)
        from avtaleflyt import db

        db.get_engine(tmp_url).dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'ALTER DATABASE "{tmpname}" RENAME TO "{key}"'))
            info["bytes"] = c.execute(sa.text("SELECT pg_database_size(:n)"),
                                      {"n": key}).scalar()
        admin.dispose()
    else:
        raise SystemExit(f"--db: «{kind}» må være sqlite eller postgresql.")
    info.update(key=key, scale=scale, db=kind)
    manifest.write_text(json.dumps(info, indent=2))
    return url, info


def working_copy(kind: str, url: str, name: str) -> str:
    """A throwaway copy of a cached database for a run that writes. Drop it with `drop_copy`."""
    if kind == "sqlite":
        src = Path(url.removeprefix("sqlite:///"))
        dst = src.with_name(f"{src.stem}.{name}.copy.db")
        shutil.copy(src, dst)  # the cached file is checkpointed and never opened for writing
        return f"sqlite:///{dst}"
    key = url.rsplit("/", 1)[1]
    copy = f"{key[:40]}_{name}"[:63]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy}"'))
        c.execute(sa.text(f'CREATE DATABASE "{copy}" TEMPLATE "{key}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{copy}"


def drop_copy(kind: str, url: str) -> None:
    if kind == "sqlite":
        p = Path(url.removeprefix("sqlite:///"))
        for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
            f.unlink(missing_ok=True)
        return
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="1x", help="1x, 10x, full, or a share of full history")
    ap.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    ap.add_argument("--json", action="store_true", help="print the manifest as JSON")
    args = ap.parse_args()
    url, info = cached(args.db, args.scale)
    if args.json:
        print(json.dumps({**info, "url": url}, indent=2))
    else:
        c = info["counts"]
        print(f"{args.db} {args.scale}: {c['onboarding_case']} saker, {c['task']} oppgaver, "
              f"{c['event']} hendelser, {c['reminder']} påminnelser, {c['digest']} "
              f"oppsummeringer, {c['delivery']} leveranser; bygget på {info['seconds']} s. "
              f"{url}")


if __name__ == "__main__":
    main()
