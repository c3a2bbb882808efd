"""A morning's sweep costs what is due today, not the history (issue 12, P2).

Two national installations (bench/generate.py: 15 counties, 357 municipalities, the same
current cases) whose closed history differs tenfold are swept for real — duties, reminders,
digests built and sent to a real local SMTP server and HTTP endpoint, the sent ones
recorded. Both sweeps do the same day's work and must send the same number of SQL
statements: a statement per closed case, per old reminder or event, or per renewal period
of the history would show here. (Statements per current case or per recipient are caught by
tests/test_sweep_queries.py, which varies those.)
SQLite and PostgreSQL. (The sample the generator replicates is cached as in
test_bench_generate.py.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from avtaleflyt import db
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services.context import make_ctx
from avtaleflyt.services.sweep import run_sweep

from .conftest import throwaway_pg_database
from .test_sending import CountingSmtpServer, KeepAliveHook

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import generate  # noqa: E402

# 1 000 and 15 000 tasks in all; the long-running open cases get the same years in
# operation at both sizes, so the current cases, and the day's work, are the same.
SMALL, LARGE = 0.002, 0.03
YEARS = 3


def _sweep(url: str, smtp: CountingSmtpServer, hook: KeepAliveHook) -> tuple[int, dict]:
    engine = db.get_engine(url)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    targets = TargetBook(coordinator=(hook.url,), leader=(hook.url,), smtp_url=smtp.url)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with db.session_scope(url) as s:
            r = run_sweep(session=s, ctx=make_ctx(today=generate.BENCH_TODAY,
                                                  actor="fristsveip"), targets=targets)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    sent = sum(1 for x in r.sent if x["status"] == "sent")
    return len(statements), {"reminders": r.reminders_new, "digests": r.digests_built,
                             "sent": sent, "messages": len(r.sent),
                             "duties": r.duties_created, "advanced": len(r.advanced)}


def _installation(kind: str, fraction: float, tmp_path: Path):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'bench-{fraction}.db'}"
        info = generate.generate(url, fraction, progress=False, years=YEARS)
        return url, info, None
    cm = throwaway_pg_database("avtaleflyt_scale")
    url = cm.__enter__()
    try:
        return url, generate.generate(url, fraction, progress=False, years=YEARS), cm
    except BaseException:
        cm.__exit__(None, None, None)  # the throwaway database is dropped either way
        raise


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql",
                                                         marks=pytest.mark.postgres)])
def test_the_sweep_sends_as_many_statements_for_ten_times_the_history(kind, tmp_path):
    seen = {}
    for fraction in (SMALL, LARGE):
        url, info, cm = _installation(kind, fraction, tmp_path)
        try:
            with CountingSmtpServer() as smtp, KeepAliveHook() as hook:
                n, work = _sweep(url, smtp, hook)
                received = len(smtp.messages) + len(hook.posts)
            seen[fraction] = (n, work, info["counts"], received)
        finally:
            db.get_engine(url).dispose()
            if cm is not None:
                cm.__exit__(None, None, None)
    (n_small, work_small, counts_small, got_small), (n_large, work_large, counts_large,
                                                     got_large) = seen[SMALL], seen[LARGE]
    # Ten times the closed history (about 8 000 → 80 000 rows in all) …
    assert counts_large["onboarding_case"] > 2 * counts_small["onboarding_case"]
    assert counts_large["task"] >= counts_small["task"] + 5_000
    assert counts_large["event"] >= counts_small["event"] + 15_000
    # … the same day's work, really done: reminders written, digests built and sent …
    assert work_small == work_large, (work_small, work_large)
    assert work_small["reminders"] > 0 and work_small["digests"] > 0
    assert work_small["sent"] == work_small["messages"] > 0
    assert got_small == got_large >= work_small["sent"]
    # … and the same statements, whatever the history.
    assert n_small == n_large, (n_small, n_large)
