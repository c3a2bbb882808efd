"""The vocabulary of onboarding: stages, statuses, parties, milestones.

The facts a coordinator records, and the values they take, are in `facts.py`.

Everything here is plain data. The one table that says how a case moves is `STAGE_RULES`;
the state machine in `machine.py` only interprets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    FIRST_CONTACT = "first_contact"
    POLITICAL_APPROVAL = "political_approval"
    CONTRACT_SIGNING = "contract_signing"
    SYSTEM_SETUP = "system_setup"
    RUNNING_OPERATION = "running_operation"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]

    @property
    def index(self) -> int:
        return STAGE_ORDER.index(self)

    @property
    def next(self) -> Stage | None:
        i = self.index + 1
        return STAGE_ORDER[i] if i < len(STAGE_ORDER) else None


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)

STAGE_LABELS: dict[Stage, str] = {
    Stage.FIRST_CONTACT: "Førstekontakt",
    Stage.POLITICAL_APPROVAL: "Politisk behandling",
    Stage.CONTRACT_SIGNING: "Avtaleinngåelse",
    Stage.SYSTEM_SETUP: "Systemoppsett",
    Stage.RUNNING_OPERATION: "Drift",
}


class CaseStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({CaseStatus.ACTIVE, CaseStatus.ON_HOLD})

STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.ACTIVE: "Aktiv",
    CaseStatus.ON_HOLD: "På vent",
    CaseStatus.WITHDRAWN: "Trukket",
    CaseStatus.REJECTED: "Avslått",
    CaseStatus.COMPLETED: "Avsluttet",
}


class Party(StrEnum):
    COUNTY = "county"
    MUNICIPALITY = "municipality"

    @property
    def label(self) -> str:
        return "Fylkeskommunen" if self is Party.COUNTY else "Kommunen"


class Theme(StrEnum):
    RESPONSIBILITY_SPLIT = "responsibility_split"
    TECHNICAL_SYSTEMS = "technical_systems"
    ENGAGEMENT = "engagement"
    OTHER = "other"

    @property
    def label(self) -> str:
        return THEME_LABELS[self]


THEME_LABELS: dict[Theme, str] = {
    Theme.RESPONSIBILITY_SPLIT: "Grenseoppgang",
    Theme.TECHNICAL_SYSTEMS: "Systemtekniske løsninger",
    Theme.ENGAGEMENT: "Engasjement",
    Theme.OTHER: "Annet",
}


class Milestone(StrEnum):
    """What a gate waits for. Recorded facts reach the first eight; the last two are derived."""

    MEETING_HELD = "meeting_held"
    NEEDS_ASSESSED = "needs_assessed"
    INTENT_CONFIRMED = "intent_confirmed"
    COUNCIL_APPROVED = "council_approved"
    COUNTY_APPROVED = "county_approved"
    TERMS_SET = "terms_set"
    SIGNED_MUNICIPALITY = "signed_municipality"
    SIGNED_COUNTY = "signed_county"
    SETUP_COMPLETE = "setup_complete"
    START_DATE_REACHED = "start_date_reached"


MILESTONE_LABELS: dict[Milestone, str] = {
    Milestone.MEETING_HELD: "første møte holdt",
    Milestone.NEEDS_ASSESSED: "behov kartlagt",
    Milestone.INTENT_CONFIRMED: "kommunen har bekreftet at den vil gå videre",
    Milestone.COUNCIL_APPROVED: "vedtak i kommunestyret",
    Milestone.COUNTY_APPROVED: "vedtak i fylkeskommunen",
    Milestone.TERMS_SET: "avtalevilkår fastsatt",
    Milestone.SIGNED_MUNICIPALITY: "signatur fra kommunen",
    Milestone.SIGNED_COUNTY: "signatur fra fylkeskommunen",
    Milestone.SETUP_COMPLETE: "alle obligatoriske punkter i oppsettet er gjort",
    Milestone.START_DATE_REACHED: "avtalens startdato er nådd",
}


class DueBase(StrEnum):
    """What a task's due date counts from."""

    STAGE_ENTRY = "stage_entry"  # N calendar days after the stage began
    STAGE_ENTRY_WORKING = "stage_entry_working"  # N working days after the stage began
    BEFORE_START = "before_start"  # N working days before the agreement's start date
    # Political tasks follow the meeting plan (avtaleflyt.domain.deadlines), never a guess:
    MEETING = "meeting"  # on the date of the body's next reachable meeting
    BEFORE_MEETING = "before_meeting"  # N working days before that meeting


@dataclass(frozen=True)
class TaskTemplate:
    """A checklist item created when its stage begins.

    `key` is stable per case, so creating a stage's tasks twice creates them once.
    A task with a `milestone` closes itself when that milestone is reached; the rest are
    closed by hand (`avtaleflyt task done`).
    """

    key: str
    title: str
    responsible: Party
    due_base: DueBase
    due_amount: int
    mandatory: bool = True
    milestone: Milestone | None = None
    body: str | None = None  # the deciding body whose meetings set MEETING/BEFORE_MEETING dates


@dataclass(frozen=True)
class StageRule:
    stage: Stage
    exit_requires: tuple[Milestone, ...]
    tasks: tuple[TaskTemplate, ...]


def _t(key, title, responsible, base, amount, *, mandatory=True, milestone=None,
       body=None) -> TaskTemplate:
    return TaskTemplate(key, title, responsible, base, amount, mandatory, milestone, body)


C, M = Party.COUNTY, Party.MUNICIPALITY
E, EW, BS = DueBase.STAGE_ENTRY, DueBase.STAGE_ENTRY_WORKING, DueBase.BEFORE_START
MT, BM = DueBase.MEETING, DueBase.BEFORE_MEETING

# The one table of the pipeline. Due amounts here are the documented defaults; the TOML
# configuration (`avtaleflyt.config`) may override any of them by task key.
STAGE_RULES: dict[Stage, StageRule] = {
    Stage.FIRST_CONTACT: StageRule(
        Stage.FIRST_CONTACT,
        exit_requires=(Milestone.MEETING_HELD, Milestone.NEEDS_ASSESSED, Milestone.INTENT_CONFIRMED),
        tasks=(
            _t("first_contact.meeting", "Hold første møte med kommunen", C, E, 21,
               milestone=Milestone.MEETING_HELD),
            _t("first_contact.needs", "Kartlegg kommunens behov", C, E, 35,
               milestone=Milestone.NEEDS_ASSESSED),
            _t("first_contact.intent", "Kommunen bekrefter at den vil gå videre", M, E, 42,
               milestone=Milestone.INTENT_CONFIRMED),
        ),
    ),
    Stage.POLITICAL_APPROVAL: StageRule(
        Stage.POLITICAL_APPROVAL,
        exit_requires=(Milestone.COUNCIL_APPROVED, Milestone.COUNTY_APPROVED),
        tasks=(
            _t("political.saksframlegg", "Lever saksframlegg til kommunedirektøren", C, BM, 15,
               body="kommunestyre"),
            _t("political.council", "Vedtak i kommunestyret", M, MT, 0,
               milestone=Milestone.COUNCIL_APPROVED, body="kommunestyre"),
            _t("political.county", "Vedtak i fylkeskommunen", C, MT, 0,
               milestone=Milestone.COUNTY_APPROVED, body="county"),
        ),
    ),
    Stage.CONTRACT_SIGNING: StageRule(
        Stage.CONTRACT_SIGNING,
        exit_requires=(Milestone.TERMS_SET, Milestone.SIGNED_MUNICIPALITY, Milestone.SIGNED_COUNTY),
        tasks=(
            _t("contract.terms", "Fastsett avtalevilkårene", C, E, 14, milestone=Milestone.TERMS_SET),
            _t("contract.sign_municipality", "Kommunen signerer avtalen", M, E, 30,
               milestone=Milestone.SIGNED_MUNICIPALITY),
            _t("contract.sign_county", "Fylkeskommunen signerer avtalen", C, E, 30,
               milestone=Milestone.SIGNED_COUNTY),
        ),
    ),
    Stage.SYSTEM_SETUP: StageRule(
        Stage.SYSTEM_SETUP,
        exit_requires=(Milestone.SETUP_COMPLETE, Milestone.START_DATE_REACHED),
        tasks=(
            _t("setup.user_account", "Brukerkonto i kommunens nettverk", M, BS, 10),
            _t("setup.email", "E-postadresse i kommunen", M, BS, 10),
            _t("setup.library_system", "Tilgang til bibliotekssystemet", M, BS, 10),
            _t("setup.archive_system", "Tilgang til sak- og arkivsystemet", M, BS, 10),
            _t("setup.finance_hr", "Tilgang til økonomi- og HR-systemet", M, BS, 10),
            _t("setup.local_contact", "Navngitt lokal kontaktperson", M, BS, 10),
            _t("setup.first_visit", "Første besøk planlagt", C, BS, 10),
        ),
    ),
    Stage.RUNNING_OPERATION: StageRule(Stage.RUNNING_OPERATION, exit_requires=(), tasks=()),
}

TASK_TEMPLATES: dict[str, TaskTemplate] = {
    t.key: t for rule in STAGE_RULES.values() for t in rule.tasks
}
