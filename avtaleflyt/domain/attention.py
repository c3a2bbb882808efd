"""Whether a case has stalled ("står fast"), and why, in words.

A case's next deadline alone cannot tell: the engine moves a political deadline to the next
meeting every time a decision is postponed, so a case can wait for months while its card
says "I rute". Two signs tell instead: the time the case has spent in its stage against the
stage's norm (`Config.norm_days`), and how many times its deadlines have moved in the stage.

Plain data in, plain data out: the caller counts the days and the moves (the board does it
in SQL for every card at once) and passes today's date in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# A case whose deadlines moved this many times in its stage is stuck ([stages]
# stuck_after_moves overrides it).
STUCK_AFTER_MOVES = 3


@dataclass(frozen=True)
class Attention:
    """What the board and the case page say about a case's progress in its stage."""

    days_in_stage: int
    norm_days: int | None
    moves: int
    stuck: bool
    reasons: tuple[str, ...]  # why it is stuck, in Norwegian; empty when it is not

    @property
    def over_norm(self) -> bool:
        return is_over_norm(self.days_in_stage, self.norm_days)

    @property
    def summary(self) -> str:
        """One line for every case, stuck or not: "12 dager i fasen (normalt 90)"."""
        line = f"{_days(self.days_in_stage)} i fasen"
        if self.norm_days is not None:
            line += f" (normalt {self.norm_days})"
        if self.moves:
            line += f" · fristen flyttet {_times(self.moves)}"
        return line


def days_in_stage(entered_on: date, today: date) -> int:
    """Whole days since the case entered its stage (0 on the day it entered)."""
    return max(0, (today - entered_on).days)


def is_over_norm(days: int, norm_days: int | None) -> bool:
    """More days in the stage than its norm; a stage without a norm is never over it."""
    return norm_days is not None and days > norm_days


def assess(*, stage_label: str, days: int, norm_days: int | None, moves: int,
           stuck_after_moves: int = STUCK_AFTER_MOVES, active: bool = True) -> Attention:
    """The case is stuck when it has been longer in its stage than the norm, or its
    deadlines have moved `stuck_after_moves` times or more. Only an active case can be
    stuck: a case on hold waits on purpose, and a closed one waits for nothing."""
    reasons: list[str] = []
    if active and is_over_norm(days, norm_days):
        reasons.append(f"I {stage_label} i {_days(days)} (normalt {norm_days})")
    if active and moves >= stuck_after_moves:
        reasons.append(f"Fristen er flyttet {_times(moves)}")
    return Attention(days, norm_days, moves, bool(reasons), tuple(reasons))


def _days(n: int) -> str:
    return f"{n} dag" if n == 1 else f"{n} dager"


def _times(n: int) -> str:
    return "1 gang" if n == 1 else f"{n} ganger"
