"""Stage statistics and stalls, checked against figures worked out by hand below."""

from __future__ import annotations

from datetime import date

import pytest

from avtaleflyt.domain.experience import (
    CaseDuration,
    StageSpan,
    StallBasis,
    case_spans,
    find_stalls,
    stage_statistics,
    summarise,
)
from avtaleflyt.domain.stages import Stage

TODAY = date(2026, 5, 1)

SPANS = [
    # first_contact: completed 30, 50, 20 days -> median 30, min 20 (Røst), max 50 (Træna)
    StageSpan("1836", "Rødøy", "first_contact", date(2026, 1, 5), date(2026, 2, 4)),  # 30
    StageSpan("1835", "Træna", "first_contact", date(2026, 1, 10), date(2026, 3, 1)),  # 50
    StageSpan("1856", "Røst", "first_contact", date(2026, 2, 1), date(2026, 2, 21)),  # 20
    StageSpan("1857", "Værøy", "first_contact", date(2026, 3, 1)),  # open, 61 days by 1 May
    StageSpan("1839", "Beiarn", "first_contact", date(2026, 4, 20)),  # open, 11 days
    # political_approval: completed 70 and 30 days -> median 50.0
    StageSpan("1836", "Rødøy", "political_approval", date(2026, 2, 4), date(2026, 4, 15)),  # 70
    StageSpan("1856", "Røst", "political_approval", date(2026, 2, 21), date(2026, 3, 23)),  # 30
    StageSpan("1835", "Træna", "political_approval", date(2026, 3, 1)),  # open, 61 days
    # contract_signing: one completed (30 days), one open for 16 days
    StageSpan("1856", "Røst", "contract_signing", date(2026, 3, 23), date(2026, 4, 22)),  # 30
    StageSpan("1836", "Rødøy", "contract_signing", date(2026, 4, 15)),  # open, 16 days
    # system_setup: nobody has completed it, so it has no median
    StageSpan("1856", "Røst", "system_setup", date(2026, 4, 22)),  # open, 9 days
]


def by_stage(stats):
    return {s.stage: s for s in stats}


def test_counts_and_durations_per_stage():
    stats = by_stage(stage_statistics(SPANS))

    first = stats[Stage.FIRST_CONTACT]
    assert (first.entered, first.completed) == (5, 3)
    assert (first.median_days, first.min_days, first.max_days) == (30, 20, 50)
    assert first.quickest == CaseDuration("1856", "Røst", 20)
    assert first.slowest == CaseDuration("1835", "Træna", 50)

    political = stats[Stage.POLITICAL_APPROVAL]
    assert (political.entered, political.completed) == (3, 2)
    assert political.median_days == 50.0
    assert political.quickest.municipality == "Røst"
    assert political.slowest == CaseDuration("1836", "Rødøy", 70)


def test_every_stage_is_listed_in_pipeline_order_even_without_cases():
    stats = stage_statistics(SPANS)
    assert [s.stage for s in stats] == list(Stage)
    setup, running = stats[3], stats[4]
    assert (setup.entered, setup.completed, setup.median_days, setup.quickest) == (1, 0, None, None)
    assert (running.entered, running.min_days, running.slowest) == (0, None, None)


def test_ties_go_to_the_case_that_entered_first():
    spans = [
        StageSpan("1835", "Træna", "first_contact", date(2026, 2, 1), date(2026, 2, 11)),
        StageSpan("1836", "Rødøy", "first_contact", date(2026, 1, 1), date(2026, 1, 11)),
    ]
    (first, *_) = stage_statistics(spans)
    assert first.quickest.municipality == "Rødøy"
    assert first.slowest.municipality == "Rødøy"


def test_open_spans_longer_than_the_stage_median_are_stalls():
    stalls = find_stalls(SPANS, today=TODAY)
    assert [(s.municipality, s.stage, s.days_so_far, s.limit_days) for s in stalls] == [
        ("Værøy", Stage.FIRST_CONTACT, 61, 30.0),
        ("Træna", Stage.POLITICAL_APPROVAL, 61, 50.0),
    ]
    assert {s.basis for s in stalls} == {StallBasis.MEDIAN}


def test_a_threshold_replaces_the_median_and_reaches_stages_without_one():
    stalls = find_stalls(SPANS, today=TODAY, threshold_days=5)
    assert [(s.municipality, s.stage.value, s.days_so_far) for s in stalls] == [
        ("Værøy", "first_contact", 61),
        ("Beiarn", "first_contact", 11),
        ("Træna", "political_approval", 61),
        ("Rødøy", "contract_signing", 16),
        ("Røst", "system_setup", 9),
    ]
    assert {s.basis for s in stalls} == {StallBasis.THRESHOLD}


def test_a_span_exactly_at_the_limit_is_not_a_stall():
    assert find_stalls(SPANS, today=date(2026, 3, 31)) == ()  # Værøy at 30 days, median 30


def test_running_operation_never_stalls():
    spans = [StageSpan("1836", "Rødøy", "running_operation", date(2021, 1, 1))]
    assert find_stalls(spans, today=TODAY, threshold_days=1) == ()


def test_summary_gives_the_figures_and_stalls_worked_out_by_hand():
    summary = summarise(SPANS, today=TODAY)
    # (stage, entered, completed, median, min, max, municipalities) from the comments on SPANS
    assert [(s.stage.value, s.entered, s.completed, s.median_days, s.min_days, s.max_days,
             s.municipalities) for s in summary.stages] == [
        ("first_contact", 5, 3, 30, 20, 50, 5),
        ("political_approval", 3, 2, 50.0, 30, 70, 3),
        ("contract_signing", 2, 1, 30, 30, 30, 2),
        ("system_setup", 1, 0, None, None, None, 1),
        ("running_operation", 0, 0, None, None, None, 0),
    ]
    # Værøy 61 > 30 and Træna 61 > 50; Beiarn (11 < 30), Rødøy (16 < 30) are not stalls,
    # and system setup has no median yet.
    assert [(s.municipality, s.stage.value, s.days_so_far, s.limit_days, s.basis)
            for s in summary.stalls] == [
        ("Værøy", "first_contact", 61, 30.0, StallBasis.MEDIAN),
        ("Træna", "political_approval", 61, 50.0, StallBasis.MEDIAN),
    ]


def test_the_median_of_an_even_number_of_spans_is_the_mean_of_the_middle_two():
    spans = [StageSpan(knr, knr, "first_contact", date(2026, 1, 1), date(2026, 1, 1 + days))
             for knr, days in (("1", 3), ("2", 10), ("3", 10), ("4", 1), ("5", 20), ("6", 4))]
    (first, *_) = stage_statistics(spans)
    assert first.median_days == 7.0  # 1 3 4 | 10 10 20 -> (4 + 10) / 2
    assert first.slowest == CaseDuration("5", "5", 20)


def test_case_spans_close_a_closed_case_on_the_day_it_closed():
    moves = [(date(2026, 2, 4), "political_approval")]
    rejected = case_spans("1856", "Røst", opened_on=date(2026, 1, 5), moves=moves,
                          status="rejected", closed_on=date(2026, 3, 6))
    assert [(s.stage.value, s.entered, s.left) for s in rejected] == [
        ("first_contact", date(2026, 1, 5), date(2026, 2, 4)),
        ("political_approval", date(2026, 2, 4), date(2026, 3, 6)),  # 30 days: it ended
    ]
    withdrawn = case_spans("1835", "Træna", opened_on=date(2026, 1, 5), moves=[],
                           status="withdrawn", closed_on=date(2026, 1, 25))
    assert [(s.stage.value, s.left) for s in withdrawn] == [("first_contact", date(2026, 1, 25))]
    held = case_spans("1857", "Værøy", opened_on=date(2026, 1, 5), moves=moves,
                      status="on_hold", closed_on=None)
    assert held[-1].left is None  # still in political approval; the hold does not end it


def test_a_span_cannot_end_before_it_began():
    with pytest.raises(ValueError):
        StageSpan("1836", "Rødøy", "first_contact", date(2026, 2, 1), date(2026, 1, 1))
