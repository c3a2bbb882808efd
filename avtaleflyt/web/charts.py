"""Geometry for the SVG charts drawn on the server. The templates only place the shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from avtaleflyt.domain import experience
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.stages import STAGE_ORDER, Stage


@dataclass(frozen=True)
class Segment:
    stage: Stage
    entered: date | None
    left: date | None
    state: str  # done | current | future
    x: float
    width: float


def case_timeline(detail: dict[str, Any], width: float = 1000.0) -> list[Segment]:
    """One segment per stage, equally wide so short stages stay readable; the dates are in
    the labels. Entered/left dates are the case's stage spans (`experience.case_spans`, the
    rule Statistikk and the experience report use): a closed case left its last stage the
    day it closed."""
    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    spans = experience.case_spans(
        detail["kommunenummer"], detail["municipality"], opened_on=day(detail["opened_on"]),
        moves=[(day(e["occurred_on"]), e["details"]["to"]) for e in detail["history"]
               if e["kind"] == EventKind.STAGE_ENTERED],
        status=detail["status"], closed_on=day(detail.get("closed_on")))
    by_stage = {s.stage: s for s in spans}
    current = Stage(detail["stage"])
    step = width / len(STAGE_ORDER)
    out = []
    for i, s in enumerate(STAGE_ORDER):
        state = "done" if s.index < current.index else "current" if s is current else "future"
        if s is current and detail["status"] in ("completed",):
            state = "done"
        span = by_stage.get(s)
        out.append(Segment(s, span.entered if span else None, span.left if span else None,
                           state, i * step, step))
    return out


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    width: float
    text: str


def funnel(counts: list[tuple[Stage, int]], width: float = 600.0) -> list[Bar]:
    """Centred bars, widest for the first stage: the shape of a funnel."""
    top = max((n for _, n in counts), default=0) or 1
    bars = []
    for s, n in counts:
        w = max(width * n / top, 2.0 if n else 0.0)
        bars.append(Bar(s.label, n, (width - w) / 2, w, str(n)))
    return bars


@dataclass(frozen=True)
class Range:
    label: str
    median_x: float | None
    min_x: float | None
    max_x: float | None
    text: str


def stage_ranges(stats, width: float = 600.0) -> tuple[list[Range], float]:
    """Median as a bar, min–max as a whisker, on one scale in days for all stages."""
    top = max((s.max_days or 0 for s in stats), default=0) or 1
    scale = width / top
    out = []
    for s in stats:
        if s.median_days is None:
            out.append(Range(s.stage.label, None, None, None, "ingen fullført ennå"))
            continue
        med = f"{s.median_days:g}".replace(".", ",")
        out.append(Range(s.stage.label, s.median_days * scale, s.min_days * scale,
                         s.max_days * scale,
                         f"median {med} d ({s.min_days}–{s.max_days} d, "
                         f"{s.completed} {'sak' if s.completed == 1 else 'saker'})"))
    return out, float(top)
