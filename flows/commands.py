"""One flow per command that changes a case. Each records the fact through a service, then
lets `onboarding` advance the case — so every change shows up as a flow run in Prefect.

Adding a contact person is deliberately not a flow: its parameters are personal data, and
Prefect's UI shows flow parameters to anyone who can reach it."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from avtaleflyt import runtime
from avtaleflyt.services import cases, facts, people

from avtaleflyt.flows.onboarding import onboarding


def _finish(outcome: cases.Outcome, today: date | None, actor: str | None) -> dict[str, Any]:
    result = outcome.as_dict()
    # The onboarding loop's body, not a nested flow run: the stage flows it calls are this
    # command's subflows. One flow run fewer per command (a quarter of the demo's time).
    progress = onboarding.fn(outcome.kommunenummer, today=today, actor=actor)
    result["transitions"] = progress["transitions"]
    result["stage"], result["status"] = progress["stage"], progress["status"]
    return result


@flow(name="open-case")
def open_case(kommunenummer: str, opened_on: date | None = None, today: date | None = None,
              actor: str | None = None) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        out = cases.open_case(session=s, kommunenummer=kommunenummer,
                              opened_on=opened_on or ctx.today, ctx=ctx)
    return _finish(out, ctx.today, ctx.actor)


@flow(name="record-fact")
def record_fact(kommunenummer: str, fact: str, occurred_on: date | None = None,
                options: dict[str, Any] | None = None, today: date | None = None,
                actor: str | None = None) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        fact_input = facts.build_case_fact(session=s, kommunenummer=kommunenummer, kind=fact,
                                           occurred_on=occurred_on or ctx.today,
                                           options=options or {}, ctx=ctx)
        out = cases.record_fact(session=s, kommunenummer=kommunenummer, fact=fact_input, ctx=ctx)
    return _finish(out, ctx.today, ctx.actor)


@flow(name="complete-task")
def complete_task(task_id: int, done_on: date | None = None, today: date | None = None,
                  actor: str | None = None) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        out = cases.complete_task(session=s, task_id=task_id, on=done_on or ctx.today, ctx=ctx)
    return _finish(out, ctx.today, ctx.actor)


@flow(name="change-case-status")
def change_status(kommunenummer: str, action: str, on: date | None = None,
                  reason: str | None = None, today: date | None = None,
                  actor: str | None = None) -> dict[str, Any]:
    """Put on hold, resume or withdraw a case."""
    ctx = runtime.ctx(today, actor)
    day = on or ctx.today
    with runtime.session() as s:
        if action == "hold":
            out = cases.hold(session=s, kommunenummer=kommunenummer, on=day, reason=reason,
                             ctx=ctx)
        elif action == "resume":
            out = cases.resume(session=s, kommunenummer=kommunenummer, on=day, ctx=ctx)
        elif action == "withdraw":
            out = cases.withdraw(session=s, kommunenummer=kommunenummer, on=day, reason=reason,
                                 ctx=ctx)
        else:
            raise ValueError(f"unknown action {action!r}")
    return _finish(out, ctx.today, ctx.actor)


@flow(name="add-note")
def add_note(kommunenummer: str, theme: str, text: str, noted_on: date | None = None,
             today: date | None = None, actor: str | None = None,
             shared: bool = False) -> dict[str, Any]:
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        out = people.add_note(session=s, kommunenummer=kommunenummer,
                              theme=facts.parse_theme(theme), text=text,
                              on=noted_on or ctx.today, ctx=ctx, shared=shared)
    return _finish(out, ctx.today, ctx.actor)


@flow(name="assign-task")
def assign_task(task_id: int, contact_id: int | None = None, today: date | None = None,
                actor: str | None = None) -> dict[str, Any]:
    """Only ids cross the flow boundary: the contact's name stays in the database."""
    ctx = runtime.ctx(today, actor)
    with runtime.session() as s:
        out = people.assign_task(session=s, task_id=task_id, contact_id=contact_id, ctx=ctx)
    return out.as_dict()
