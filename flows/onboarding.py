"""The pipeline: one flow per stage of the stage table, and `onboarding`, which advances a
case as far as its gates allow. Each flow only calls services; running one twice changes
nothing the second time.

The stage flows take no `actor` parameter: a flow run's parameters are kept in Prefect's
database and shown in its UI, and the acting user (a dashboard login name) must not be there.
`onboarding` hands the actor to its stage subflows (same process) through a context variable.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import fields
from datetime import date

from prefect import Flow, flow

from avtaleflyt import runtime
from avtaleflyt.domain.stages import STAGE_RULES, Stage
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


_STAGE_FLOWS: dict[Stage, Flow] = {}


def stage_flow(stage: Stage) -> Flow:
    """The flow of one stage, named after its key (`first-contact`, …) and described by
    its row in the stage table; made once per stage, so a new row gets its flow too."""
    found = _STAGE_FLOWS.get(stage)
    if found is None:
        def run(kommunenummer: str, today: date | None = None) -> dict:
            return _run_stage(stage, kommunenummer, today)

        run.__name__ = run.__qualname__ = stage.value
        found = _STAGE_FLOWS[stage] = flow(run, name=stage.value.replace("_", "-"),
                                           description=STAGE_RULES[stage].description)
    return found


@flow(name="onboarding")
def onboarding(kommunenummer: str, today: date | None = None) -> dict:
    """Run the case's current stage; while it advances, run the next one. Who acts is the
    entry point's user (settings), never a parameter Prefect would keep."""
    return advance(kommunenummer, today, runtime.settings().user)


def advance(kommunenummer: str, today: date | None, actor: str | None) -> dict:
    """The onboarding loop (`cases.advance`) with each stage run as its stage's flow, as the
    commands run it inside their own flow run: the stage flows are that run's subflows, and
    the actor reaches them through a context variable."""
    results: list[dict] = []

    def run(stage: Stage) -> cases.StageRun:
        result = stage_flow(stage)(kommunenummer, today=today)
        results.append(result)
        return cases.StageRun(**{k: result[k] for k in _STAGE_RUN_FIELDS})

    token = _ACTOR.set(actor)
    try:
        with runtime.session() as s:
            cases.advance(session=s, kommunenummer=kommunenummer,
                          ctx=runtime.ctx(today, actor), run=run)
    finally:
        _ACTOR.reset(token)
    transitions = [r["transition"] for r in results if r["advanced"]]
    return {**results[-1], "transitions": transitions}


_STAGE_RUN_FIELDS = tuple(f.name for f in fields(cases.StageRun))
