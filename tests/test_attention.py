"""Issue 13, "Attention first": a case that stalls in its stage "står fast" on the board and
on its page, with the reason in words; the board puts it right after the overdue cases, and
"Trenger oppfølging" shows exactly the overdue and stuck cases."""

from __future__ import annotations

import re
from datetime import date

from avtaleflyt import db
from avtaleflyt.domain.attention import assess, days_in_stage
from avtaleflyt.domain.stages import Stage
from avtaleflyt.services import cases, dashboard

from .conftest import ctx_for
from .reminder_support import add_meeting, open_to_political, record, tasks_by_key
from .web_support import logged_in, open_case

TODAY = date(2027, 1, 29)
POLITICS = "Politisk behandling"


# --- the rule ---------------------------------------------------------------------------


def test_longer_than_the_norm_is_stuck_with_the_reason():
    a = assess(stage_label=POLITICS, days=212, norm_days=60, moves=0)
    assert a.stuck and a.reasons == ("I Politisk behandling i 212 dager (normalt 60)",)
    # On the norm's last day it is not stuck yet.
    assert not assess(stage_label=POLITICS, days=60, norm_days=60, moves=0).stuck


def test_deadlines_moved_often_is_stuck():
    a = assess(stage_label=POLITICS, days=20, norm_days=60, moves=6)
    assert a.stuck and a.reasons == ("Fristen er flyttet 6 ganger",)
    assert not assess(stage_label=POLITICS, days=20, norm_days=60, moves=2).stuck
    assert assess(stage_label=POLITICS, days=20, norm_days=60, moves=2,
                  stuck_after_moves=2).stuck


def test_both_reasons_and_the_summary_line():
    a = assess(stage_label=POLITICS, days=212, norm_days=60, moves=7)
    assert a.reasons == ("I Politisk behandling i 212 dager (normalt 60)",
                         "Fristen er flyttet 7 ganger")
    calm = assess(stage_label=POLITICS, days=1, norm_days=60, moves=1)
    assert not calm.stuck and calm.reasons == ()
    assert calm.summary == "1 dag i fasen (normalt 60) · fristen flyttet 1 gang"


def test_no_norm_on_hold_or_closed_is_never_stuck():
    # Running operation has no norm: a case stays as long as the agreement runs.
    assert not assess(stage_label="Drift", days=2000, norm_days=None, moves=0).stuck
    held = assess(stage_label=POLITICS, days=212, norm_days=60, moves=9, active=False)
    assert not held.stuck and held.over_norm


def test_days_in_stage_takes_the_clock():
    assert days_in_stage(date(2026, 6, 1), date(2027, 1, 29)) == 242
    assert days_in_stage(date(2027, 1, 29), date(2027, 1, 29)) == 0


# --- on the board -----------------------------------------------------------------------


def _postponed_three_times(url: str) -> None:
    """Rødøy (1836): its council postponed the case at three meetings running; 88 days in
    political approval, within the norm of 90."""
    with db.session_scope(url) as s:
        for on in (date(2026, 12, 10), date(2027, 1, 14), date(2027, 1, 28),
                   date(2027, 3, 4)):
            add_meeting(s, "1836", "kommunestyre", on, date(2026, 11, 2))
        open_to_political(s, "1836", date(2026, 11, 2))
        t = tasks_by_key(s, "1836")["political.saksframlegg"]
        cases.complete_task(session=s, task_id=t.id, on=date(2026, 11, 20),
                            ctx=ctx_for(date(2026, 11, 20)))
        for on in (date(2026, 12, 10), date(2027, 1, 14), date(2027, 1, 28)):
            record(s, "1836", "council-decision", on, outcome="postponed")
        assert tasks_by_key(s, "1836")["political.council"].due_on == date(2027, 3, 4)


def _due_soon(url: str) -> None:
    """Beiarn (1839): in political approval since 4 January, its council meets 4 February
    (within 7 days), the saksframlegg delivered: not stuck, only soon."""
    with db.session_scope(url) as s:
        add_meeting(s, "1839", "kommunestyre", date(2027, 2, 4), date(2027, 1, 4))
        open_to_political(s, "1839", date(2027, 1, 4))
        t = tasks_by_key(s, "1839")["political.saksframlegg"]
        cases.complete_task(session=s, task_id=t.id, on=date(2027, 1, 10),
                            ctx=ctx_for(date(2027, 1, 10)))
        assert tasks_by_key(s, "1839")["political.council"].due_on == date(2027, 2, 4)


def _cases(url: str) -> None:
    # Lurøy (1834): in political approval since 1 June 2026, no meeting plan: no deadline
    # at all, so before this it looked calm on the board.
    with db.session_scope(url) as s:
        open_to_political(s, "1834", date(2026, 6, 1))
    _postponed_three_times(url)
    _due_soon(url)
    open_case(url, "1837", date(2027, 1, 25))  # Meløy: fresh, on track
    open_case(url, "1838", date(2026, 12, 1))  # Gildeskål: first contact overdue
    # Saltdal (1840): as long in political approval as Lurøy, but on hold since autumn: it
    # waits on purpose, and is not stuck.
    with db.session_scope(url) as s:
        open_to_political(s, "1840", date(2026, 6, 1))
        cases.hold(session=s, kommunenummer="1840", on=date(2026, 10, 1), reason="valg",
                   ctx=ctx_for(date(2026, 10, 1)))


def test_board_puts_stuck_cases_after_overdue_with_the_reason(db_url):
    _cases(db_url)
    with db.session_scope(db_url) as s:
        board = dashboard.board(s, TODAY)
    political = {c.kommunenummer: c for c in board[Stage.POLITICAL_APPROVAL]}
    # Stuck (by time, by moves) before the case whose deadline is soon, even though that
    # case's deadline is the earliest of the three.
    assert [c.kommunenummer for c in board[Stage.POLITICAL_APPROVAL]] == \
        ["1836", "1834", "1839", "1840"]
    assert political["1834"].state == "stuck"
    assert political["1834"].attention.reasons == (
        "I Politisk behandling i 242 dager (normalt 90)",)
    assert political["1836"].state == "stuck"
    assert political["1836"].attention.reasons == ("Fristen er flyttet 3 ganger",)
    assert political["1836"].attention.days_in_stage == 88
    assert political["1839"].state == "soon" and not political["1839"].attention.stuck
    assert not political["1840"].attention.stuck  # on hold: it waits on purpose
    assert political["1840"].attention.summary == "242 dager i fasen (normalt 90)"
    first = {c.kommunenummer: c for c in board[Stage.FIRST_CONTACT]}
    assert [c.kommunenummer for c in board[Stage.FIRST_CONTACT]] == ["1838", "1837"]
    assert first["1838"].state == "overdue" and first["1838"].attention.stuck  # 59 > 42
    assert first["1837"].state == "on_track"

    with db.session_scope(db_url) as s:
        follow = dashboard.board(s, TODAY, follow_up=True)
        # The filter (SQL) and the card's own verdict (the domain rule) agree.
        shown = {c.kommunenummer for col in follow.values() for c in col}
        verdict = {c.kommunenummer for col in board.values() for c in col
                   if c.overdue or (c.attention and c.attention.stuck)}
        assert shown == verdict == {"1834", "1836", "1838"}
        assert follow.total == 3
        column = dashboard.board_column(s, TODAY, Stage.POLITICAL_APPROVAL, follow_up=True)
        assert [c.kommunenummer for c in column.rows] == ["1836", "1834"]


def test_threshold_and_norms_from_the_configuration(db_url, tmp_path, monkeypatch):
    _postponed_three_times(db_url)
    conf = tmp_path / "avtaleflyt.toml"
    conf.write_text("[stages]\nstuck_after_moves = 4\n\n[stages.norm_days]\n"
                    "political_approval = 80\n", encoding="utf-8")
    monkeypatch.setenv("AVTALEFLYT_CONFIG", str(conf))
    from avtaleflyt.config import load_config

    config = load_config(conf)
    with db.session_scope(db_url) as s:
        card = dashboard.board(s, TODAY, config=config)[Stage.POLITICAL_APPROVAL][0]
    # 3 moves are fewer than 4 now, but 88 days are more than the norm of 80.
    assert card.attention.reasons == ("I Politisk behandling i 88 dager (normalt 80)",)

    # A county's own section decides for its cases, in the filter as on the card.
    conf.write_text('[county."18".stages]\nstuck_after_moves = 5\n', encoding="utf-8")
    config = load_config(conf)
    with db.session_scope(db_url) as s:
        assert dashboard.board(s, TODAY, config=config, follow_up=True).total == 0
        card = dashboard.board(s, TODAY, config=config)[Stage.POLITICAL_APPROVAL][0]
    assert not card.attention.stuck and card.state == "on_track"
    assert card.attention.summary == "88 dager i fasen (normalt 90) · fristen flyttet 3 ganger"


def _cards(html: str, stage: str) -> list[str]:
    column = re.search(rf'data-stage="{stage}">(.*?)</section>', html, re.S).group(1)
    return re.findall(r'data-knr="(\d{4})"', column)


def test_web_board_filter_and_case_page(db_url, monkeypatch):
    _cases(db_url)
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    c = logged_in(db_url)
    html = c.get("/").text
    assert _cards(html, "political_approval") == ["1836", "1834", "1839", "1840"]
    assert "Står fast:</strong> I Politisk behandling i 242 dager (normalt 90)." in html
    assert "Står fast:</strong> Fristen er flyttet 3 ganger." in html
    assert "25 dager i fasen (normalt 90)" in html  # Beiarn: the line, without alarm
    assert 'href="/?oppfolging=1">Trenger oppfølging</a>' in html

    follow = c.get("/?oppfolging=1").text
    assert _cards(follow, "political_approval") == ["1836", "1834"]
    assert _cards(follow, "first_contact") == ["1838"]
    assert "Viser bare saker som trenger oppfølging" in follow
    assert _cards(c.get("/?oppfolging=1&fase=political_approval").text,
                  "political_approval") == ["1836", "1834"]

    page = c.get("/sak/1834").text
    assert "Står fast:</strong> I Politisk behandling i 242 dager (normalt 90)." in page
    assert "25 dager i fasen (normalt 90)." in c.get("/sak/1839").text


def test_a_bad_threshold_is_refused_naming_the_setting(tmp_path):
    import pytest

    from avtaleflyt.config import load_config
    from avtaleflyt.domain.errors import InvalidInput

    conf = tmp_path / "avtaleflyt.toml"
    for bad in ("0", '"tre"', "true"):
        conf.write_text(f"[stages]\nstuck_after_moves = {bad}\n", encoding="utf-8")
        with pytest.raises(InvalidInput) as e:
            load_config(conf)
        assert e.value.field == "stages.stuck_after_moves"
        assert "stages.stuck_after_moves" in e.value.message
