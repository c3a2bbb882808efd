"""Time per stage: one history, and Statistikk, the experience report and the case page's
timeline all tell the same story about it (they share `domain.experience.case_spans`).

Four municipalities, driven through the services on SQLite and PostgreSQL (today 1 May 2026):

  Rødøy  1836  opened 5 Jan; first contact done 4 Feb (30 days); council approves 1 Apr,
               county 15 Apr (70 days in political approval); in contract signing since
               15 Apr (open).
  Røst   1856  opened 1 Feb; first contact done 21 Feb (20 days); the council rejects on
               23 Mar: political approval ended that day (30 days), the case is closed.
  Træna  1835  opened 10 Jan; first contact done 1 Mar (50 days); withdrawn 20 Mar: political
               approval ended that day (19 days).
  Værøy  1857  opened 1 Mar; on hold since 1 Apr; still in first contact (open).

By hand:
  first contact       4 entered, 3 completed (20, 30, 50): median 30, quickest Røst 20,
                      slowest Træna 50; 4 municipalities reached it.
  political approval  3 entered, 3 completed (19, 30, 70): median 30, quickest Træna 19,
                      slowest Rødøy 70; 3 municipalities.
  contract signing    1 entered (Rødøy), none completed; 1 municipality.
  system setup, running operation: nobody.
Statistikk used to say "1 completed, median 70" for political approval (it left the
rejected and withdrawn cases' last stage open) while the report said 3 and 30.
"""

from __future__ import annotations

from datetime import date

from avtaleflyt import db
from avtaleflyt.domain.stages import STAGE_ORDER, Stage
from avtaleflyt.services import cases, dashboard, documents, facts, queries
from avtaleflyt.web import charts

from .conftest import ctx_for
from .web_support import logged_in

TODAY = date(2026, 5, 1)
FC, PA, CS = Stage.FIRST_CONTACT, Stage.POLITICAL_APPROVAL, Stage.CONTRACT_SIGNING

# stage -> (entered, completed, median, min, max, quickest, slowest, municipalities)
EXPECTED = {
    FC: (4, 3, 30, 20, 50, ("1856", 20), ("1835", 50), 4),
    PA: (3, 3, 30, 19, 70, ("1835", 19), ("1836", 70), 3),
    CS: (1, 0, None, None, None, None, None, 1),
    Stage.SYSTEM_SETUP: (0, 0, None, None, None, None, None, 0),
    Stage.RUNNING_OPERATION: (0, 0, None, None, None, None, None, 0),
}

# kommunenummer -> {stage: (entered, left)} as the case page's timeline must show it
TIMELINES = {
    "1836": {FC: (date(2026, 1, 5), date(2026, 2, 4)),
             PA: (date(2026, 2, 4), date(2026, 4, 15)), CS: (date(2026, 4, 15), None)},
    "1856": {FC: (date(2026, 2, 1), date(2026, 2, 21)),
             PA: (date(2026, 2, 21), date(2026, 3, 23))},
    "1835": {FC: (date(2026, 1, 10), date(2026, 3, 1)),
             PA: (date(2026, 3, 1), date(2026, 3, 20))},
    "1857": {FC: (date(2026, 3, 1), None)},
}


def _record(s, knr: str, kind: str, on: date, **options) -> None:
    ctx = ctx_for(on)
    cases.record_fact(session=s, kommunenummer=knr,
                      fact=facts.build_fact(kind, on, options, ctx), ctx=ctx)
    for _ in Stage:  # what the onboarding flow does, without Prefect and without drafts
        stage = cases.current_stage(session=s, kommunenummer=knr)
        if not cases.run_stage(session=s, kommunenummer=knr, stage=stage, ctx=ctx).advanced:
            return


def _first_contact(s, knr: str, opened: date, done: date) -> None:
    cases.open_case(session=s, kommunenummer=knr, opened_on=opened, ctx=ctx_for(opened))
    _record(s, knr, "meeting-held", opened)
    _record(s, knr, "needs-assessed", opened)
    _record(s, knr, "intent-confirmed", done)


def _history(url: str) -> None:
    with db.session_scope(url) as s:
        _first_contact(s, "1836", date(2026, 1, 5), date(2026, 2, 4))
        _record(s, "1836", "council-decision", date(2026, 4, 1), outcome="approved")
        _record(s, "1836", "county-decision", date(2026, 4, 15), outcome="approved")
        _first_contact(s, "1856", date(2026, 2, 1), date(2026, 2, 21))
        _record(s, "1856", "council-decision", date(2026, 3, 23), outcome="rejected",
                reference="26/31")
        _first_contact(s, "1835", date(2026, 1, 10), date(2026, 3, 1))
        cases.withdraw(session=s, kommunenummer="1835", on=date(2026, 3, 20),
                       reason="Ny kommunedirektør", ctx=ctx_for(date(2026, 3, 20)))
        cases.open_case(session=s, kommunenummer="1857", opened_on=date(2026, 3, 1),
                        ctx=ctx_for(date(2026, 3, 1)))
        cases.hold(session=s, kommunenummer="1857", on=date(2026, 4, 1),
                   reason="Venter på ny kommunedirektør", ctx=ctx_for(date(2026, 4, 1)))


def _figures(stats) -> dict[Stage, tuple]:
    def who(d):
        return None if d is None else (d.kommunenummer, d.days)

    return {s.stage: (s.entered, s.completed, s.median_days, s.min_days, s.max_days,
                      who(s.quickest), who(s.slowest), s.municipalities) for s in stats}


def test_statistikk_the_report_and_the_timeline_agree_on_one_history(db_url):
    _history(db_url)
    with db.session_scope(db_url) as s:
        st = dashboard.statistics(s, ctx_for(TODAY))
        report = documents.experience_figures(session=s, ctx=ctx_for(TODAY))
        details = {knr: queries.case_detail(s, knr, TODAY) for knr in TIMELINES}

    # Statistikk
    assert _figures(st.stages) == EXPECTED
    assert st.funnel == [(stage, EXPECTED[stage][7]) for stage in STAGE_ORDER]

    # the experience report (its JSON figures)
    def who(d):
        return None if d is None else (d["kommunenummer"], d["days"])

    assert {Stage(f["stage"]): (f["entered"], f["completed"], f["median_days"], f["min_days"],
                                f["max_days"], who(f["quickest"]), who(f["slowest"]))
            for f in report["stages"]} == {k: v[:7] for k, v in EXPECTED.items()}
    # The rejected and withdrawn cases closed their stage, so neither is a stall (open, they
    # would have been: 69 and 61 days > median 30); Værøy is, at 61 days in first contact.
    assert [(x["kommunenummer"], x["days_so_far"]) for x in report["stalls"]] == [("1857", 61)]

    # the case page's timeline, case by case
    for knr, expected in TIMELINES.items():
        segments = charts.case_timeline(details[knr])
        assert {seg.stage: (seg.entered, seg.left) for seg in segments
                if seg.entered is not None} == expected, knr


def test_the_statistikk_page_shows_the_rejected_case_as_having_left_political_approval(
        db_url):
    _history(db_url)
    page = logged_in(db_url, county=None).get("/statistikk")
    assert page.status_code == 200
    assert "Politisk behandling: median 30 d (19–70 d, 3 saker)" in page.text
    assert "Førstekontakt: median 30 d (20–50 d, 3 saker)" in page.text
