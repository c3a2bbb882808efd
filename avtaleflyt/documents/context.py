"""What each document needs, as plain frozen data.

The database layer fills these in; the templates only read them. Nothing here touches a
database, so documents can be rendered and tested from hand-written values. Vocabulary that
already exists in the domain (stages, themes, parties, agreement terms, the default
responsibility split) is reused from there rather than defined twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from avtaleflyt.documents.clauses import Clauses, default_clauses
from avtaleflyt.domain.agreement import DEFAULT_SPLIT, ResponsibilityRow, Terms, notice_deadline_for
from avtaleflyt.domain.experience import ExperienceSummary, StageSpan, StageStatistics, summarise
from avtaleflyt.domain.stages import STAGE_ORDER, CaseStatus, Stage, Theme
from avtaleflyt.domain.stages import Party as Side

__all__ = [
    "AgreementContext", "AgreementPeriod", "ChecklistContext", "Clauses", "Contact",
    "DataProcessingContext", "SaksgangStep", "ChecklistItem", "ClosedCase", "DutyRecord",
    "CountyExperience", "ExperienceComparisonContext", "ExperienceNote",
    "ExperienceReportContext", "Party", "ResponsibilityRow",
    "SaksframleggContext", "Side", "StageSpan", "StandardOffer", "Terms",
    "YearlyReportContext", "default_responsibility_split",
]

# Systems the municipality opens to the remote library director (the pilot's
# "systemtekniske løsninger"); the agreement lists them so IT is involved from the start.
DEFAULT_SYSTEMS: tuple[str, ...] = (
    "brukerkonto i kommunens nettverk",
    "e-postadresse i kommunen",
    "bibliotekssystemet",
    "sak- og arkivsystemet",
    "økonomi- og HR-systemet",
)


def _freeze(obj: Any, **values: Any) -> None:
    """Store normalised values on a frozen dataclass (enums from strings, tuples from lists)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def default_responsibility_split() -> list[ResponsibilityRow]:
    """The typical grenseoppgang from the pilot; every saksframlegg and agreement starts here."""
    return list(DEFAULT_SPLIT)


@dataclass(frozen=True)
class Party:
    """One side of the agreement as it is named on paper."""

    name: str
    org_number: str | None = None
    address: str | None = None
    signatory_name: str | None = None
    signatory_role: str | None = None
    # The county's library ("Troms fylkesbibliotek"), for the county side only.
    library_name: str | None = None


@dataclass(frozen=True)
class Contact:
    """A contact person as the agreement names them (personal data: erasable, see
    services/privacy.py, which blanks them out of stored documents)."""

    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class AgreementPeriod:
    """The term of an agreement as the engine computes it, in the words a contract uses.

    `renewal` is "none" (a fixed term: the agreement ends on `end`) or "auto" (renewed for
    a like period unless notice is given by `notice_deadline`)."""

    start: dt.date
    end: dt.date
    length: str  # "3 år", "4 måneder"
    notice_months: int
    notice_deadline: dt.date
    renewal: str = "none"

    def __post_init__(self) -> None:
        if self.renewal not in ("none", "auto"):
            raise ValueError(f"renewal is none or auto, not {self.renewal!r}")

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1


def period_of(terms: Terms | None, *, calendar=None) -> AgreementPeriod | None:
    """The period of `terms` as the engine computes it: its last day (`Terms.end_date`) and,
    with a working-day `calendar`, the notice deadline rolled to the previous working day
    (`domain.agreement.notice_deadline_for`); its length in years and months; renewal."""
    if terms is None:
        return None
    years, months = divmod(terms.term_months, 12)
    parts = ([f"{years} år"] if years else []) + (
        [f"{months} {'måned' if months == 1 else 'måneder'}"] if months else [])
    length = " og ".join(parts) or "0 måneder"
    notice = (notice_deadline_for(terms.end_date, terms.notice_months, calendar)
              if calendar is not None else terms.notice_deadline)
    renewal = str(getattr(terms.renewal, "value", terms.renewal) or "none")
    return AgreementPeriod(terms.start_date, terms.end_date, length, terms.notice_months,
                           notice, renewal)


@dataclass(frozen=True)
class SaksgangStep:
    """One body a saksframlegg goes through, in order, with its meeting if one is planned."""

    body: str  # "Formannskapet"
    meeting: dt.date | None = None


@dataclass(frozen=True)
class StandardOffer:
    """The county library's published offer, shown in a saksframlegg before terms are set."""

    yearly_price: int = 120_000
    position_share: Decimal = Decimal("20")
    site_visits_per_year: int = 4


@dataclass(frozen=True)
class ChecklistItem:
    """One access or setup item for the system setup stage."""

    title: str
    responsible: Side
    due: dt.date | None = None
    done: dt.date | None = None
    mandatory: bool = True
    contact_name: str | None = None

    def __post_init__(self) -> None:
        _freeze(self, responsible=Side(self.responsible))


@dataclass(frozen=True)
class DutyRecord:
    """A recurring duty in running operation (statistics, annual report, budget proposal ...)."""

    title: str
    due: dt.date
    done: dt.date | None = None


@dataclass(frozen=True)
class ExperienceNote:
    """Something learned, filed under one of the pilot's three themes (or «Annet»)."""

    municipality: str
    stage: Stage
    theme: Theme
    text: str
    date: dt.date
    # The county's short name ("Troms"), set where notes of several counties are shown.
    county: str | None = None

    def __post_init__(self) -> None:
        _freeze(self, stage=Stage(self.stage), theme=Theme(self.theme))


@dataclass(frozen=True)
class ClosedCase:
    """A case that ended without an agreement, with the reason given."""

    municipality: str
    status: CaseStatus
    date: dt.date
    reason: str

    def __post_init__(self) -> None:
        status = CaseStatus(self.status)
        if status not in (CaseStatus.REJECTED, CaseStatus.WITHDRAWN):
            raise ValueError(f"a closed case is rejected or withdrawn, not {status}")
        _freeze(self, status=status)


@dataclass(frozen=True)
class SaksframleggContext:
    """The case paper for the municipal council.

    It is often drafted before terms are agreed; then `terms` is None and the document
    presents `standard_terms`, the county library's standard offer.
    """

    county: Party
    municipality: Party
    today: dt.date
    responsibilities: tuple[ResponsibilityRow, ...] = field(default=DEFAULT_SPLIT)
    terms: Terms | None = None
    standard_terms: StandardOffer = field(default_factory=StandardOffer)
    # The municipality's situation as written down when its needs were assessed.
    situation: str | None = None
    meeting_date: dt.date | None = None
    reference: str | None = None
    period: AgreementPeriod | None = None
    saksgang: tuple[SaksgangStep, ...] = ()
    clauses: Clauses = field(default_factory=default_clauses)
    attachments: tuple[str, ...] = ("Utkast til samarbeidsavtale",
                                    "Utkast til databehandleravtale")

    def __post_init__(self) -> None:
        _freeze(self, responsibilities=tuple(self.responsibilities),
                saksgang=tuple(self.saksgang), attachments=tuple(self.attachments),
                period=self.period if self.period is not None else period_of(self.terms))

    @property
    def offer(self) -> Terms | StandardOffer:
        """Price, share of a position and site visits: the agreed terms or the standard offer."""
        return self.terms if self.terms is not None else self.standard_terms


@dataclass(frozen=True)
class AgreementContext:
    """The cooperation agreement (samarbeidsavtale); its split comes with the terms.

    The draft made when a case enters contract signing usually comes before the terms are
    set; then `terms` is None, the document is marked as a draft, prices come from
    `standard_terms` and the period is left open for the parties to fill in.
    """

    county: Party
    municipality: Party
    terms: Terms | None
    today: dt.date
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    reference: str | None = None
    standard_terms: StandardOffer = field(default_factory=StandardOffer)
    # The case's responsibility split; None: the one in the terms, else the default.
    split: tuple[ResponsibilityRow, ...] | None = None
    period: AgreementPeriod | None = None
    clauses: Clauses = field(default_factory=default_clauses)
    county_contact: Contact | None = None
    municipality_contact: Contact | None = None

    def __post_init__(self) -> None:
        _freeze(self, systems=tuple(self.systems),
                split=None if self.split is None else tuple(self.split),
                period=self.period if self.period is not None else period_of(self.terms))

    @property
    def responsibilities(self) -> tuple[ResponsibilityRow, ...]:
        if self.split is not None:
            return self.split
        return self.terms.split if self.terms is not None else DEFAULT_SPLIT

    @property
    def offer(self) -> Terms | StandardOffer:
        return self.terms if self.terms is not None else self.standard_terms

    @property
    def period_price(self) -> int | None:
        """The price for the whole period (whole kroner), once terms and period are set."""
        if self.terms is None or self.period is None:
            return None
        return (self.terms.yearly_price * self.period.months + 6) // 12


@dataclass(frozen=True)
class DataProcessingContext:
    """The data processing agreement (databehandleravtale, GDPR art. 28).

    The municipality is the controller (behandlingsansvarlig) of the personal data in its
    library and its systems; the county is the processor (databehandler): its library
    director handles borrowers' and staff's data there on the municipality's behalf. It is
    made with the cooperation agreement and runs for as long as that does.
    """

    county: Party
    municipality: Party
    today: dt.date
    period: AgreementPeriod | None = None
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    clauses: Clauses = field(default_factory=default_clauses)
    county_contact: Contact | None = None
    municipality_contact: Contact | None = None

    def __post_init__(self) -> None:
        _freeze(self, systems=tuple(self.systems))


@dataclass(frozen=True)
class ChecklistContext:
    """Access and setup items the municipality and county must complete before start."""

    county: Party
    municipality: Party
    items: tuple[ChecklistItem, ...]
    today: dt.date
    start_date: dt.date | None = None
    # The case's responsibility split (grenseoppgang): who owns what once the setup is done.
    responsibilities: tuple[ResponsibilityRow, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, items=tuple(self.items), responsibilities=tuple(self.responsibilities))

    @property
    def outstanding_mandatory(self) -> int:
        return sum(1 for item in self.items if item.mandatory and item.done is None)


@dataclass(frozen=True)
class YearlyReportContext:
    """A year of running operation for one municipality."""

    county: Party
    municipality: Party
    year: int
    duties: tuple[DutyRecord, ...]
    site_visits_done: int
    site_visits_planned: int
    today: dt.date
    notes: tuple[ExperienceNote, ...] = ()
    # The case's responsibility split, as the year was run under it.
    responsibilities: tuple[ResponsibilityRow, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, duties=tuple(self.duties), notes=tuple(self.notes),
                responsibilities=tuple(self.responsibilities))

    @property
    def duties_done(self) -> tuple[DutyRecord, ...]:
        return tuple(d for d in self.duties if d.done is not None)

    @property
    def duties_missed(self) -> tuple[DutyRecord, ...]:
        """Past due and not done as of `today`; duties not yet due are neither done nor missed."""
        return tuple(d for d in self.duties if d.done is None and d.due < self.today)


@dataclass(frozen=True)
class ExperienceReportContext:
    """Experience across all cases: time per stage, stalls, notes by theme, closed cases.

    Statistics are not stored here; the renderer derives them from `spans` with
    `avtaleflyt.domain.experience`, so the figures can never disagree with the spans.
    """

    county_name: str
    generated: dt.date
    spans: tuple[StageSpan, ...]
    notes: tuple[ExperienceNote, ...] = ()
    closed_cases: tuple[ClosedCase, ...] = ()
    stall_threshold_days: int | None = None
    # Why an open case is waiting, when someone said so (a case put on hold with a reason),
    # by kommunenummer; shown next to the case if it has stalled.
    waiting_reasons: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, spans=tuple(self.spans), notes=tuple(self.notes),
                closed_cases=tuple(self.closed_cases))

    @property
    def notes_by_theme(self) -> tuple[tuple[Theme, tuple[ExperienceNote, ...]], ...]:
        """Every theme in fixed order, each with its notes oldest first (possibly none)."""
        return tuple(
            (theme, tuple(sorted((n for n in self.notes if n.theme is theme),
                                 key=lambda n: n.date)))
            for theme in Theme
        )


@dataclass(frozen=True)
class CountyExperience:
    """One county in the national comparison: its cases' spans, outcomes and shared notes.

    `report.notes` holds only the notes its county chose to share.
    """

    code: str
    name: str  # "Troms fylkeskommune"
    library_name: str  # "Troms fylkesbibliotek"
    report: ExperienceReportContext
    running: int = 0  # open cases in running operation
    in_progress: int = 0  # open cases before running operation (on hold included)
    rejected: int = 0
    withdrawn: int = 0
    ended: int = 0  # agreements that ran and ended

    @property
    def short_name(self) -> str:
        return self.name.removesuffix(" fylkeskommune")

    @property
    def cases(self) -> int:
        return self.running + self.in_progress + self.rejected + self.withdrawn + self.ended

    @property
    def summary(self) -> ExperienceSummary:
        return summarise(self.report.spans, today=self.report.generated,
                         threshold_days=self.report.stall_threshold_days)


@dataclass(frozen=True)
class LeadTimeCell:
    """One county's figures for one stage, and whether it is the quickest county there."""

    county: str
    stats: StageStatistics
    quickest: bool


@dataclass(frozen=True)
class ExperienceComparisonContext:
    """The counties side by side: lead time per stage, outcomes, shared notes by theme."""

    generated: dt.date
    counties: tuple[CountyExperience, ...]

    def __post_init__(self) -> None:
        _freeze(self, counties=tuple(self.counties))

    @property
    def lead_times(self) -> tuple[tuple[Stage, tuple[LeadTimeCell, ...]], ...]:
        """Per stage, each county's statistics; the lowest median is marked when at least
        two counties have one."""
        per_county = [(c.code, {s.stage: s for s in c.summary.stages}) for c in self.counties]
        rows = []
        for stage in STAGE_ORDER:
            stats = [(code, by_stage[stage]) for code, by_stage in per_county]
            medians = [s.median_days for _, s in stats if s.median_days is not None]
            best = min(medians) if len(medians) > 1 else None
            rows.append((stage, tuple(LeadTimeCell(code, s, best is not None
                                                   and s.median_days == best)
                                      for code, s in stats)))
        return tuple(rows)

    @property
    def notes_by_theme(self) -> tuple[tuple[Theme, tuple[ExperienceNote, ...]], ...]:
        """Every theme in fixed order with the shared notes of every county, oldest first."""
        notes = [n for c in self.counties for n in c.report.notes]
        return tuple((theme, tuple(sorted((n for n in notes if n.theme is theme),
                                          key=lambda n: (n.date, n.county or ""))))
                     for theme in Theme)

    def notes_count(self, code: str, theme: Theme) -> int:
        county = next(c for c in self.counties if c.code == code)
        return sum(1 for n in county.report.notes if n.theme is theme)
