"""The dashboard's read models and the forecast: set-based queries, states, statistics."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from avtaleflyt import db
from avtaleflyt.domain.forecast import forecast_running
from avtaleflyt.domain.stages import STAGE_ORDER, Stage
from avtaleflyt.services import dashboard

from .conftest import ctx_for
from .web_support import open_case, to_political

TODAY = date(2026, 3, 20)
MEDIANS = {Stage.FIRST_CONTACT: 20, Stage.POLITICAL_APPROVAL: 60,
           Stage.CONTRACT_SIGNING: 25, Stage.SYSTEM_SETUP: 90, Stage.RUNNING_OPERATION: None}


def test_forecast_adds_the_remaining_medians():
    f = forecast_running(stage=Stage.FIRST_CONTACT, entered=date(2026, 3, 1), today=TODAY,
                         medians=MEDIANS)
    # 1 March + 20 days = 21 March (not before today), then 60 + 25 + 90 days.
    assert f.expected == date(2026, 3, 21) + timedelta(days=175)


def test_forecast_never_before_today_the_meeting_or_the_start_date():
    late = forecast_running(stage=Stage.SYSTEM_SETUP, entered=date(2025, 1, 1), today=TODAY,
                            medians=MEDIANS)
    assert late.expected == TODAY  # overdue stage: expected now, not in the past
    meeting = forecast_running(stage=Stage.POLITICAL_APPROVAL, entered=TODAY, today=TODAY,
                               medians=MEDIANS, council_meeting=lambda on: date(2026, 6, 18))
    # The political stage would end 19 May by its median, but the council meets 18 June.
    assert meeting.expected == date(2026, 6, 18) + timedelta(days=25 + 90)
    assert meeting.council_meeting == date(2026, 6, 18)
    start = forecast_running(stage=Stage.CONTRACT_SIGNING, entered=TODAY, today=TODAY,
                             medians=MEDIANS, start_date=date(2027, 1, 1))
    assert start.expected == date(2027, 1, 1)


def test_forecast_meeting_stands_in_for_a_missing_political_median():
    f = forecast_running(stage=Stage.POLITICAL_APPROVAL, entered=TODAY, today=TODAY,
                         medians={**MEDIANS, Stage.POLITICAL_APPROVAL: None},
                         council_meeting=lambda on: date(2026, 5, 7))
    assert f.expected == date(2026, 5, 7) + timedelta(days=25 + 90)


def test_forecast_unknown_without_observed_durations():
    f = forecast_running(stage=Stage.FIRST_CONTACT, entered=TODAY, today=TODAY,
                         medians={**MEDIANS, Stage.CONTRACT_SIGNING: None})
    assert f.expected is None and f.missing_stage is Stage.CONTRACT_SIGNING


def test_deadline_states():
    assert dashboard.deadline_state(None, 0, TODAY) == "none"
    assert dashboard.deadline_state(date(2026, 3, 27), 0, TODAY) == "soon"
    assert dashboard.deadline_state(date(2026, 3, 28), 0, TODAY) == "on_track"
    assert dashboard.deadline_state(date(2026, 3, 19), 1, TODAY) == "overdue"


def _count_queries(url: str, fn) -> int:
    engine = db.get_engine(url)
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        with db.session_scope(url) as s:
            fn(s)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def _all_read_models(s):
    dashboard.board(s, TODAY)
    dashboard.overdue_tasks(s, TODAY)
    dashboard.upcoming_tasks(s, TODAY)
    dashboard.statistics(s, ctx_for(TODAY))
    dashboard.sweep_artifact_rows(s, TODAY)


def test_read_models_are_set_based(db_url):
    open_case(db_url, "1836", date(2026, 1, 5))
    one = _count_queries(db_url, _all_read_models)
    for knr in ("1837", "1838", "1839", "1840"):
        to_political(db_url, knr, date(2026, 3, 2))
    assert _count_queries(db_url, _all_read_models) == one


def test_statistics_funnel_and_stage_times(db_url):
    to_political(db_url, "1836", date(2026, 3, 2))
    open_case(db_url, "1837", date(2026, 3, 10))
    with db.session_scope(db_url) as s:
        st = dashboard.statistics(s, ctx_for(TODAY))
    assert dict(st.funnel)[Stage.FIRST_CONTACT] == 2
    assert dict(st.funnel)[Stage.POLITICAL_APPROVAL] == 1
    first = st.stages[0]
    assert (first.completed, first.median_days) == (1, 0)
    assert {f["kommunenummer"]: f["expected"] for f in st.forecasts} == {"1836": None,
                                                                         "1837": None}


def test_sweep_artifact_rows(db_url):
    """The sweep's Prefect artifact is a summary: one row per stage, never one per case."""
    open_case(db_url, "1836", date(2026, 1, 5))
    to_political(db_url, "1837", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        rows = dashboard.sweep_artifact_rows(s, TODAY)
    assert [r["Fase"] for r in rows] == [st.label for st in STAGE_ORDER]
    by_stage = {r["Fase"]: r for r in rows}
    assert by_stage["Førstekontakt"]["Saker"] == "1"
    assert by_stage["Førstekontakt"]["Med forfalte oppgaver"] == "1"  # Rødøy is overdue
    assert by_stage["Politisk behandling"]["Saker"] == "1"
    assert sum(int(r["Saker"]) for r in rows) == 2
    assert not any("Rødøy" in str(v) for r in rows for v in r.values())
    # Rødøy has been in first contact for 74 days, beyond the stage's norm: står fast, and
    # counted so even though its tasks are overdue too (the board's rule). Political
    # approval began 18 days ago: not yet; a year later it is.
    assert by_stage["Førstekontakt"]["Står fast"] == "1"
    assert by_stage["Politisk behandling"]["Står fast"] == "0"
    with db.session_scope(db_url) as s:
        later = {r["Fase"]: r for r in dashboard.sweep_artifact_rows(s, TODAY.replace(
            year=TODAY.year + 1))}
    assert later["Førstekontakt"]["Står fast"] == "1"
    assert later["Politisk behandling"]["Står fast"] == "1"


def test_forecast_waits_for_the_next_reachable_council_meeting(db_url):
    from avtaleflyt.services.meetings import add_meeting

    to_political(db_url, "1836", date(2026, 3, 2))  # political approval from 2 March
    with db.session_scope(db_url) as s:
        before = {f["kommunenummer"]: f for f in dashboard.statistics(s, ctx_for(TODAY)).forecasts}
    assert before["1836"]["meeting_plan"] is False
    with db.session_scope(db_url) as s:
        # 9 April is too close (the case document is due 15 working days before); 18 June is
        # the first meeting the case can reach.
        for on in (date(2026, 4, 9), date(2026, 6, 18)):
            add_meeting(session=s, kommunenummer="1836", body="kommunestyre", on=on,
                        title=None, ctx=ctx_for(TODAY))
    with db.session_scope(db_url) as s:
        after = {f["kommunenummer"]: f for f in dashboard.statistics(s, ctx_for(TODAY)).forecasts}
    assert after["1836"]["meeting_plan"] is True
    assert after["1836"]["council_meeting"] == date(2026, 6, 18)
    assert after["1836"]["expected"] is None  # no case has finished the later stages yet


def test_forecast_keeps_the_planned_meeting_once_the_case_document_is_delivered(db_url):
    """Within the delivery lead time of its meeting a delivered case still goes to that
    meeting; only an undelivered one would have to wait for the next."""
    from avtaleflyt.services import cases
    from avtaleflyt.services.meetings import add_meeting
    from avtaleflyt.services.queries import case_detail

    to_political(db_url, "1836", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        for on in (date(2026, 6, 18), date(2026, 9, 17)):
            add_meeting(session=s, kommunenummer="1836", body="kommunestyre", on=on,
                        title=None, ctx=ctx_for(TODAY))
        saks = next(t for t in case_detail(s, "1836", TODAY)["tasks"]
                    if t["key"] == "political.saksframlegg")
        cases.complete_task(session=s, task_id=saks["id"], on=date(2026, 5, 20),
                            ctx=ctx_for(date(2026, 5, 20)))
    with db.session_scope(db_url) as s:
        late = {f["kommunenummer"]: f
                for f in dashboard.statistics(s, ctx_for(date(2026, 6, 10))).forecasts}
    assert late["1836"]["council_meeting"] == date(2026, 6, 18)
