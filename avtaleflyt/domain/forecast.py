"""When an active case can be expected to reach the terminal stage (running operation).

Pure: the caller passes the observed median days per stage (from `experience`), the case's
position and, when known, dates that bound the answer from below (the next reachable council
meeting, the agreement's start date).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from .stages import STAGE_ORDER, STAGE_RULES, Stage, pipeline


@dataclass(frozen=True)
class Forecast:
    expected: date | None  # None: no completed case yet for some stage on the way
    missing_stage: Stage | None = None  # the first stage without observed durations
    council_meeting: date | None = None  # the meeting the meeting-bound stage waits for


def forecast_running(*, stage: Stage, entered: date, today: date,
                     medians: Mapping[Stage, float | None],
                     council_meeting: Callable[[date], date | None] | None = None,
                     start_date: date | None = None) -> Forecast:
    """Expected date of entering the terminal stage (running operation).

    The current stage is expected to take its median, but never ends before today.
    `council_meeting(d)` gives the first council meeting a case can still reach when its
    meeting-bound stage (political approval: `StageRule.meeting_bound`) begins on `d` (None
    when the plan has none); that stage ends no earlier than that meeting, and the meeting
    alone is enough when no case has finished the stage yet. A known start date is the
    earliest day operation can begin.
    """
    terminal = pipeline().terminal
    if stage is terminal:
        return Forecast(entered)
    at = entered
    meeting = None
    for s in STAGE_ORDER[stage.index:terminal.index]:
        began = at
        at_meeting = STAGE_RULES[s].meeting_bound
        if at_meeting and council_meeting is not None:
            meeting = council_meeting(max(began, today))
        median = medians.get(s)
        if median is None and not (at_meeting and meeting is not None):
            return Forecast(None, s, meeting)
        if median is not None:
            at = at + timedelta(days=round(median))
        if s is stage:
            at = max(at, today)
        if at_meeting and meeting is not None:
            at = max(at, meeting)
    if start_date is not None:
        at = max(at, start_date)
    return Forecast(at, council_meeting=meeting)
