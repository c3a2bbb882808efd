"""The vocabulary of onboarding: stages, statuses, parties, milestones.

Everything here is plain data. The one table that says what a stage is — its gate, its
checklist and due rules, whether it is terminal, its norm duration, the draft documents
written in it and the hooks run on entering it — is `PIPELINE_RULES`, installed as the
pipeline and read through `STAGE_RULES`, `STAGE_ORDER` and `Stage`. The state machine in
`machine.py`, the services, the flows, the board, the forecast and the sweep only interpret
it. docs/architecture.md, "How to add a stage", shows a new row.

The facts a coordinator records, and the values they take, are in `facts.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, overload


class _StageType(type):
    """`for s in Stage` and `len(Stage)` follow the installed pipeline's order."""

    def __iter__(cls) -> Iterator[Stage]:
        return iter(_installed.order)

    def __len__(cls) -> int:
        return len(_installed.order)


class Stage(str, metaclass=_StageType):
    """A stage's key ("first_contact"), compared and stored as that string.

    A stage is a row of the pipeline table, not a fixed list: `Stage(key)` accepts the keys
    of the installed table (and raises ValueError for others, like an enum), and a stage's
    label, position and successor come from the table. The five stages of the real pipeline
    are also class attributes (`Stage.FIRST_CONTACT`); `Stage.define` makes a new one for a
    new row. Each key has one object, so `is` compares stages as with an enum.
    """

    __slots__ = ()
    _interned: ClassVar[dict[str, Stage]] = {}

    FIRST_CONTACT: ClassVar[Stage]
    POLITICAL_APPROVAL: ClassVar[Stage]
    CONTRACT_SIGNING: ClassVar[Stage]
    SYSTEM_SETUP: ClassVar[Stage]
    RUNNING_OPERATION: ClassVar[Stage]

    def __new__(cls, key: object) -> Stage:
        if isinstance(key, Stage):
            return key
        stage = _installed.by_key.get(key) if isinstance(key, str) else None
        if stage is None:
            raise ValueError(f"{key!r} is not a valid Stage")
        return stage

    @classmethod
    def define(cls, key: str) -> Stage:
        """The stage with this key, for a row of a pipeline table (lower case, `_`)."""
        if (not key or len(key) > 32 or not key.replace("_", "").isalnum()
                or key != key.lower()):  # stored in String(32) columns
            raise ValueError(f"a stage key is 1-32 lower case letters, digits and _: {key!r}")
        found = cls._interned.get(key)
        if found is None:
            found = cls._interned[key] = str.__new__(cls, key)
        return found

    def __repr__(self) -> str:
        return f"Stage({str.__str__(self)!r})"

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return format(str.__str__(self), spec)

    def __reduce__(self):
        return (Stage, (str.__str__(self),))

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def rule(self) -> StageRule:
        return _installed.rules[self]

    @property
    def label(self) -> str:
        return self.rule.label

    @property
    def index(self) -> int:
        return _installed.order.index(self)

    @property
    def next(self) -> Stage | None:
        i = self.index + 1
        order = _installed.order
        return order[i] if i < len(order) else None


for _key in ("first_contact", "political_approval", "contract_signing", "system_setup",
             "running_operation"):
    setattr(Stage, _key.upper(), Stage.define(_key))


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
    """What a gate waits for. Recorded facts reach the first eight; the rest are derived:
    the checklist milestones (`CHECKLIST_MILESTONES`) from the current stage's tasks, the
    start date from the agreement's terms."""

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
    CHECKLIST_DONE = "checklist_done"


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
    Milestone.CHECKLIST_DONE: "alle obligatoriske punkter i fasen er gjort",
}

# Reached when every mandatory item of the current stage's checklist that is closed by hand
# (no milestone of its own) is done. SETUP_COMPLETE is system setup's, with its own wording;
# CHECKLIST_DONE is for any other stage whose gate is its checklist.
CHECKLIST_MILESTONES = frozenset({Milestone.SETUP_COMPLETE, Milestone.CHECKLIST_DONE})


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

    @property
    def has_amount(self) -> bool:
        """Whether `due_amount` means anything (a MEETING task is due on the meeting)."""
        return self.due_base is not DueBase.MEETING


@dataclass(frozen=True)
class StageRule:
    """One row of the pipeline: everything that makes a stage what it is.

    - `exit_requires`: the gate. The case moves to the next row the day the last of these
      milestones is reached. Every stage but the terminal one needs a gate.
    - `tasks`: the checklist planned on entry, each with its due rule; `due_amount` is the
      default, `[tasks.due]` in the configuration overrides it by task key.
    - `terminal`: the last row, where the agreement runs; a case leaves it only when the
      agreement ends (the case is then completed), never through a gate.
    - `norm_days`: how many days a case is expected to stay in the stage (None: no norm);
      `[stages.norm_days]` in the configuration overrides it by stage key.
    - `documents`: the draft documents written when a case is in the stage (kinds known to
      `services.documents`).
    - `on_enter` / `on_resume`: named hooks (`services.cases.STAGE_HOOKS`) that plan what
      the table cannot: deadlines from the meeting plan, the recurring duties.
    - `description`: one line, shown on the stage's Prefect flow.
    """

    stage: Stage
    label: str
    exit_requires: tuple[Milestone, ...] = ()
    tasks: tuple[TaskTemplate, ...] = ()
    terminal: bool = False
    norm_days: int | None = None
    documents: tuple[str, ...] = ()
    on_enter: tuple[str, ...] = ()
    on_resume: tuple[str, ...] = ()
    description: str = ""

    @property
    def meeting_bound(self) -> bool:
        """The stage ends at a meeting (its gate's tasks are due on a body's meeting)."""
        return any(t.due_base is DueBase.MEETING for t in self.tasks)

    @property
    def date_driven(self) -> bool:
        """Time alone can move a case here: its gate waits for the start date, or (terminal)
        the agreement ends or renews. The daily sweep runs these stages."""
        return self.terminal or Milestone.START_DATE_REACHED in self.exit_requires


def _t(key, title, responsible, base, amount, *, mandatory=True, milestone=None,
       body=None) -> TaskTemplate:
    return TaskTemplate(key, title, responsible, base, amount, mandatory, milestone, body)


C, M = Party.COUNTY, Party.MUNICIPALITY
E, EW, BS = DueBase.STAGE_ENTRY, DueBase.STAGE_ENTRY_WORKING, DueBase.BEFORE_START
MT, BM = DueBase.MEETING, DueBase.BEFORE_MEETING

# The pipeline, in order. Due amounts and norm days here are the defaults (and equal the
# documented values in defaults.toml; a test checks both ways).
PIPELINE_RULES: tuple[StageRule, ...] = (
    StageRule(
        Stage.FIRST_CONTACT, "Førstekontakt",
        exit_requires=(Milestone.MEETING_HELD, Milestone.NEEDS_ASSESSED, Milestone.INTENT_CONFIRMED),
        tasks=(
            _t("first_contact.meeting", "Hold første møte med kommunen", C, E, 21,
               milestone=Milestone.MEETING_HELD),
            _t("first_contact.needs", "Kartlegg kommunens behov", C, E, 35,
               milestone=Milestone.NEEDS_ASSESSED),
            _t("first_contact.intent", "Kommunen bekrefter at den vil gå videre", M, E, 42,
               milestone=Milestone.INTENT_CONFIRMED),
        ),
        norm_days=42,
        description="Førstekontakt: first meeting, needs assessment, the municipality's "
                    "go-ahead.",
    ),
    StageRule(
        Stage.POLITICAL_APPROVAL, "Politisk behandling",
        exit_requires=(Milestone.COUNCIL_APPROVED, Milestone.COUNTY_APPROVED),
        tasks=(
            # The saksframlegg's lead time: working days before the saksgang's first meeting.
            _t("political.saksframlegg", "Lever saksframlegg til kommunedirektøren", C, BM, 15,
               body="kommunestyre"),
            _t("political.council", "Vedtak i kommunestyret", M, MT, 0,
               milestone=Milestone.COUNCIL_APPROVED, body="kommunestyre"),
            _t("political.county", "Vedtak i fylkeskommunen", C, MT, 0,
               milestone=Milestone.COUNTY_APPROVED, body="county"),
        ),
        norm_days=90,
        documents=("saksframlegg",),
        on_enter=("meeting_plan",),
        on_resume=("meeting_plan",),
        description="Politisk behandling: the municipal council and the county both approve.",
    ),
    StageRule(
        Stage.CONTRACT_SIGNING, "Avtaleinngåelse",
        exit_requires=(Milestone.TERMS_SET, Milestone.SIGNED_MUNICIPALITY, Milestone.SIGNED_COUNTY),
        tasks=(
            _t("contract.terms", "Fastsett avtalevilkårene", C, E, 14, milestone=Milestone.TERMS_SET),
            _t("contract.sign_municipality", "Kommunen signerer avtalen", M, E, 30,
               milestone=Milestone.SIGNED_MUNICIPALITY),
            _t("contract.sign_county", "Fylkeskommunen signerer avtalen", C, E, 30,
               milestone=Milestone.SIGNED_COUNTY),
        ),
        norm_days=30,
        # The data processing agreement (GDPR art. 28) is signed with the agreement.
        documents=("agreement", "databehandleravtale"),
        description="Avtaleinngåelse: terms set, signed by both parties.",
    ),
    StageRule(
        Stage.SYSTEM_SETUP, "Systemoppsett",
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
        norm_days=60,
        documents=("setup_checklist",),
        description="Systemoppsett: every mandatory access item done; operation starts on "
                    "the start date.",
    ),
    StageRule(
        Stage.RUNNING_OPERATION, "Drift",
        terminal=True,
        on_enter=("duties",),
        description="Drift: the agreement runs until its end date.",
    ),
)


class PipelineError(ValueError):
    """A pipeline table that cannot work (a developer's mistake, found at start-up)."""


class Pipeline:
    """A checked pipeline table: stage order, rules by stage, checklist items by key."""

    def __init__(self, rules: Iterable[StageRule]):
        self.rules_in_order = tuple(rules)
        self.order: tuple[Stage, ...] = tuple(r.stage for r in self.rules_in_order)
        self.rules: dict[Stage, StageRule] = {r.stage: r for r in self.rules_in_order}
        self.by_key: dict[str, Stage] = {s.value: s for s in self.order}
        self.tasks: dict[str, TaskTemplate] = {}
        self._check()

    def _check(self) -> None:
        if not self.order:
            raise PipelineError("the pipeline has no stages")
        if len(self.rules) != len(self.order):
            raise PipelineError("a stage appears twice in the pipeline")
        for r in self.rules_in_order:
            for t in r.tasks:
                if t.key in self.tasks:
                    raise PipelineError(f"task key {t.key!r} appears twice")
                self.tasks[t.key] = t
        last = self.rules_in_order[-1]
        if not last.terminal:
            raise PipelineError(
                f"the last stage ({last.stage.value}) must be terminal=True: a case stays in "
                "it until the agreement ends")
        for r in self.rules_in_order[:-1]:
            if r.terminal:
                raise PipelineError(
                    f"only the last stage can be terminal, not {r.stage.value}: the stages "
                    "after it could never be reached")
            if not r.exit_requires:
                # An empty gate is open: a case would leave the stage the day it begins.
                raise PipelineError(f"stage {r.stage.value} has no gate (exit_requires)")
        if last.exit_requires:
            raise PipelineError(f"the terminal stage {last.stage.value} has a gate; it is "
                                "never left through one")

    @property
    def first(self) -> Stage:
        return self.order[0]

    @property
    def terminal(self) -> Stage:
        return self.order[-1]


_installed = Pipeline(PIPELINE_RULES)


def pipeline() -> Pipeline:
    """The installed pipeline."""
    return _installed


@contextmanager
def use_pipeline(rules: Iterable[StageRule]) -> Iterator[Pipeline]:
    """Install another pipeline table for the duration (tests of a new stage); every reader
    of the views below and of `Stage` sees it. Not for concurrent use."""
    global _installed
    before, _installed = _installed, Pipeline(rules)
    try:
        yield _installed
    finally:
        _installed = before


def with_stage(rule: StageRule, *, after: Stage,
               rules: Sequence[StageRule] = PIPELINE_RULES) -> tuple[StageRule, ...]:
    """`rules` with `rule` inserted after the stage `after`."""
    i = [r.stage for r in rules].index(after) + 1
    return (*rules[:i], rule, *rules[i:])


class _RulesView(Mapping[Stage, StageRule]):
    def __getitem__(self, stage: str) -> StageRule:
        return _installed.rules[stage]  # type: ignore[index]

    def __iter__(self) -> Iterator[Stage]:
        return iter(_installed.order)

    def __len__(self) -> int:
        return len(_installed.order)


class _OrderView(Sequence[Stage]):
    @overload
    def __getitem__(self, i: int) -> Stage: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Stage, ...]: ...

    def __getitem__(self, i):
        return _installed.order[i]

    def __len__(self) -> int:
        return len(_installed.order)


class _TasksView(Mapping[str, TaskTemplate]):
    def __getitem__(self, key: str) -> TaskTemplate:
        return _installed.tasks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_installed.tasks)

    def __len__(self) -> int:
        return len(_installed.tasks)


# Live views of the installed pipeline (so a module that imported them sees a test's table).
STAGE_RULES: Mapping[Stage, StageRule] = _RulesView()
STAGE_ORDER: Sequence[Stage] = _OrderView()
TASK_TEMPLATES: Mapping[str, TaskTemplate] = _TasksView()
