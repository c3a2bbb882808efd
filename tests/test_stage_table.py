"""The stage table is the one description of a stage (issue 15).

The defaults in `defaults.toml` agree with the table key by key; a table that cannot work is
refused when it is built; and a sixth stage added to the table alone runs end to end
through the services on SQLite.
"""

from __future__ import annotations

import tomllib
from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.config import DEFAULTS, load_config
from avtaleflyt.domain import machine
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.domain.forecast import forecast_running
from avtaleflyt.domain.stages import (
    PIPELINE_RULES,
    STAGE_ORDER,
    STAGE_RULES,
    TASK_TEMPLATES,
    DueBase,
    Milestone,
    Party,
    PipelineError,
    Stage,
    StageRule,
    TaskTemplate,
    use_pipeline,
    with_stage,
)
from avtaleflyt.models import Task
from avtaleflyt.services import cases, dashboard, facts, queries
from avtaleflyt.services.documents import CASE_KINDS
from avtaleflyt.services.store import get_case

from .conftest import ctx_for

KNR = "1836"


def _defaults() -> dict:
    return tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))


def test_every_due_amount_in_defaults_toml_is_the_tables_and_the_other_way_round():
    documented = _defaults()["tasks"]["due"]
    table = {k: t.due_amount for k, t in TASK_TEMPLATES.items() if t.has_amount}
    assert documented == table
    # The decisions are due on their body's meeting: they have no amount to configure.
    assert {k for k, t in TASK_TEMPLATES.items() if not t.has_amount} == {
        "political.council", "political.county"}


def test_every_norm_duration_in_defaults_toml_is_the_tables_and_the_other_way_round():
    documented = _defaults()["stages"]["norm_days"]
    table = {s.value: r.norm_days for s, r in STAGE_RULES.items() if r.norm_days is not None}
    assert documented == table
    assert STAGE_RULES[Stage.RUNNING_OPERATION].norm_days is None  # it runs, it is not late


def test_configuration_overrides_due_amounts_and_norm_durations_by_key(tmp_path):
    path = tmp_path / "avtaleflyt.toml"
    path.write_text('[tasks.due]\n"political.saksframlegg" = 20\n'
                    "[stages.norm_days]\npolitical_approval = 120\n"
                    '[county."55".stages.norm_days]\nfirst_contact = 60\n', encoding="utf-8")
    config = load_config(path)
    assert config.due_amount("political.saksframlegg") == 20
    assert config.due_amount("contract.terms") == 14  # the table's
    assert config.norm_days(Stage.POLITICAL_APPROVAL) == 120
    assert config.norm_days(Stage.CONTRACT_SIGNING) == 30
    assert config.for_county("55").norm_days(Stage.FIRST_CONTACT) == 60
    assert config.for_county("55").norm_days(Stage.POLITICAL_APPROVAL) == 120
    assert config.norm_days(Stage.RUNNING_OPERATION) is None


@pytest.mark.parametrize("text, field, words", [
    ("[stages.norm_days]\ndrift = 10\n", "stages.norm_days.drift", "Ukjent innstilling"),
    ("[stages.norm_days]\nfirst_contact = 0\n", "stages.norm_days.first_contact",
     "heltall mellom 1 og 3650"),
    ('[tasks.due]\n"political.council" = 3\n', "tasks.due.political.council",
     "Ukjent innstilling"),
])
def test_a_bad_norm_or_due_amount_is_refused_naming_the_setting(tmp_path, text, field, words):
    path = tmp_path / "avtaleflyt.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as e:
        load_config(path)
    assert e.value.field == field and words in e.value.message


def test_every_hook_and_document_the_table_names_exists():
    for rule in STAGE_RULES.values():
        assert set(rule.on_enter) | set(rule.on_resume) <= set(cases.STAGE_HOOKS)
        assert set(rule.documents) <= set(CASE_KINDS)


def test_the_obvious_row_after_running_operation_is_refused_instead_of_ending_it_at_once():
    # Before the table said which stage is terminal, a row appended after running operation
    # made its empty gate an open one: a case left running operation the day it began.
    after = StageRule(Stage.define("renewal_review"), "Fornyelse", terminal=True)
    with pytest.raises(PipelineError, match="only the last stage can be terminal"):
        with use_pipeline((*PIPELINE_RULES, after)):
            pass
    gateless = StageRule(Stage.define("renewal_review"), "Fornyelse")
    with pytest.raises(PipelineError, match="no gate"):
        with use_pipeline(with_stage(gateless, after=Stage.SYSTEM_SETUP)):
            pass
    assert len(Stage) == 5  # nothing was installed


def test_a_terminal_stage_has_no_next_transition_even_with_its_gate_empty():
    state = machine.CaseState("Rødøy", Stage.RUNNING_OPERATION, machine.CaseStatus.ACTIVE,
                              date(2026, 3, 2), date(2026, 9, 1))
    assert machine.next_transition(state, date(2026, 9, 1)) is None


# --- a sixth stage through the table alone ------------------------------------------------

TRAINING = Stage.define("training")
TRAINING_RULE = StageRule(
    TRAINING, "Opplæring",
    exit_requires=(Milestone.CHECKLIST_DONE,),
    tasks=(
        TaskTemplate("training.local_staff", "Opplæring av lokalt ansatte", Party.COUNTY,
                     DueBase.STAGE_ENTRY_WORKING, 10),
        TaskTemplate("training.routines", "Rutiner for fjernledelse avtalt", Party.MUNICIPALITY,
                     DueBase.STAGE_ENTRY, 21),
        TaskTemplate("training.photo", "Bilde til nettsiden", Party.MUNICIPALITY,
                     DueBase.STAGE_ENTRY, 30, mandatory=False),
    ),
    norm_days=21,
    description="Opplæring: local staff trained before operation starts.",
)


@pytest.fixture
def six_stages():
    with use_pipeline(with_stage(TRAINING_RULE, after=Stage.SYSTEM_SETUP)):
        yield


def test_the_forecast_counts_a_new_stage_from_the_table(six_stages):
    medians = {Stage.CONTRACT_SIGNING: 10.0, Stage.SYSTEM_SETUP: 20.0, TRAINING: 5.0}
    f = forecast_running(stage=Stage.CONTRACT_SIGNING, entered=date(2026, 1, 1),
                         today=date(2026, 1, 1), medians=medians)
    assert f.expected == date(2026, 2, 5)  # 10 + 20 + 5 days
    f = forecast_running(stage=Stage.CONTRACT_SIGNING, entered=date(2026, 1, 1),
                         today=date(2026, 1, 1), medians={**medians, TRAINING: None})
    assert (f.expected, f.missing_stage) == (None, TRAINING)


def _record(s, kind, on, **options):
    ctx = ctx_for(on)
    cases.record_fact(session=s, kommunenummer=KNR, fact=facts.build_fact(kind, on, options, ctx),
                      ctx=ctx)
    return cases.advance(session=s, kommunenummer=KNR, ctx=ctx)


def _tasks(s, stage: str) -> dict[str, Task]:
    _, case = get_case(s, KNR)
    return {t.key: t for t in s.exec(select(Task).where(Task.case_id == case.id,
                                                        Task.stage == stage)).all()}


def test_a_sixth_stage_added_to_the_table_alone_runs_end_to_end(six_stages, sqlite_url):
    assert [s.value for s in STAGE_ORDER] == [
        "first_contact", "political_approval", "contract_signing", "system_setup", "training",
        "running_operation"]
    with db.session_scope(sqlite_url) as s:
        cases.open_case(session=s, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
        _record(s, "meeting-held", date(2026, 3, 10))
        _record(s, "needs-assessed", date(2026, 3, 12))
        _record(s, "intent-confirmed", date(2026, 3, 19))
        _record(s, "council-decision", date(2026, 4, 23), outcome="approved")
        _record(s, "county-decision", date(2026, 5, 5), outcome="approved")
        _record(s, "terms-set", date(2026, 5, 11), start="2026-09-01", years="3",
                notice_months="6", price="kr 120 000", position_share="20")
        _record(s, "signed", date(2026, 5, 20), party="municipality")
        _record(s, "signed", date(2026, 5, 22), party="county")
        for t in _tasks(s, "system_setup").values():
            cases.complete_task(session=s, task_id=t.id, on=date(2026, 8, 14),
                                ctx=ctx_for(date(2026, 8, 14)))

        # The start date opens system setup's gate: the case enters the new stage, whose
        # checklist is planned from the table with its due rules (on working days).
        runs = cases.advance(session=s, kommunenummer=KNR, ctx=ctx_for(date(2026, 9, 1)))
        assert [r.transition for r in runs if r.transition] == [
            {"from": "system_setup", "to": "training", "on": "2026-09-01"}]
        training = _tasks(s, "training")
        assert {k: t.due_on for k, t in training.items()} == {
            "training.local_staff": date(2026, 9, 15),  # 10 working days
            "training.routines": date(2026, 9, 22),  # 21 days
            "training.photo": date(2026, 10, 1),  # 30 days
        }
        d = queries.case_detail(s, KNR, date(2026, 9, 1))
        assert (d["stage"], d["stage_label"]) == ("training", "Opplæring")
        board = dashboard.board(s, date(2026, 9, 1))
        assert [st.label for st in board.columns] == [
            "Førstekontakt", "Politisk behandling", "Avtaleinngåelse", "Systemoppsett",
            "Opplæring", "Drift"]
        assert [c.kommunenummer for c in board.columns[TRAINING]] == [KNR]

        # The gate is the checklist: one mandatory item left keeps the case here.
        on = date(2026, 9, 10)
        cases.complete_task(session=s, task_id=training["training.local_staff"].id, on=on,
                            ctx=ctx_for(on))
        assert not cases.advance(session=s, kommunenummer=KNR, ctx=ctx_for(on))[-1].advanced
        assert "alle obligatoriske punkter i fasen er gjort" in str(
            queries.case_detail(s, KNR, on))

        on = date(2026, 9, 17)
        cases.complete_task(session=s, task_id=training["training.routines"].id, on=on,
                            ctx=ctx_for(on))
        runs = cases.advance(session=s, kommunenummer=KNR, ctx=ctx_for(on))
        assert [r.transition for r in runs if r.transition] == [
            {"from": "training", "to": "running_operation", "on": "2026-09-17"}]
        # Entering running operation ran its entry hook from the table: the duties.
        assert any(k.startswith("duty.") for k in _tasks(s, "running_operation"))

        # The terminal stage does not end the day it begins, nor the day after.
        for on in (date(2026, 9, 17), date(2026, 9, 18)):
            last = cases.advance(session=s, kommunenummer=KNR, ctx=ctx_for(on))[-1]
            assert (last.stage, last.status, last.advanced) == (
                "running_operation", "active", False)
        _, case = get_case(s, KNR)
        assert (case.stage, case.status, case.closed_on) == ("running_operation", "active",
                                                              None)
    assert len(Stage) == 6


def test_each_row_has_its_flow_named_after_the_stage(six_stages):
    from avtaleflyt.flows.onboarding import stage_flow

    assert [stage_flow(s).name for s in STAGE_ORDER] == [
        "first-contact", "political-approval", "contract-signing", "system-setup", "training",
        "running-operation"]
    assert stage_flow(TRAINING).description == TRAINING_RULE.description
    assert stage_flow(TRAINING) is stage_flow(TRAINING)
