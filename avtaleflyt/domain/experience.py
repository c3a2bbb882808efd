"""How long cases spend in each onboarding stage, and which cases are stuck.

The one place "time per stage" is defined: `case_spans` turns a case's history into
`StageSpan`s, and `stage_statistics` turns spans into figures per stage. The dashboard's
Statistikk, the experience report and the case page's timeline all call these, so they
cannot disagree. Pure functions, so the figures can be checked by hand: a span with `left`
set is completed and counts towards the durations; an open span only counts as entered, and
is a stall once it has lasted longer than is usual for its stage.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from avtaleflyt.domain.stages import STAGE_ORDER, STAGE_RULES, CaseStatus, Stage, pipeline


def _stallable(stage: Stage) -> bool:
    """The terminal stage (running operation) lasts until the agreement ends: a long open
    span there is the goal, not a stall."""
    return not STAGE_RULES[stage].terminal


@dataclass(frozen=True)
class StageSpan:
    """The time one case spent in one stage; `left` is None while it is still there."""

    kommunenummer: str
    municipality: str
    stage: Stage
    entered: dt.date
    left: dt.date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.stage, Stage):
            object.__setattr__(self, "stage", Stage(self.stage))
        if self.left is not None and self.left < self.entered:
            raise ValueError(
                f"{self.municipality}: left {self.stage} ({self.left}) before entering it "
                f"({self.entered})")


@dataclass(frozen=True)
class CaseDuration:
    kommunenummer: str
    municipality: str
    days: int


def case_spans(
    kommunenummer: str,
    municipality: str,
    *,
    opened_on: dt.date,
    moves: Iterable[tuple[dt.date, Stage | str]],
    status: CaseStatus | str,
    closed_on: dt.date | None,
) -> list[StageSpan]:
    """The stages one case went through: the rule every view of "time per stage" shares.

    - A case enters first contact the day it is opened.
    - Each stage move `(on, to)` (a `stage_entered` event, oldest first) leaves the stage the
      case is in and enters `to` on the same day.
    - A closed case (rejected, withdrawn, or its agreement ended) left its last stage the day
      it closed: a rejected case did finish political approval, on the decision date. It is
      over, not stalled.
    - An open case (active or on hold) is still in its last stage: an open span. Time on
      hold counts towards the stage it was held in.
    """
    spans: list[StageSpan] = []
    stage, entered = pipeline().first, opened_on
    for on, to in moves:
        spans.append(StageSpan(kommunenummer, municipality, stage, entered, max(on, entered)))
        stage, entered = Stage(to), on
    closed = closed_on is not None and not CaseStatus(status).is_open
    spans.append(StageSpan(kommunenummer, municipality, stage, entered,
                           max(closed_on, entered) if closed else None))
    return spans


@dataclass(frozen=True)
class StageStatistics:
    """Figures for one stage. Duration figures are None while no case has completed it.

    `entered` counts spans (a municipality with several cases counts once per case);
    `municipalities` counts the municipalities that reached the stage (the funnel)."""

    stage: Stage
    entered: int
    completed: int
    median_days: float | None
    min_days: int | None
    max_days: int | None
    quickest: CaseDuration | None
    slowest: CaseDuration | None
    municipalities: int = 0


class StallBasis(StrEnum):
    MEDIAN = "median"  # longer than the stage's median of completed spans
    THRESHOLD = "threshold"  # longer than a limit the caller set


@dataclass(frozen=True)
class Stall:
    """An open span that has lasted longer than `limit_days`; `basis` says why that limit."""

    kommunenummer: str
    municipality: str
    stage: Stage
    entered: dt.date
    days_so_far: int
    limit_days: float
    basis: StallBasis


@dataclass(frozen=True)
class ExperienceSummary:
    stages: tuple[StageStatistics, ...]
    stalls: tuple[Stall, ...]


def summarise(
    spans: Iterable[StageSpan], *, today: dt.date, threshold_days: int | None = None
) -> ExperienceSummary:
    """Statistics per stage and the stalls they imply, computed from one pass over `spans`."""
    spans = list(spans)
    stages = stage_statistics(spans)
    medians = {s.stage: s.median_days for s in stages}
    return ExperienceSummary(stages, _stalls(spans, medians, today, threshold_days))


def stage_statistics(spans: Iterable[StageSpan]) -> tuple[StageStatistics, ...]:
    """One entry per stage in pipeline order, including stages no case has reached yet.

    Each span counts once. Ties for quickest and slowest go to the case that entered first,
    then to the lower kommunenummer, so the report reads the same on every run. One pass;
    memory grows with the number of distinct durations and municipalities, not with the
    number of spans, so a whole national history can be streamed through it.
    """
    tallies = {stage: _Tally() for stage in STAGE_ORDER}
    for span in spans:
        tallies[span.stage].add(span)
    return tuple(tallies[stage].statistics(stage) for stage in STAGE_ORDER)


def find_stalls(
    spans: Iterable[StageSpan], *, today: dt.date, threshold_days: int | None = None
) -> tuple[Stall, ...]:
    """Open spans that have lasted longer than `threshold_days`, or else the stage's median.

    A stage nobody has completed has no median, so without a threshold nothing there is a
    stall yet. Longest wait first within each stage, stages in pipeline order.
    """
    return summarise(spans, today=today, threshold_days=threshold_days).stalls


class _Tally:
    """Running figures for one stage: counts, a histogram of completed durations (enough
    for an exact median), the quickest and slowest case, the municipalities reached."""

    def __init__(self) -> None:
        self.entered = 0
        self.days: Counter[int] = Counter()
        self.quickest: tuple[int, dt.date, str, str] | None = None
        self.slowest: tuple[int, dt.date, str, str] | None = None
        self.municipalities: set[str] = set()

    def add(self, span: StageSpan) -> None:
        self.entered += 1
        self.municipalities.add(span.kommunenummer)
        if span.left is None:
            return
        days = (span.left - span.entered).days
        self.days[days] += 1
        quick = (days, span.entered, span.kommunenummer, span.municipality)
        if self.quickest is None or quick < self.quickest:
            self.quickest = quick
        slow = (-days, span.entered, span.kommunenummer, span.municipality)
        if self.slowest is None or slow < self.slowest:
            self.slowest = slow

    def statistics(self, stage: Stage) -> StageStatistics:
        completed = sum(self.days.values())
        q, s = self.quickest, self.slowest
        return StageStatistics(
            stage=stage,
            entered=self.entered,
            completed=completed,
            median_days=_median(self.days, completed) if completed else None,
            min_days=q[0] if q else None,
            max_days=-s[0] if s else None,
            quickest=CaseDuration(q[2], q[3], q[0]) if q else None,
            slowest=CaseDuration(s[2], s[3], -s[0]) if s else None,
            municipalities=len(self.municipalities),
        )


def _median(histogram: Counter[int], n: int) -> float:
    """The median of `n` values given as {value: how many}: as `statistics.median`, the
    middle value, or the mean of the two middle values when `n` is even."""
    lo, hi = (n - 1) // 2, n // 2
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and seen > (lo, hi)[len(found)]:
            found.append(value)
        if len(found) == 2:
            break
    return found[0] if n % 2 else (found[0] + found[1]) / 2


def _stalls(
    spans: list[StageSpan],
    medians: Mapping[Stage, float | None],
    today: dt.date,
    threshold_days: int | None,
) -> tuple[Stall, ...]:
    stalls = []
    for span in spans:
        if span.left is not None or not _stallable(span.stage):
            continue
        if threshold_days is not None:
            limit, basis = float(threshold_days), StallBasis.THRESHOLD
        elif (median := medians[span.stage]) is not None:
            limit, basis = float(median), StallBasis.MEDIAN
        else:
            continue
        days_so_far = (today - span.entered).days
        if days_so_far > limit:
            stalls.append(Stall(span.kommunenummer, span.municipality, span.stage,
                                span.entered, days_so_far, limit, basis))
    stalls.sort(key=lambda s: (s.stage.index, -s.days_so_far, s.kommunenummer))
    return tuple(stalls)
