"""One flow per command that changes a case. The command's input is in the application
database (`command`, see services/inbox.py); the flow gets only its id — never free text,
personal data or the acting user, which Prefect would keep and show in its UI. Each flow
loads the command, calls a service, lets `onboarding` advance the case, and stores the
result on the command row. A re-run of a command that is done returns the stored result;
one whose change is committed (`applied`) only finishes the onboarding loop.

Adding a contact person is deliberately not a flow: it is personal data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from prefect import flow

from avtaleflyt import runtime
from avtaleflyt.domain.errors import DomainError
from avtaleflyt.services import cases, facts, inbox, people
from avtaleflyt.services.context import Ctx
from avtaleflyt.services.store import get_case

from avtaleflyt.flows.onboarding import advance as advance_case


def labels(session, payload: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(county, kommunenummer, municipality name) a command is about, from its payload —
    for the flow run's name and tags. No personal data: codes and place names only."""
    from sqlmodel import col, select

    from avtaleflyt.models import County, Municipality, OnboardingCase, Task

    knr, county = payload.get("kommunenummer"), payload.get("county")
    query = (select(Municipality.kommunenummer, Municipality.name, County.code)
             .join(County, col(County.id) == Municipality.county_id))
    if knr:
        row = session.exec(query.where(Municipality.kommunenummer == knr)).first()
    elif payload.get("task_id"):
        row = session.exec(
            query.join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)
            .join(Task, col(Task.case_id) == OnboardingCase.id)
            .where(Task.id == payload["task_id"])).first()
    else:
        row = None
    if row is not None:
        return row[2], row[0], row[1]
    return county, knr, None


def action_of(payload: dict[str, Any]) -> str | None:
    """What the command does, in the words of its payload: the fact, the status action,
    the meeting body, the task's id. Never free text (notes, reasons are text ids)."""
    for key in ("fact", "action", "body", "theme"):
        if payload.get(key):
            return str(payload[key])
    if payload.get("task_id"):
        return f"oppgave {payload['task_id']}"
    return None


def describe(flow_name: str, command_id: int | None) -> str:
    """`record-fact 1836 Rødøy: council-decision #12` — the run's name in Prefect's UI, so
    a coordinator can read the list of runs. The command's id ends it (our inbox row)."""
    from avtaleflyt.models import Command

    try:
        with runtime.session() as s:
            cmd = s.get(Command, command_id) if command_id is not None else None
            if cmd is None:
                return f"{flow_name} #{command_id}"
            county, knr, name = labels(s, dict(cmd.payload))
    except Exception:  # noqa: BLE001 - a name must never fail the run; the id is enough
        return f"{flow_name} #{command_id}"
    place = f" {knr} {name}" if knr and name else (f" {knr}" if knr else
                                                   (f" fylke {county}" if county else ""))
    action = action_of(dict(cmd.payload))
    return f"{flow_name}{place}{': ' + action if action else ''} #{command_id}"


def run_name() -> str:
    from prefect.runtime import flow_run

    return describe(flow_run.flow_name, (flow_run.parameters or {}).get("command_id"))


def tags_for(command_id: int) -> list[str]:
    """Tags for a command's flow run: `fylke:18`, `kommune:1836`, `handling:council-decision`."""
    from avtaleflyt.models import Command

    with runtime.session() as s:
        cmd = s.get(Command, command_id)
        if cmd is None:
            return []
        county, knr, _ = labels(s, dict(cmd.payload))
    action = action_of(dict(cmd.payload))
    return ([f"fylke:{county}"] if county else []) + ([f"kommune:{knr}"] if knr else []) + \
        ([f"handling:{action}"] if action and not action.startswith("oppgave") else [])


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


_REFUSALS: dict[int, DomainError] = {}


def take_refusal(command_id: int) -> DomainError | None:
    """The domain's refusal of a command run in this process, if it was refused."""
    return _REFUSALS.pop(command_id, None)


def execute(command_id: int, apply: Callable[..., Any], *, advance: bool = True,
            skip_settled: bool = False) -> dict[str, Any]:
    """Run one command once: `apply(session, payload, ctx)` returns the service's outcome.
    `skip_settled`: no onboarding loop when the case's stage is settled afterwards
    (`cases.stage_settled`: its stage run would change nothing), so no stage flow run."""
    with runtime.session() as s:
        cmd = inbox.load(s, command_id)
        if cmd.status == inbox.DONE:
            return cmd.result
        payload, actor = dict(cmd.payload), cmd.actor
        ctx = runtime.ctx(_day(payload.get("today")), actor)
        if cmd.status in (inbox.PENDING, inbox.REFUSED):
            # Staged on the service's own session: its single commit carries this too.
            cmd.status = inbox.APPLIED
            s.add(cmd)
            try:
                out = apply(s, payload, ctx)
            except DomainError as e:
                s.rollback()
                inbox.mark_refused(s, command_id, e)
                # The refusal quotes what the user typed (a name in a meeting plan, a note):
                # it must not become the flow run's failure message, log or stored
                # exception in Prefect. The run completes as "refused"; the command that
                # started it in this process takes the refusal (`take_refusal`) and shows it.
                _REFUSALS[command_id] = e
                return {"refused": True}
            partial = out if isinstance(out, dict) else out.as_dict()
            inbox.mark_applied(s, inbox.load(s, command_id), partial)
        else:
            partial = dict(cmd.result or {})
        knr = partial.get("kommunenummer")
        settled: dict[str, Any] | None = None
        if advance and skip_settled and knr and cases.stage_settled(
                session=s, kommunenummer=knr, ctx=ctx):
            # What the loop would answer: no transition, the case where it is.
            case = get_case(s, knr)[1]
            settled = {"transitions": [], "stage": case.stage, "status": case.status}
    result = dict(partial)
    if settled is not None:
        result.update(settled)
    elif advance and partial.get("kommunenummer"):
        # The onboarding loop's body, not a nested flow run: the stage flows it calls are
        # this command's subflows. One flow run fewer per command.
        progress = advance_case(partial["kommunenummer"], today=ctx.today, actor=actor)
        result["transitions"] = progress["transitions"]
        result["stage"], result["status"] = progress["stage"], progress["status"]
    with runtime.session() as s:
        inbox.mark_done(s, command_id, result)
    return result


def _open(s, p: dict[str, Any], ctx: Ctx):
    return cases.open_case(session=s, kommunenummer=p["kommunenummer"],
                           opened_on=_day(p.get("opened_on")) or ctx.today, ctx=ctx)


def _record(s, p: dict[str, Any], ctx: Ctx):
    fact_input = facts.build_case_fact(session=s, kommunenummer=p["kommunenummer"],
                                       kind=p["fact"],
                                       occurred_on=_day(p.get("occurred_on")) or ctx.today,
                                       options=p.get("options") or {}, ctx=ctx)
    return cases.record_fact(session=s, kommunenummer=p["kommunenummer"], fact=fact_input,
                             ctx=ctx, situation_text_id=p.get("situation_text_id"))


def _complete(s, p: dict[str, Any], ctx: Ctx):
    return cases.complete_task(session=s, task_id=p["task_id"],
                               on=_day(p.get("done_on")) or ctx.today, ctx=ctx)


def _status(s, p: dict[str, Any], ctx: Ctx):
    from avtaleflyt.domain.kinds import StatusAction

    knr, day = p["kommunenummer"], _day(p.get("on")) or ctx.today
    match StatusAction.parse(p["action"]):
        case StatusAction.HOLD:
            return cases.hold(session=s, kommunenummer=knr, on=day, ctx=ctx,
                              reason_text_id=p.get("reason_text_id"))
        case StatusAction.RESUME:
            return cases.resume(session=s, kommunenummer=knr, on=day, ctx=ctx)
        case StatusAction.WITHDRAW:
            return cases.withdraw(session=s, kommunenummer=knr, on=day, ctx=ctx,
                                  reason_text_id=p.get("reason_text_id"))


def _note(s, p: dict[str, Any], ctx: Ctx):
    return people.add_note(session=s, kommunenummer=p["kommunenummer"],
                           theme=facts.parse_theme(p["theme"]), text_id=p["text_id"],
                           on=_day(p.get("noted_on")) or ctx.today, ctx=ctx,
                           shared=bool(p.get("shared")))


def _assign(s, p: dict[str, Any], ctx: Ctx):
    return people.assign_task(session=s, task_id=p["task_id"], contact_id=p.get("contact_id"),
                              user=p.get("username"), ctx=ctx)


@flow(name="open-case", flow_run_name=run_name)
def open_case(command_id: int) -> dict[str, Any]:
    return execute(command_id, _open)


@flow(name="record-fact", flow_run_name=run_name)
def record_fact(command_id: int) -> dict[str, Any]:
    return execute(command_id, _record)


@flow(name="complete-task", flow_run_name=run_name)
def complete_task(command_id: int) -> dict[str, Any]:
    return execute(command_id, _complete, skip_settled=True)


@flow(name="change-case-status", flow_run_name=run_name)
def change_status(command_id: int) -> dict[str, Any]:
    """Put on hold, resume or withdraw a case."""
    return execute(command_id, _status)


@flow(name="add-note", flow_run_name=run_name)
def add_note(command_id: int) -> dict[str, Any]:
    return execute(command_id, _note)


@flow(name="assign-task", flow_run_name=run_name)
def assign_task(command_id: int) -> dict[str, Any]:
    return execute(command_id, _assign, advance=False)


def _split(s, p: dict[str, Any], ctx: Ctx):
    from avtaleflyt.services import split

    return split.change_split(session=s, kommunenummer=p["kommunenummer"],
                              action=p["action"], row=p.get("row"), task=p.get("task"),
                              responsible=p.get("responsible"), ctx=ctx)


@flow(name="change-split", flow_run_name="change-split-{command_id}")
def change_split(command_id: int) -> dict[str, Any]:
    """Change one row of a case's responsibility split (grenseoppgang)."""
    return execute(command_id, _split, advance=False)
