"""How long cases spend in each onboarding stage, and which cases are stuck.

Pure functions over `StageSpan`s so the experience report can be checked by hand: a span
with `left` set is completed and counts towards the durations; an open span only counts as
entered, and is a stall once it has lasted longer than is usual for its stage.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from avtaleflyt.domain.stages import STAGE_ORDER, Stage

# Running operation lasts until the agreement ends: a long open span there is the goal.
_STALLABLE = frozenset(STAGE_ORDER) - {Stage.RUNNING_OPERATION}


@dataclass(frozen=True)
class StageSpan:
    """The time one case spent in one stage; `left` is None while it is still there."""

    kommunenummer: str
    municipality: str
    stage: Stage
    entered: dt.date
    left: dt.date | None = None

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class StageStatistics:
    """Figures for one stage. Duration figures are None while no case has completed it."""

    stage: Stage
    entered: int
    completed: int
    median_days: float | None
    min_days: int | None
    max_days: int | None
    quickest: CaseDuration | None
    slowest: CaseDuration | None


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
    then to the lower kommunenummer, so the report reads the same on every run.
    """
    spans = list(spans)
    return tuple(_stage_statistics(stage, [s for s in spans if s.stage is stage])
                 for stage in STAGE_ORDER)


def find_stalls(
    spans: Iterable[StageSpan], *, today: dt.date, threshold_days: int | None = None
) -> tuple[Stall, ...]:
    """Open spans that have lasted longer than `threshold_days`, or else the stage's median.

    A stage nobody has completed has no median, so without a threshold nothing there is a
    stall yet. Longest wait first within each stage, stages in pipeline order.
    """
    return summarise(spans, today=today, threshold_days=threshold_days).stalls


def _stage_statistics(stage: Stage, spans: list[StageSpan]) -> StageStatistics:
    durations = sorted(
        ((s.left - s.entered).days, s.entered, s.kommunenummer, s.municipality)
        for s in spans if s.left is not None
    )
    cases = [CaseDuration(knr, name, days) for days, _, knr, name in durations]
    days = [c.days for c in cases]
    return StageStatistics(
        stage=stage,
        entered=len(spans),
        completed=len(cases),
        median_days=statistics.median(days) if days else None,
        min_days=days[0] if days else None,
        max_days=days[-1] if days else None,
        quickest=cases[0] if cases else None,
        slowest=next((c for c in cases if c.days == days[-1]), None),
    )


def _stalls(
    spans: list[StageSpan],
    medians: Mapping[Stage, float | None],
    today: dt.date,
    threshold_days: int | None,
) -> tuple[Stall, ...]:
    stalls = []
    for span in spans:
        if span.left is not None or span.stage not in _STALLABLE:
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
