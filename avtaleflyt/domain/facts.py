"""The facts a coordinator records, described once.

`FACTS` says, per fact: the stage it belongs to, its fields (type, whether required, the
values allowed), how the command line spells it, its Norwegian label in plain words and
the Norwegian words a user may type for it, and how the confirmation reads. The command
line (`case record`), the dashboard's fact form, the services that build a fact from what
was typed, and the history read this table; adding a fact is adding a row here plus the
rule in `machine.record_fact` (see docs/architecture.md, "How to add a fact").

Values are stored by their English keys (`approved`, `municipality`); users may type the
Norwegian words (`vedtatt`, `kommunen`), and scripts the keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidInput, ref
from .stages import CaseStatus, Party, Stage, Theme


def _norm(text: str) -> str:
    """What a user typed, compared without case and with spaces, hyphens and underscores
    alike: «Systemtekniske løsninger» = systemtekniske-løsninger."""
    return re.sub(r"[\s_\-]+", "_", text.strip().lower())


class FactKind(StrEnum):
    """The facts a coordinator records. CLI spelling uses hyphens (`meeting-held`)."""

    MEETING_HELD = "meeting_held"
    NEEDS_ASSESSED = "needs_assessed"
    INTENT_CONFIRMED = "intent_confirmed"
    COUNCIL_DECISION = "council_decision"
    COUNTY_DECISION = "county_decision"
    TERMS_SET = "terms_set"
    SIGNED = "signed"
    NOTICE_GIVEN = "notice_given"

    @property
    def cli_name(self) -> str:
        return self.value.replace("_", "-")

    @property
    def spec(self) -> FactSpec:
        return FACTS[self]

    @property
    def label(self) -> str:
        """In plain words: «Kommunestyret har behandlet saken»."""
        return FACTS[self].label


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTPONED = "postponed"

    @property
    def label(self) -> str:
        return OUTCOME_VALUES.word(self.value)


# --- values a field allows ------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    key: str                 # what is stored, and what scripts may type
    word: str                # the Norwegian word a user types and help lists: «vedtatt»
    label: str               # how a form shows it: «Vedtatt»
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Values:
    """The values one field allows, in Norwegian first."""

    field: str
    items: tuple[Value, ...]

    def parse(self, raw: object, field: str | None = None) -> str:
        """The stored key for what a user typed (Norwegian word, alias, label or key);
        anything else is refused with the accepted words, naming `field` (default: the
        field these values belong to)."""
        field = field or self.field
        typed = _norm(str(raw))
        for v in self.items:
            if typed in {_norm(v.key), _norm(v.word), _norm(v.label),
                         *(_norm(a) for a in v.aliases)}:
                return v.key
        raise InvalidInput(f"{ref(field)}: «{raw}» er ikke et gyldig valg. Velg en av: "
                           f"{self.words()}.", field=field)

    def word(self, key: str) -> str:
        return next(v.word for v in self.items if v.key == key)

    def words(self, sep: str = ", ") -> str:
        return sep.join(v.word for v in self.items)

    def either(self) -> str:
        """«vedtatt, avslått eller utsatt»."""
        words = [v.word for v in self.items]
        return ", ".join(words[:-1]) + " eller " + words[-1] if len(words) > 1 else words[0]


OUTCOME_VALUES = Values("outcome", (
    Value("approved", "vedtatt", "Vedtatt", ("godkjent",)),
    Value("rejected", "avslått", "Avslått", ("avslatt", "avvist")),
    Value("postponed", "utsatt", "Utsatt"),
))
PARTY_VALUES = Values("party", (
    Value("municipality", "kommunen", "Kommunen", ("kommune",)),
    Value("county", "fylkeskommunen", "Fylkeskommunen", ("fylkeskommune", "fylket")),
))
RENEWAL_VALUES = Values("renewal", (
    Value("none", "fast", "Fast periode: avtalen går ut", ("fast periode", "ingen")),
    Value("auto", "automatisk", "Fornyes automatisk om den ikke sies opp",
          ("fornyes", "fornyes automatisk")),
))
THEME_VALUES = Values("theme", tuple(
    Value(t.value, t.label.lower(), t.label,
          {"technical_systems": ("systemteknisk", "systemer")}.get(t.value, ()))
    for t in Theme))


# --- fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FactField:
    """One field of a fact. `name` is its id everywhere: the option's key, the form
    field's name, and what an error's `field` says."""

    name: str
    label: str                   # above the form field
    type: str                    # choice, date, int, amount, percent, text, longtext
    required: bool = False
    values: Values | None = None
    hint: str = ""               # under the form field, and in --help
    cli: str = ""                # the option, when not `--name` with hyphens

    @property
    def option(self) -> str:
        return self.cli or "--" + self.name.replace("_", "-")


def _f(name, label, type_, **kw) -> FactField:
    return FactField(name, label, type_, **kw)


REFERENCE = _f("reference", "Saksnummer", "text", cli="--ref",
               hint="Saksnummer eller referanse, f.eks. PS 21/20.")
OUTCOME = _f("outcome", "Utfall", "choice", required=True, values=OUTCOME_VALUES)
PARTY = _f("party", "Part", "choice", required=True, values=PARTY_VALUES)
SITUATION = _f("situation", "Situasjonen i kommunen (kommer i saksframlegget)", "longtext",
               hint="Kan sladdes senere som et notat.")
TERMS_FIELDS = (
    _f("start", "Startdato", "date", required=True, hint="Avtalens første dag."),
    _f("years", "Varighet (år)", "int", hint="Kreves om ikke måneder er oppgitt."),
    _f("months", "Varighet (måneder)", "int",
       hint="Alene for en pilot (4), eller i tillegg til år."),
    _f("renewal", "Ved sluttdato", "choice", values=RENEWAL_VALUES,
       hint="Tom: standard fra konfigurasjonen."),
    _f("notice_months", "Oppsigelsestid (måneder)", "int", required=True),
    _f("price", "Pris per år (kr)", "amount", hint="Tom: standardpris."),
    _f("position_share", "Stillingsandel (%)", "percent", hint="Tom: standard."),
    _f("site_visits", "Besøk per år", "int", hint="Tom: standard."),
)


# --- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class FactSpec:
    kind: FactKind
    stage: Stage
    label: str                  # in plain words, for forms, messages and confirmations
    history: str                # a short noun phrase, for the case's history and documents
    aliases: tuple[str, ...]    # Norwegian spellings accepted besides `kind.cli_name`
    fields: tuple[FactField, ...]
    done: str                   # the confirmation: what is now true, «{municipality}» filled in

    @property
    def cli_name(self) -> str:
        return self.kind.cli_name

    def field(self, name: str) -> FactField | None:
        return next((f for f in self.fields if f.name == name), None)


K = FactKind
FACTS: dict[FactKind, FactSpec] = {s.kind: s for s in (
    FactSpec(K.MEETING_HELD, Stage.FIRST_CONTACT, "Første møte med kommunen er holdt",
             "Første møte holdt", ("møte-holdt", "første-møte"), (REFERENCE,),
             "Første møte med {municipality} er registrert som holdt."),
    FactSpec(K.NEEDS_ASSESSED, Stage.FIRST_CONTACT, "Kommunens behov er kartlagt",
             "Behov kartlagt", ("behov-kartlagt",), (SITUATION, REFERENCE),
             "Behovet til {municipality} er registrert som kartlagt."),
    FactSpec(K.INTENT_CONFIRMED, Stage.FIRST_CONTACT, "Kommunen bekrefter at den vil gå videre",
             "Kommunen bekrefter at den vil gå videre", ("vil-videre", "bekreftet"),
             (REFERENCE,), "Registrert at {municipality} vil gå videre."),
    FactSpec(K.COUNCIL_DECISION, Stage.POLITICAL_APPROVAL, "Kommunestyret har behandlet saken",
             "Vedtak i kommunestyret", ("kommunestyrevedtak", "vedtak-kommunestyret"),
             (OUTCOME, REFERENCE),
             "Kommunestyrets vedtak i {municipality} er registrert: {outcome}."),
    FactSpec(K.COUNTY_DECISION, Stage.POLITICAL_APPROVAL,
             "Fylkeskommunen har behandlet saken", "Vedtak i fylkeskommunen",
             ("fylkesvedtak", "vedtak-fylkeskommunen"), (OUTCOME, REFERENCE),
             "Fylkeskommunens vedtak om {municipality} er registrert: {outcome}."),
    FactSpec(K.TERMS_SET, Stage.CONTRACT_SIGNING, "Avtalevilkårene er fastsatt",
             "Avtalevilkår fastsatt", ("vilkår-fastsatt", "vilkår"), TERMS_FIELDS,
             "Avtalevilkårene for {municipality} er registrert."),
    FactSpec(K.SIGNED, Stage.CONTRACT_SIGNING, "Avtalen er signert", "Avtalen signert",
             ("signert",), (PARTY,),
             "Avtalen med {municipality} er registrert som signert av {party}."),
    FactSpec(K.NOTICE_GIVEN, Stage.RUNNING_OPERATION, "Avtalen er sagt opp",
             "Avtalen er sagt opp", ("sagt-opp", "oppsigelse"), (PARTY,),
             "Oppsigelsen av avtalen med {municipality} er registrert."),
)}
del K

# Every field of every fact, by id (one id means the same field in every fact).
FACT_FIELDS: dict[str, FactField] = {f.name: f for s in FACTS.values() for f in s.fields}

# For the readers of the history: a short label per fact.
FACT_LABELS: dict[FactKind, str] = {k: s.history for k, s in FACTS.items()}


def parse_fact_kind(value: str) -> FactKind:
    """A fact as a user names it: its key (`council-decision`), a Norwegian alias
    (`kommunestyrevedtak`) or its label."""
    typed = _norm(value)
    for spec in FACTS.values():
        if typed in {_norm(spec.kind.value), _norm(spec.label), _norm(spec.history),
                     *(_norm(a) for a in spec.aliases)}:
            return spec.kind
    allowed = ", ".join(s.cli_name for s in FACTS.values())
    raise InvalidInput(f"Ukjent hendelse «{value}». Velg en av: {allowed}.", field="fact")


def facts_possible(stage: Stage, status: CaseStatus) -> list[FactSpec]:
    """The facts that can be recorded in a case now: those of its current stage while it
    is active; none when it is on hold or closed."""
    if status is not CaseStatus.ACTIVE:
        return []
    return [s for s in FACTS.values() if s.stage is stage]


def _done(spec: FactSpec, recorded: list[tuple[str, dict]]) -> bool:
    """Whether the fact has already done its part in the stage."""
    mine = [d for k, d in recorded if k == spec.kind.value]
    if spec.field("outcome") is not None:
        return any(d.get("outcome") == Outcome.APPROVED.value for d in mine)
    if spec.kind is FactKind.SIGNED:
        return {d.get("party") for d in mine} >= {p.value for p in Party}
    return bool(mine)


def likely_next(possible: list[FactSpec], recorded: list[tuple[str, dict]]) -> FactSpec | None:
    """The fact a coordinator most likely records next: the first of the stage's facts
    that has not yet done its part (`recorded`: the case's events as (kind, details))."""
    return next((s for s in possible if not _done(s, recorded)),
                possible[0] if possible else None)


def form_fields(possible: list[FactSpec]) -> list[tuple[FactField, list[FactSpec]]]:
    """The form fields the possible facts need, each once, with the facts that use it."""
    out: dict[str, tuple[FactField, list[FactSpec]]] = {}
    for spec in possible:
        for f in spec.fields:
            out.setdefault(f.name, (f, []))[1].append(spec)
    return list(out.values())


def confirmation(kind: FactKind, municipality: str, details: dict) -> str:
    """«Kommunestyrets vedtak i Rødøy er registrert: vedtatt.»"""
    outcome = details.get("outcome")
    party = details.get("party")
    return FACTS[kind].done.format(
        municipality=municipality,
        outcome=OUTCOME_VALUES.word(outcome) if outcome else "",
        party=PARTY_VALUES.word(party) if party else "")


__all__ = ["FACTS", "FACT_FIELDS", "FACT_LABELS", "FactField", "FactKind",
           "FactSpec", "Outcome", "Party", "Values", "confirmation", "facts_possible",
           "form_fields", "likely_next", "parse_fact_kind"]
