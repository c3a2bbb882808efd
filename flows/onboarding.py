"""The pipeline: one flow per stage, and `onboarding`, which advances a case as far as its
gates allow. Each flow only calls services; running one twice changes nothing the second time.

The stage flows take no `actor` parameter: a flow run's parameters are kept in Prefect's
database and shown in its UI, and the acting user (a dashboard login name) must not be there.
`onboarding` hands the actor to its stage subflows (same process) through a context variable.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date

from prefect import flow

from avtaleflyt import runtime
from avtaleflyt.domain.stages import Stage
from avtaleflyt.services import cases, documents


_ACTOR: ContextVar[str | None] = ContextVar("avtaleflyt_stage_actor", default=None)


def _run_stage(stage: Stage, kommunenummer: str, today: date | None) -> dict:
    ctx = runtime.ctx(today, _ACTOR.get())
    with runtime.session() as s:
        result = dict(cases.run_stage(session=s, kommunenummer=kommunenummer, stage=stage,
                                      ctx=ctx).__dict__)
        result["documents"] = documents.ensure_stage_documents(
            session=s, kommunenummer=kommunenummer, ctx=ctx)
        return result


@flow(name="first-contact")
def first_contact(kommunenummer: str, today: date | None = None):
    """Førstekontakt: first meeting, needs assessment, the municipality's go-ahead."""
    return _run_stage(Stage.FIRST_CONTACT, kommunenummer, today)


@flow(name="political-approval")
def political_approval(kommunenummer: str, today: date | None = None):
    """Politisk behandling: the municipal council and the county both approve."""
    return _run_stage(Stage.POLITICAL_APPROVAL, kommunenummer, today)


@flow(name="contract-signing")
def contract_signing(kommunenummer: str, today: date | None = None):
    """Avtaleinngåelse: terms set, signed by both parties."""
    return _run_stage(Stage.CONTRACT_SIGNING, kommunenummer, today)


@flow(name="system-setup")
def system_setup(kommunenummer: str, today: date | None = None):
    """Systemoppsett: every mandatory access item done; operation starts on the start date."""
    return _run_stage(Stage.SYSTEM_SETUP, kommunenummer, today)


@flow(name="running-operation")
def running_operation(kommunenummer: str, today: date | None = None):
    """Drift: the agreement runs until its end date."""
    return _run_stage(Stage.RUNNING_OPERATION, kommunenummer, today)


STAGE_FLOWS = {
    Stage.FIRST_CONTACT: first_contact,
    Stage.POLITICAL_APPROVAL: political_approval,
    Stage.CONTRACT_SIGNING: contract_signing,
    Stage.SYSTEM_SETUP: system_setup,
    Stage.RUNNING_OPERATION: running_operation,
}


@flow(name="onboarding")
def onboarding(kommunenummer: str, today: date | None = None) -> dict:
    """Run the case's current stage; while it advances, run the next one. Who acts is the
    entry point's user (settings), never a parameter Prefect would keep."""
    return advance(kommunenummer, today, runtime.settings().user)


def advance(kommunenummer: str, today: date | None, actor: str | None) -> dict:
    """The onboarding loop's body, as the commands run it inside their own flow run: the
    stage flows it calls are that run's subflows, and the actor reaches them through a
    context variable."""
    transitions = []
    token = _ACTOR.set(actor)
    try:
        for _ in Stage:  # at most one step per stage: never loops forever
            with runtime.session() as s:
                stage = cases.current_stage(session=s, kommunenummer=kommunenummer)
            result = STAGE_FLOWS[stage](kommunenummer, today=today)
            if not result["advanced"]:
                return {**result, "transitions": transitions}
            transitions.append(result["transition"])
        return {**result, "transitions": transitions}
    finally:
        _ACTOR.reset(token)
