"""Deadlines that follow the council's meeting plan, and which reminders are due today.

Pure: meetings, tasks and `today` are passed in as plain data. A political decision can only
happen at a meeting, so the political tasks get their dates from the next meeting that can
still be reached: one whose case-document deadline (N working days before it) has not passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .calendar import WorkingCalendar
from .kinds import ReminderKind, TaskFamily, task_family

SAKSFRAMLEGG = "political.saksframlegg"
COUNCIL = "political.council"
COUNTY = "political.county"


@dataclass(frozen=True)
class OpenTask:
    """What scheduling needs of a political task."""

    key: str
    due_on: date | None
    done_on: date | None


@dataclass(frozen=True)
class DueChange:
    """Set task `key` due on `due_on`. reason: planned | moved | postponed | unplanned."""

    key: str
    due_on: date | None
    reason: str
    meeting: date | None = None


def delivery_deadline(meeting: date, lead_working_days: int, cal: WorkingCalendar) -> date:
    return cal.add_working_days(meeting, -lead_working_days)


def next_reachable(meetings: Iterable[date], today: date, lead_working_days: int,
                   cal: WorkingCalendar, *, after: date | None = None
                   ) -> tuple[date, date] | None:
    """(meeting, delivery deadline) of the first meeting whose deadline is today or later."""
    for m in sorted(meetings):
        if after is not None and m <= after:
            continue
        deadline = delivery_deadline(m, lead_working_days, cal)
        if deadline >= today:
            return m, deadline
    return None


def first_body_meeting(council_meeting: date, first_meetings: Sequence[date] | None
                       ) -> date | None:
    """The meeting of the saksgang's first body that prepares `council_meeting`: the latest
    one before it. Without a first body of its own (saksgang only "kommunestyre", or no
    meeting of the first body in the plan at all) the council meeting itself."""
    if not first_meetings:
        return council_meeting
    return max((f for f in first_meetings if f < council_meeting), default=None)


def next_reachable_in_saksgang(council_meetings: Iterable[date],
                               first_meetings: Sequence[date] | None, today: date,
                               lead_working_days: int, cal: WorkingCalendar, *,
                               after: date | None = None) -> tuple[date, date] | None:
    """(council meeting, case-document deadline) of the first council meeting whose case
    document can still reach the first body of the saksgang in time: the saksframlegg is
    due `lead_working_days` before the FIRST body's meeting (formannskapet 04.06 before
    kommunestyret 18.06 → due 12.05 with 15 working days), the decision at the council."""
    for m in sorted(set(council_meetings)):
        if after is not None and m <= after:
            continue
        first = first_body_meeting(m, first_meetings)
        if first is None:
            continue
        deadline = delivery_deadline(first, lead_working_days, cal)
        if deadline >= today:
            return m, deadline
    return None


def next_meeting(meetings: Iterable[date], *, on_or_after: date) -> date | None:
    return min((m for m in meetings if m >= on_or_after), default=None)


def _after_missed(meetings: Sequence[date], missed: date, today: date) -> date | None:
    """A meeting passed with no decision recorded: the body's next meeting from today.

    The coordinator is told, in case the decision was made and only not recorded; the
    deadline then points at a meeting that can still happen rather than staying overdue."""
    return next_meeting(meetings, on_or_after=max(today, missed + timedelta(days=1)))


def schedule_political(*, tasks: Mapping[str, OpenTask], council_meetings: Sequence[date],
                       county_meetings: Sequence[date], postponed: Mapping[str, date],
                       today: date, lead_working_days: int, cal: WorkingCalendar,
                       first_body_meetings: Sequence[date] | None = None
                       ) -> list[DueChange]:
    """What to change so the political tasks point at the right meetings.

    - Not yet planned: the next reachable meeting (no meeting plan → nothing, no guess).
    - Case document not delivered by its deadline: the next reachable meeting after the
      current one; both deadlines move.
    - A decision postponed at a meeting: the next meeting after the postponement.
    - A meeting passed with no decision recorded: the body's next meeting.
    - A planned meeting that was moved or cancelled (its date is no longer in the plan), or
      whose first-body meeting moved: planned again from the meeting plan ("replanned").
    `postponed` maps COUNCIL/COUNTY to the date of the latest postponed decision.
    `first_body_meetings` are the meetings of the saksgang's first body when that is not
    the council (formannskapet); the saksframlegg is due its lead time before them.
    """
    def reachable(after: date | None = None) -> tuple[date, date] | None:
        return next_reachable_in_saksgang(council_meetings, first_body_meetings, today,
                                          lead_working_days, cal, after=after)

    changes: list[DueChange] = []
    saks, council, county = tasks.get(SAKSFRAMLEGG), tasks.get(COUNCIL), tasks.get(COUNTY)

    def change(t: OpenTask, due: date | None, reason: str, meeting: date | None) -> None:
        if t.due_on != due:
            changes.append(DueChange(t.key, due, reason, meeting))

    def follow_meetings(t: OpenTask, meetings: Sequence[date], postponed_on: date | None
                        ) -> None:
        """A planned decision whose meeting postponed it, or passed without it, moves to
        the body's next meeting."""
        assert t.due_on is not None
        if postponed_on is not None and t.due_on <= postponed_on:
            m = next_meeting(meetings, on_or_after=postponed_on + timedelta(days=1))
            change(t, m, "postponed" if m else "unplanned", m)
        elif t.due_on not in meetings:
            # The meeting was moved or cancelled: the body's next meeting from today.
            m = next_meeting(meetings, on_or_after=today)
            change(t, m, "replanned" if m else "unplanned", m)
        elif today > t.due_on:
            m = _after_missed(meetings, t.due_on, today)
            change(t, m, "missed" if m else "unplanned", m)

    if council is not None and council.done_on is None:
        delivered = saks is None or saks.done_on is not None
        if not delivered:
            if saks.due_on is None or council.due_on is None:
                pick = reachable()
                reason = "planned"
            elif today > saks.due_on:
                pick = reachable(after=council.due_on)
                reason = "moved"
            else:
                # Still on time for the planned meeting, if the plan still holds it and its
                # first-body meeting gives the same deadline; else plan again from today.
                pick, reason = (council.due_on, saks.due_on), "keep"
                same = (next_reachable_in_saksgang([council.due_on], first_body_meetings,
                                                   today, lead_working_days, cal)
                        if council.due_on in council_meetings else None)
                if same != pick:
                    pick, reason = same or reachable(), "replanned"
            if pick is None:
                if reason in ("moved", "replanned"):
                    change(saks, None, "unplanned", None)
                    change(council, None, "unplanned", None)
            elif reason != "keep":
                change(saks, pick[1], reason, pick[0])
                change(council, pick[0], reason, pick[0])
        elif council.due_on is None:  # delivered before a meeting was planned
            m = next_meeting(council_meetings, on_or_after=today)
            if m is not None:
                change(council, m, "planned", m)
        else:
            follow_meetings(council, council_meetings, postponed.get(COUNCIL))

    if county is not None and county.done_on is None:
        if county.due_on is None:
            pick = next_reachable(county_meetings, today, lead_working_days, cal)
            if pick is not None:
                change(county, pick[0], "planned", pick[0])
        else:
            follow_meetings(county, county_meetings, postponed.get(COUNTY))
    return changes


# --- which reminders are due ------------------------------------------------------------


@dataclass(frozen=True)
class DueTask:
    task_id: int
    key: str
    due_on: date


@dataclass(frozen=True)
class ReminderDue:
    task_id: int
    kind: str  # upcoming | due | overdue | escalation
    due_on: date
    step: int


def reminders_due(task: DueTask, today: date, cal: WorkingCalendar, *,
                  upcoming_working_days: Sequence[int], escalate_after_working_days: int,
                  renewal_days_before: Sequence[int]) -> list[ReminderDue]:
    """The reminders a task is owed on `today`. Each is keyed so that writing it again
    changes nothing; a sweep that missed days still sends each kind at most once, and of
    the "upcoming" steps only the nearest one that has begun (never 7 after 1)."""
    due = task.due_on
    out: list[ReminderDue] = []
    if today < due:
        if task_family(task.key) is TaskFamily.DUTY_RENEWAL:
            begun = [n for n in renewal_days_before if due - timedelta(days=n) <= today]
        else:
            begun = [n for n in upcoming_working_days
                     if cal.add_working_days(due, -n) <= today]
        if begun:
            out.append(ReminderDue(task.task_id, ReminderKind.UPCOMING, due, min(begun)))
        return out
    if today == due:
        return [ReminderDue(task.task_id, ReminderKind.DUE, due, 0)]
    late = cal.working_days_between(due, today)
    if late >= 1:
        out.append(ReminderDue(task.task_id, ReminderKind.OVERDUE, due, 0))
    if late >= escalate_after_working_days:
        out.append(ReminderDue(task.task_id, ReminderKind.ESCALATION, due, escalate_after_working_days))
    return out


def lookahead_days(upcoming_working_days: Sequence[int], renewal_days_before: Sequence[int]
                   ) -> int:
    """Calendar days ahead that can hold a deadline owed an upcoming reminder today. A
    working day is at most ~2 calendar days (Easter: 5 days off around a weekend)."""
    return max([*(n * 2 + 7 for n in upcoming_working_days), *renewal_days_before, 0]) + 1
