"""The kinds of things stored as strings: events, reminders, status actions, task keys.

The values are the strings stored in the database, so rows written before these enums
existed still read (a StrEnum compares equal to its value).
"""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidInput, ref


class EventKind(StrEnum):
    """The `kind` of an event row. A recorded fact's event has the fact's own kind
    (`FactKind`, e.g. council_decision); these are the rest."""

    CASE_OPENED = "case_opened"
    STAGE_ENTERED = "stage_entered"
    TASK_DONE = "task_done"
    TASK_ASSIGNED = "task_assigned"
    CASE_ON_HOLD = "case_on_hold"
    CASE_RESUMED = "case_resumed"
    CASE_WITHDRAWN = "case_withdrawn"
    CASE_REJECTED = "case_rejected"
    AGREEMENT_ENDED = "agreement_ended"
    AGREEMENT_RENEWED = "agreement_renewed"
    DUTIES_PLANNED = "duties_planned"
    DUTIES_AFTER_NOTICE = "duties_after_notice"
    MEETING_PLANNED = "meeting_planned"
    MEETING_MOVED = "meeting_moved"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_CANCELLED = "meeting_cancelled"
    SAKSGANG_SET = "saksgang_set"
    SPLIT_CHANGED = "split_changed"
    NOTE_ADDED = "note_added"
    CONTACT_ADDED = "contact_added"
    CONTACT_CHANGED = "contact_changed"
    CONTACT_ERASED = "contact_erased"
    TEXT_REDACTED = "text_redacted"


# Events that end a case (its last stage span ends with them).
CASE_ENDINGS = (EventKind.CASE_REJECTED, EventKind.CASE_WITHDRAWN, EventKind.AGREEMENT_ENDED)


class ReminderKind(StrEnum):
    """The `kind` of a reminder in the outbox, most urgent first."""

    ESCALATION = "escalation"    # overdue long enough to go to the leader
    OVERDUE = "overdue"
    DUE = "due"                  # due today
    NO_PLAN = "no_plan"          # a political task without a meeting to aim at
    MOVED = "moved"              # a political deadline moved
    UPCOMING = "upcoming"


class StatusAction(StrEnum):
    """What `case hold|resume|withdraw` (and the dashboard's buttons) ask for."""

    HOLD = "hold"
    RESUME = "resume"
    WITHDRAW = "withdraw"

    @classmethod
    def parse(cls, value: str) -> StatusAction:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(a.value for a in cls)
            raise InvalidInput(f"{ref('action')}: «{value}» er ikke en gyldig endring av "
                               f"status. Velg en av: {allowed}.", field="action") from None


class TaskFamily(StrEnum):
    """What a checklist task is, read from its key: a stage's checklist item
    (`political.council`) or a recurring duty in running operation (`duty.visit.2027-1`)."""

    CHECKLIST = "checklist"
    DUTY = "duty"                # any recurring duty
    DUTY_RENEWAL = "duty_renewal"
    DUTY_VISIT = "duty_visit"


DUTY_PREFIX = "duty."
RENEWAL_PREFIX = "duty.renewal."
VISIT_PREFIX = "duty.visit."


def task_family(key: str) -> TaskFamily:
    """The most specific family of a task key."""
    if key.startswith(RENEWAL_PREFIX):
        return TaskFamily.DUTY_RENEWAL
    if key.startswith(VISIT_PREFIX):
        return TaskFamily.DUTY_VISIT
    if key.startswith(DUTY_PREFIX):
        return TaskFamily.DUTY
    return TaskFamily.CHECKLIST


def is_duty(key: str) -> bool:
    return task_family(key) is not TaskFamily.CHECKLIST


# --- the outbox: a digest's states and how a person reads them --------------------------
# Here, with no imports, so the CLI prints them in client mode without the database layer.

PENDING, SENDING, SENT, FAILED, GAVE_UP = "pending", "sending", "sent", "failed", "gave_up"
STATUS_LABELS = {PENDING: "venter", SENDING: "sendes", SENT: "sendt",
                 FAILED: "feilet (prøver igjen)", GAVE_UP: "gitt opp", "venter": "venter",
                 "would_send": "ville blitt sendt"}
NO_TARGET_LABEL = "ingen mottaker satt opp"


def status_text(row: dict) -> str:
    """A digest's status in words: "ingen mottaker satt opp" when nothing is configured to
    send it to (a fresh installation), not "feilet"."""
    if row.get("no_target"):
        return NO_TARGET_LABEL
    return STATUS_LABELS.get(row["status"], row["status"])
