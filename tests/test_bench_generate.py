"""The benchmark generator (bench/generate.py) builds an installation the product can read.

A small share of the full history is generated on real SQLite and real PostgreSQL; the
product's own reads (status table, board, overdue list, a dry-run sweep) must work on it, and
the counts must be what was asked for. The sample the generator replicates is made by
`avtaleflyt demo` (real Prefect flows) and cached under bench/.cache (BENCH_CACHE_DIR), so the
first run of this test takes a few minutes and later runs seconds.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from avtaleflyt import db
from avtaleflyt.domain.stages import STAGE_ORDER
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services import dashboard, queries
from avtaleflyt.services.context import make_ctx
from avtaleflyt.services.sweep import dry_run_session, run_sweep

from .conftest import throwaway_pg_database

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import generate  # noqa: E402

FRACTION = 0.002  # 1 000 tasks and 2 000 events of closed history


@pytest.fixture(params=["sqlite", "postgresql"])
def generated(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bench.db'}"
        info = generate.generate(url, FRACTION, progress=False)
        yield url, info
        db.get_engine(url).dispose()
    else:
        with throwaway_pg_database("avtaleflyt_bench") as url:
            yield url, generate.generate(url, FRACTION, progress=False)


def test_generated_installation_has_what_was_asked_and_the_product_reads_it(generated):
    url, info = generated
    counts = info["counts"]
    assert counts["county"] == 15 and counts["municipality"] == 357
    assert counts["task"] >= 1_000 and counts["event"] >= 2_000
    # Not wildly more than asked: one closed case at most beyond each target.
    assert counts["task"] < 1_000 + 357 * 43 + 200 and counts["event"] < 2_000 + 357 * 43 + 200
    assert counts["reminder"] > 0 and counts["digest"] > 0 and counts["delivery"] > 0
    engine = sa.create_engine(url)
    with engine.connect() as c:
        real = {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("task", "event", "onboarding_case", "reminder")}
        statuses = Counter(dict(c.execute(sa.text(
            "SELECT status, count(*) FROM onboarding_case GROUP BY status")).all()))
        stages = {r[0] for r in c.execute(sa.text("SELECT DISTINCT stage FROM onboarding_case"))}
        open_per_muni = c.execute(sa.text(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM onboarding_case "
            "WHERE status IN ('active', 'on_hold') GROUP BY municipality_id) x")).scalar()
        oldest = c.execute(sa.text("SELECT min(opened_on) FROM onboarding_case")).scalar()
        longest = c.execute(sa.text(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM task t JOIN onboarding_case c "
            "ON c.id = t.case_id WHERE c.status = 'active' GROUP BY c.id) x")).scalar()
    engine.dispose()
    assert real == {"task": counts["task"], "event": counts["event"],
                    "onboarding_case": counts["onboarding_case"],
                    "reminder": counts["reminder"]}
    assert set(statuses) == {"active", "on_hold", "withdrawn", "rejected", "completed"}
    assert {s.value for s in STAGE_ORDER} == stages
    assert open_per_muni == 1
    # Closed history lies before the current cases (the earliest current case opened 2025).
    assert str(oldest) < "2024-06-01"
    assert longest > 150  # a long-running open case: years of monthly duties

    today = generate.BENCH_TODAY
    with db.session_scope(url) as s:
        rows = queries.status_rows(s, today)
        assert len(rows) == 357
        # Every municipality's latest case is the current one (no history case shows).
        assert sum(r["status"] in ("active", "on_hold") for r in rows) >= 250
        board = dashboard.board(s, today)
        # Every municipality's current case is counted on the board, which shows only the
        # cards that need attention first in each column (the rest behind «Vis flere»).
        assert board.total == 357
        assert 0 < sum(len(c) for _, c in board.items()) < 357
        assert dashboard.overdue_tasks(s, today)
    with dry_run_session(url) as s:
        result = run_sweep(session=s, ctx=make_ctx(today=today, actor="test"),
                           targets=TargetBook(), dry_run=True)
    assert result.reminders_new > 0 and result.overdue_tasks > 0
    # The long-running open cases carry years of duties planned exactly as the sweep plans
    # them: the sweep finds nothing to add.
    assert info["long_running"]["cases"] == 36 and info["long_running"]["years"] >= 3
    assert result.duties_created == 0
    # The dry run left nothing behind.
    engine = sa.create_engine(url)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM reminder")).scalar() == \
            counts["reminder"]
    engine.dispose()
