"""The table of facts (`domain/facts.py`) and the kinds stored as strings (`domain/kinds.py`):
what a user may type, what the case page offers, and how each front end words a refusal.
Plain Python, no database."""

from __future__ import annotations

from datetime import date

import pytest

from avtaleflyt.cli.output import cli_message, exit_code
from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from avtaleflyt.domain.facts import (
    FACTS,
    OUTCOME_VALUES,
    FactKind,
    Outcome,
    facts_possible,
    likely_next,
    parse_fact_kind,
)
from avtaleflyt.domain.kinds import (
    EventKind,
    ReminderKind,
    StatusAction,
    TaskFamily,
    task_family,
)
from avtaleflyt.domain.stages import CaseStatus, Party, Stage, Theme
from avtaleflyt.formatting import parse_date
from avtaleflyt.prefect_faults import PrefectUnavailable
from avtaleflyt.services.facts import build_fact, parse_theme

from .conftest import ctx_for

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("typed, key", [
    ("vedtatt", Outcome.APPROVED), ("Avslått", Outcome.REJECTED), ("utsatt", Outcome.POSTPONED),
    ("approved", Outcome.APPROVED),  # scripts keep the English keys
])
def test_a_decision_takes_norwegian_words_and_the_english_keys(typed, key):
    fact = build_fact("council-decision", TODAY, {"outcome": typed}, ctx_for(TODAY))
    assert fact.outcome is key and fact.kind is FactKind.COUNCIL_DECISION


def test_parties_renewal_themes_and_facts_in_norwegian():
    ctx = ctx_for(TODAY)
    assert build_fact("signert", TODAY, {"party": "kommunen"}, ctx).party is Party.MUNICIPALITY
    assert build_fact("signed", TODAY, {"party": "fylkeskommunen"}, ctx).party is Party.COUNTY
    terms = build_fact("vilkår-fastsatt", TODAY, {"start": "2026-09-01", "years": "2",
                                                 "notice_months": "6",
                                                 "renewal": "automatisk"}, ctx).terms
    assert terms is not None and terms.renewal == "auto"
    assert parse_theme("Systemtekniske løsninger") is Theme.TECHNICAL_SYSTEMS
    assert parse_theme("engasjement") is Theme.ENGAGEMENT
    assert parse_fact_kind("kommunestyrevedtak") is FactKind.COUNCIL_DECISION


def test_a_bad_value_names_the_field_and_lists_the_norwegian_values():
    with pytest.raises(InvalidInput) as caught:
        build_fact("council-decision", TODAY, {"outcome": "kanskje"}, ctx_for(TODAY))
    e = caught.value
    assert e.field == "outcome"
    assert cli_message(e) == ("«--outcome»: «kanskje» er ikke et gyldig valg. Velg en av: "
                              "vedtatt, avslått, utsatt.")
    assert e.message.startswith("«Utfall»: «kanskje»")  # the dashboard's wording
    assert exit_code(e) == 2


def test_a_missing_field_is_named_by_each_front_end():
    with pytest.raises(InvalidInput) as caught:
        build_fact("signed", TODAY, {}, ctx_for(TODAY))
    assert cli_message(caught.value) == "«Avtalen er signert» krever «--party»."
    assert caught.value.message == "«Avtalen er signert» krever «Part»."
    with pytest.raises(InvalidInput) as caught:
        build_fact("meeting-held", TODAY, {"outcome": "vedtatt"}, ctx_for(TODAY))
    assert "«--outcome» hører ikke til" in cli_message(caught.value)
    with pytest.raises(InvalidInput) as caught:
        parse_date("32.01.2026", "--date")
    assert "«--date»" in cli_message(caught.value) and "«Dato»" in caught.value.message


def test_exit_codes_follow_the_class_of_refusal():
    assert exit_code(InvalidInput("x")) == 2
    assert exit_code(Conflict("x")) == 1 and exit_code(NotFound("x")) == 1
    assert exit_code(DomainError("x")) == 1
    assert exit_code(PrefectUnavailable("x")) == 3


def test_the_form_offers_only_what_can_happen_now():
    kinds = lambda stage, status=CaseStatus.ACTIVE: [  # noqa: E731
        s.kind for s in facts_possible(stage, status)]
    assert kinds(Stage.FIRST_CONTACT) == [FactKind.MEETING_HELD, FactKind.NEEDS_ASSESSED,
                                          FactKind.INTENT_CONFIRMED]
    assert kinds(Stage.SYSTEM_SETUP) == []
    assert kinds(Stage.RUNNING_OPERATION) == [FactKind.NOTICE_GIVEN]
    assert kinds(Stage.POLITICAL_APPROVAL, CaseStatus.ON_HOLD) == []
    for closed in (CaseStatus.REJECTED, CaseStatus.WITHDRAWN, CaseStatus.COMPLETED):
        assert kinds(Stage.POLITICAL_APPROVAL, closed) == []


def test_the_likely_next_fact_is_the_first_not_yet_done():
    first = facts_possible(Stage.FIRST_CONTACT, CaseStatus.ACTIVE)
    assert likely_next(first, []).kind is FactKind.MEETING_HELD
    assert likely_next(first, [("meeting_held", {})]).kind is FactKind.NEEDS_ASSESSED
    political = facts_possible(Stage.POLITICAL_APPROVAL, CaseStatus.ACTIVE)
    postponed = [("council_decision", {"outcome": "postponed"})]
    assert likely_next(political, postponed).kind is FactKind.COUNCIL_DECISION
    approved = [("council_decision", {"outcome": "approved"})]
    assert likely_next(political, approved).kind is FactKind.COUNTY_DECISION
    contract = facts_possible(Stage.CONTRACT_SIGNING, CaseStatus.ACTIVE)
    signed_once = [("terms_set", {}), ("signed", {"party": "municipality"})]
    assert likely_next(contract, signed_once).kind is FactKind.SIGNED


def test_every_fact_has_a_plain_label_and_a_norwegian_alias():
    for spec in FACTS.values():
        assert spec.aliases and "faktum" not in spec.label.lower()
        assert parse_fact_kind(spec.aliases[0]) is spec.kind
        assert parse_fact_kind(spec.cli_name) is spec.kind
    assert FactKind.COUNCIL_DECISION.label == "Kommunestyret har behandlet saken"
    assert OUTCOME_VALUES.either() == "vedtatt, avslått eller utsatt"


def test_an_unknown_status_action_is_refused():
    assert StatusAction.parse("hold") is StatusAction.HOLD
    with pytest.raises(InvalidInput) as caught:
        StatusAction.parse("pause")
    assert caught.value.field == "action" and "hold, resume, withdraw" in caught.value.message


def test_kinds_keep_the_stored_strings():
    # Stored rows still read: the enums equal the strings written before they existed.
    assert EventKind.STAGE_ENTERED == "stage_entered"
    assert EventKind("case_on_hold") is EventKind.CASE_ON_HOLD
    assert ReminderKind("no_plan") is ReminderKind.NO_PLAN
    assert [k.value for k in ReminderKind][:2] == ["escalation", "overdue"]  # most urgent


@pytest.mark.parametrize("key, family", [
    ("political.council", TaskFamily.CHECKLIST),
    ("setup.first_visit", TaskFamily.CHECKLIST),  # a visit, but not a recurring duty
    ("duty.visit.2027-1", TaskFamily.DUTY_VISIT),
    ("duty.renewal.2029-12-31", TaskFamily.DUTY_RENEWAL),
    ("duty.followup.2027-02", TaskFamily.DUTY),
])
def test_a_task_key_says_what_the_task_is(key, family):
    assert task_family(key) is family


def test_the_preflight_refuses_an_unknown_status_action(db_url):
    from avtaleflyt import db
    from avtaleflyt.services import cases, preflight

    with db.session_scope(db_url) as s:
        cases.open_case(session=s, kommunenummer="1836", opened_on=date(2026, 3, 2),
                        ctx=ctx_for(TODAY))
        with pytest.raises(InvalidInput) as caught:
            preflight.check_status_change(session=s, kommunenummer="1836", action="pause",
                                          on=TODAY, ctx=ctx_for(TODAY))
        assert "«--action»: «pause»" in cli_message(caught.value)
        # The known actions still run the domain's checks.
        with pytest.raises(Conflict):
            preflight.check_status_change(session=s, kommunenummer="1836", action="resume",
                                          on=TODAY, ctx=ctx_for(TODAY))


def test_the_how_to_add_a_fact_example_is_what_the_code_takes(monkeypatch):
    """docs/architecture.md's example row, evaluated against the real table: the CLI's
    parser, the case page's choice of facts and the confirmation take it as it is. (The new
    enum member is stood in for by an existing one: an enum cannot grow at run time.)"""
    import re
    from pathlib import Path
    from types import SimpleNamespace

    from avtaleflyt.domain import facts as facts_module

    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    section = doc.split("## How to add a fact", 1)[1]
    row = re.search(r"^    (FactSpec\(K\.IT_INVOLVED.*?\)),\n\)\}", section, re.S | re.M).group(1)
    names = {**vars(facts_module), "K": SimpleNamespace(IT_INVOLVED=FactKind.INTENT_CONFIRMED)}
    spec = eval(row, names)  # noqa: S307 (our own documentation)
    monkeypatch.setitem(facts_module.FACTS, FactKind.INTENT_CONFIRMED, spec)
    offered = facts_possible(Stage.SYSTEM_SETUP, CaseStatus.ACTIVE)
    assert [s.label for s in offered] == ["IT-avdelingen i kommunen er involvert"]
    assert parse_fact_kind("it-involvert") is FactKind.INTENT_CONFIRMED
    assert facts_module.confirmation(FactKind.INTENT_CONFIRMED, "Rødøy", {}) == \
        "Registrert at IT-avdelingen i Rødøy er involvert."
    assert "it-involved" in doc and "IT_INVOLVED = \"it_involved\"" in doc
