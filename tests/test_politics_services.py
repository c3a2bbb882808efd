"""Issue 14 on SQLite and PostgreSQL: the saksgang, meetings moved and cancelled, hold and
resume on the meeting plan, warnings, terms in months and auto renewal, the split per case,
and a sweep that sends nothing on days off."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.models import CaseSplitRow, Event, Meeting, OnboardingCase, Task
from avtaleflyt.services import cases, meetings, queries, split
from avtaleflyt.services.deadlines import schedule_political_cases

from .conftest import ctx_for
from .reminder_support import add_meeting, advance, open_to_political, record, tasks_by_key

KNR = "1836"
DAY = date(2026, 4, 20)
SAKS, COUNCIL = "political.saksframlegg", "political.council"


def _due(session):
    t = tasks_by_key(session, KNR)
    return t[SAKS].due_on, t[COUNCIL].due_on


def _history(session):
    return [e["label"] for e in queries.case_detail(session, KNR, DAY)["history"]]


def _meeting_id(session, body, on):
    return session.exec(select(Meeting.id).where(Meeting.body == body,
                                                 Meeting.date == on)).one()


def test_saksgang_from_config_and_per_municipality(session):
    open_to_political(session, KNR, DAY)
    add_meeting(session, KNR, "formannskap", date(2026, 6, 4), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 6, 18), DAY)
    # The example: saksframlegg due 12.05 (before formannskapet), decision 18.06.
    assert _due(session) == (date(2026, 5, 12), date(2026, 6, 18))
    info = meetings.saksgang(session, KNR, ctx_for(DAY))
    assert info["saksgang"] == ["formannskap", "kommunestyre"] and not info["own"]

    out = meetings.set_saksgang(session=session, kommunenummer=KNR, bodies="kommunestyre",
                                ctx=ctx_for(DAY))
    assert out["saksgang"] == ["kommunestyre"] and out["rescheduled"] == 1
    assert _due(session) == (date(2026, 5, 28), date(2026, 6, 18))
    assert "Saksgang: kommunestyret" in _history(session)
    meetings.set_saksgang(session=session, kommunenummer=KNR, bodies="default",
                          ctx=ctx_for(DAY))
    assert _due(session) == (date(2026, 5, 12), date(2026, 6, 18))

    for bad in ("formannskap", "kommunestyre,formannskap", "bystyre,kommunestyre"):
        with pytest.raises(InvalidInput) as e:
            meetings.set_saksgang(session=session, kommunenummer=KNR, bodies=bad,
                                  ctx=ctx_for(DAY))
        assert e.value.field == "--set" and "kommunestyre" in e.value.message
    assert meetings.saksgang(session, KNR, ctx_for(DAY))["own"] is False


def test_meetings_move_and_cancel_and_the_deadlines_follow(session):
    open_to_political(session, KNR, DAY)
    meetings.set_saksgang(session=session, kommunenummer=KNR, bodies="kommunestyre",
                          ctx=ctx_for(DAY))
    add_meeting(session, KNR, "kommunestyre", date(2026, 6, 4), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 9, 24), DAY)
    saks_before, council_before = _due(session)
    assert council_before == date(2026, 6, 4)
    june = _meeting_id(session, "kommunestyre", date(2026, 6, 4))

    # Moved earlier: the saksframlegg deadline moves earlier too.
    out = meetings.move_meeting(session=session, meeting_id=june, on=date(2026, 5, 28),
                                ctx=ctx_for(DAY))
    assert "Møtet i kommunestyret 4. juni ble flyttet til 28. mai" in out.message
    saks, council = _due(session)
    assert council == date(2026, 5, 28) and saks < saks_before
    assert "Møtet i kommunestyret 4. juni ble flyttet til 28. mai" in _history(session)

    # Delivered; then moved later, past the old date: no "passed without a decision".
    cases.complete_task(session=session, task_id=tasks_by_key(session, KNR)[SAKS].id,
                        on=date(2026, 5, 4), ctx=ctx_for(date(2026, 5, 4)))
    meetings.move_meeting(session=session, meeting_id=june, on=date(2026, 6, 11),
                          ctx=ctx_for(date(2026, 5, 20)))
    schedule_political_cases(session=session, ctx=ctx_for(date(2026, 6, 1)))
    assert _due(session)[1] == date(2026, 6, 11)
    labels = _history(session)
    assert not any("uten registrert vedtak" in line for line in labels)
    assert "Møtet i kommunestyret 28. mai ble flyttet til 11. juni" in labels

    # Cancelled: the decision goes to the body's next meeting.
    out = meetings.cancel_meeting(session=session, meeting_id=june,
                                  ctx=ctx_for(date(2026, 6, 1)))
    assert "ble avlyst" in out.message and out.rescheduled == 1
    assert _due(session)[1] == date(2026, 9, 24)
    assert session.get(Meeting, june) is None
    assert "Møtet i kommunestyret 11. juni ble avlyst" in _history(session)


def test_meeting_move_and_cancel_refuse_bad_input_and_change_nothing(session):
    open_to_political(session, KNR, DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 6, 4), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 6, 18), DAY)
    first = _meeting_id(session, "kommunestyre", date(2026, 6, 4))
    before = (_due(session), len(_history(session)))
    with pytest.raises(NotFound) as e:
        meetings.move_meeting(session=session, meeting_id=99999, on=date(2026, 6, 5),
                              ctx=ctx_for(DAY))
    assert "99999" in e.value.message
    with pytest.raises(InvalidInput) as e:
        meetings.move_meeting(session=session, meeting_id=first, on=date(2026, 4, 1),
                              ctx=ctx_for(DAY))
    assert e.value.field == "date" and "før i dag" in e.value.message
    with pytest.raises(Conflict) as e:
        meetings.move_meeting(session=session, meeting_id=first, on=date(2026, 6, 18),
                              ctx=ctx_for(DAY))
    assert "allerede et møte 18. juni 2026" in e.value.message
    with pytest.raises(Conflict):
        meetings.cancel_meeting(session=session, meeting_id=first,
                                ctx=ctx_for(date(2026, 6, 5)))
    session.rollback()
    assert session.get(Meeting, first).date == date(2026, 6, 4)
    assert (_due(session), len(_history(session))) == before


def test_resume_replans_against_the_meeting_plan_instead_of_shifting(session):
    # The issue: after a two-week hold the decision became due 02.07, a day with no
    # meeting, though the 18.06 meeting was still reachable.
    open_to_political(session, KNR, DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 6, 18), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2026, 9, 24), DAY)
    assert _due(session) == (date(2026, 5, 28), date(2026, 6, 18))
    cases.hold(session=session, kommunenummer=KNR, on=date(2026, 4, 21),
               ctx=ctx_for(date(2026, 4, 21)))
    out = cases.resume(session=session, kommunenummer=KNR, on=date(2026, 5, 5),
                       ctx=ctx_for(date(2026, 5, 5)))
    assert out.status == "active"
    assert _due(session) == (date(2026, 5, 28), date(2026, 6, 18))

    # A hold past the saksframlegg deadline: the next reachable meeting, not +N days.
    cases.hold(session=session, kommunenummer=KNR, on=date(2026, 5, 6),
               ctx=ctx_for(date(2026, 5, 6)))
    cases.resume(session=session, kommunenummer=KNR, on=date(2026, 6, 2),
                 ctx=ctx_for(date(2026, 6, 2)))
    saks, council = _due(session)
    assert council == date(2026, 9, 24)
    assert council in {m.date for m in session.exec(select(Meeting)).all()}


def test_implausible_meetings_are_accepted_with_a_warning(session):
    out = add_meeting(session, KNR, "kommunestyre", date(2027, 5, 17), date(2027, 1, 6))
    assert out.added == 1
    [warning] = out.warnings
    assert "Grunnlovsdag" in warning and "17. mai 2027" in warning
    out = add_meeting(session, KNR, "kommunestyre", date(2027, 7, 8), date(2027, 1, 6))
    assert out.added == 1 and "juli" in out.warnings[0]
    assert add_meeting(session, KNR, "kommunestyre", date(2027, 6, 17),
                       date(2027, 1, 6)).warnings == []


def _to_running(session, start, months, renewal):
    day = start
    open_to_political(session, KNR, date(2026, 4, 20))
    for kind, opts in (("council-decision", {"outcome": "approved"}),
                       ("county-decision", {"outcome": "approved"})):
        record(session, KNR, kind, date(2026, 4, 20), **opts)
    advance(session, KNR, date(2026, 4, 20))
    record(session, KNR, "terms-set", date(2026, 4, 20), start=start.isoformat(),
           years="0", months=str(months), notice_months="1", renewal=renewal)
    record(session, KNR, "signed", date(2026, 4, 21), party="municipality")
    record(session, KNR, "signed", date(2026, 4, 21), party="county")
    advance(session, KNR, date(2026, 4, 21))
    return day


def test_a_pilot_in_months_and_an_agreement_that_renews(session):
    from avtaleflyt.services.store import get_case

    _to_running(session, date(2026, 9, 1), 4, "auto")
    for task in tasks_by_key(session, KNR).values():
        if task.stage == "system_setup" and task.done_on is None and task.milestone is None:
            cases.complete_task(session=session, task_id=task.id, on=date(2026, 8, 1),
                                ctx=ctx_for(date(2026, 8, 1)))
    advance(session, KNR, date(2026, 9, 1))
    detail = queries.case_detail(session, KNR, date(2026, 9, 1))
    assert detail["stage"] == "running_operation"
    assert (detail["terms"]["end_date"], detail["terms"]["months"],
            detail["terms"]["renewal"]) == ("2026-12-31", 4, "auto")
    keys = set(tasks_by_key(session, KNR))
    assert "duty.evaluation.end-2026-12-31" in keys
    assert any(k.startswith("duty.local_report.") for k in keys)

    # Past the end date the case does not close: a new period of four months begins.
    from avtaleflyt.services.sweep import advance_cases

    advance_cases(session=session, ctx=ctx_for(date(2027, 1, 4)))
    _, case = get_case(session, KNR)
    assert case.status == "active"
    labels = [e["label"] for e in queries.case_detail(session, KNR, date(2027, 1, 4))["history"]]
    assert "Avtalen fornyet: ny periode 1. januar 2027–30. april 2027" in labels
    advance_cases(session=session, ctx=ctx_for(date(2027, 1, 5)))
    renewed = session.exec(select(Event).where(Event.kind == "agreement_renewed")).all()
    assert len(renewed) == 1
    assert "duty.evaluation.end-2027-04-30" in set(tasks_by_key(session, KNR))


def test_a_fixed_term_pilot_closes_on_its_end_date(session):
    from avtaleflyt.services.store import get_case
    from avtaleflyt.services.sweep import advance_cases

    _to_running(session, date(2026, 9, 1), 4, "none")
    for task in tasks_by_key(session, KNR).values():
        if task.stage == "system_setup" and task.done_on is None and task.milestone is None:
            cases.complete_task(session=session, task_id=task.id, on=date(2026, 8, 1),
                                ctx=ctx_for(date(2026, 8, 1)))
    advance(session, KNR, date(2026, 9, 1))
    advance_cases(session=session, ctx=ctx_for(date(2027, 1, 1)))
    _, case = get_case(session, KNR)
    assert case.status == "completed" and case.closed_on == date(2026, 12, 31)


def test_each_case_has_its_own_split_until_the_agreement_is_signed(session):
    from avtaleflyt.services.store import get_case, load_terms

    open_to_political(session, KNR, DAY)
    _, case = get_case(session, KNR)
    rows = split.case_split(session, case)
    assert len(rows) == 12 and rows[1].task == "Retningslinjer for samlingsutvikling"
    assert rows[1].responsible.value == "county"

    ctx = ctx_for(DAY)
    split.change_split(session=session, kommunenummer=KNR, action="set", row=2,
                       responsible="municipality", ctx=ctx)
    split.change_split(session=session, kommunenummer=KNR, action="add",
                       task="Skolebibliotekene i kommunen", responsible="kommunen", ctx=ctx)
    split.change_split(session=session, kommunenummer=KNR, action="remove", row=12, ctx=ctx)
    rows = split.case_split(session, case)
    assert len(rows) == 12
    assert rows[1].responsible.value == "municipality"
    assert rows[-1].task == "Skolebibliotekene i kommunen"
    assert "Egne politiske vedtak" not in [r.task for r in rows]
    assert any(line.startswith("Grenseoppgang: rad 2 endret") for line in _history(session))

    for kw, field in (({"action": "set", "row": 40, "responsible": "county"}, "row"),
                      ({"action": "set", "row": 1, "responsible": "staten"}, "responsible"),
                      ({"action": "add", "task": " ", "responsible": "county"}, "task")):
        with pytest.raises(InvalidInput) as e:
            split.change_split(session=session, kommunenummer=KNR, ctx=ctx, **kw)
        assert e.value.field == field
        session.rollback()

    # Terms and the agreement read the case's split; after signing it is frozen.
    for kind, opts in (("council-decision", {"outcome": "approved"}),
                       ("county-decision", {"outcome": "approved"})):
        record(session, KNR, kind, DAY, **opts)
    advance(session, KNR, DAY)
    record(session, KNR, "terms-set", DAY, start="2026-09-01", years="1", notice_months="3")
    _, terms = load_terms(session, case.id)
    assert [r.task for r in terms.split] == [r.task for r in rows]
    split.change_split(session=session, kommunenummer=KNR, action="set", row=1,
                       task="Bibliotekplan", ctx=ctx)
    assert load_terms(session, case.id)[1].split[0].task == "Bibliotekplan"
    record(session, KNR, "signed", date(2026, 4, 21), party="municipality")
    with pytest.raises(Conflict) as e:
        split.change_split(session=session, kommunenummer=KNR, action="set", row=1,
                           responsible="municipality", ctx=ctx_for(date(2026, 4, 21)))
    assert "signert" in e.value.message
    session.rollback()
    assert split.case_split(session, case)[0].responsible.value == "county"
    assert split.split_rows(session, KNR)["editable"] is False

    # The documents print the case's own rows: the agreement and the setup checklist.
    from avtaleflyt.services import documents

    for kind in ("agreement", "setup_checklist"):
        text = documents.render(session=session, kind=kind, formats=("html",),
                                ctx=ctx_for(date(2026, 4, 21)),
                                kommunenummer=KNR).files["html"].decode("utf-8")
        assert "Skolebibliotekene i kommunen" in text, kind
        assert "Egne politiske vedtak" not in text, kind


def test_a_county_default_split_comes_from_its_config_section(session, tmp_path):
    from dataclasses import replace

    from avtaleflyt.config import load_config

    cfg = tmp_path / "avtaleflyt.toml"
    cfg.write_text('[county."18".split]\nrows = [\n'
                   '  { task = "Lokal bibliotekplan", responsible = "municipality" },\n'
                   '  { task = "Faglig ledelse", responsible = "county" },\n]\n',
                   encoding="utf-8")
    config = load_config(cfg)
    ctx = replace(ctx_for(DAY), config=config)
    cases.open_case(session=session, kommunenummer=KNR, opened_on=DAY, ctx=ctx)
    case = session.exec(select(OnboardingCase)).one()
    assert [(r.task, r.responsible.value) for r in split.case_split(session, case)] == [
        ("Lokal bibliotekplan", "municipality"), ("Faglig ledelse", "county")]
    assert len(session.exec(select(CaseSplitRow)).all()) == 2


def test_the_sweep_sends_nothing_on_days_off(session, monkeypatch):
    from avtaleflyt.notifications.channels import TargetBook
    from avtaleflyt.services.sweep import run_sweep
    from avtaleflyt.settings import Settings

    from .reminder_support import HookServer

    hook = HookServer().start()
    try:
        monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS",
                           hook.url())
        targets = TargetBook.from_settings(Settings())
        open_to_political(session, KNR, date(2026, 12, 1))  # no meeting plan: notices due
        for off in (date(2026, 12, 25), date(2027, 5, 17)):
            result = run_sweep(session=session, ctx=ctx_for(off), targets=targets)
            assert result.sent == [] and result.digests_built == 0
            assert result.day_off and str(off.day) in result.day_off
        assert hook.posts == []
        result = run_sweep(session=session, ctx=ctx_for(date(2027, 5, 18)), targets=targets)
        assert result.day_off is None and result.sent_count >= 1
        assert len(hook.posts) >= 1
    finally:
        hook.stop()
