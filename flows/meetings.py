"""Meeting-plan changes as Prefect flow runs: adding a meeting can move deadlines.

Like the case commands, each flow gets only the id of a stored command (services/inbox.py):
a meeting's title, an import file's path and the acting user stay in the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow

from avtaleflyt.services import meetings

from avtaleflyt.flows.commands import execute, run_name


def _scope(s, p: dict[str, Any]):
    """The dashboard user's county (`scope_county`), or every county (the command line)."""
    from avtaleflyt.services.scope import scope_for_code

    return scope_for_code(s, p.get("scope_county"))


def _add(s, p: dict[str, Any], ctx):
    return meetings.add_meeting(session=s, kommunenummer=p.get("kommunenummer"),
                                body=p["body"], on=date.fromisoformat(p["meeting_date"]),
                                title=p.get("title"), ctx=ctx, county=p.get("county"),
                                scope=_scope(s, p))


def _import(s, p: dict[str, Any], ctx):
    # A dashboard upload's text is in the payload (a meeting plan holds no personal data);
    # the command line's file is read from its path.
    return meetings.import_meetings(session=s, path=Path(p["path"]) if p.get("path") else None,
                                    text=p.get("plan"), name=p.get("filename"),
                                    kommunenummer=p.get("kommunenummer"), body=p.get("body"),
                                    ctx=ctx, county=p.get("county"), scope=_scope(s, p))


@flow(name="add-meeting", flow_run_name=run_name)
def add_meeting(command_id: int) -> dict[str, Any]:
    return execute(command_id, _add, advance=False)


@flow(name="import-meetings", flow_run_name=run_name)
def import_meetings(command_id: int) -> dict[str, Any]:
    return execute(command_id, _import, advance=False)


def _move(s, p: dict[str, Any], ctx):
    return meetings.move_meeting(session=s, meeting_id=int(p["meeting_id"]),
                                 on=date.fromisoformat(p["meeting_date"]), ctx=ctx)


def _cancel(s, p: dict[str, Any], ctx):
    return meetings.cancel_meeting(session=s, meeting_id=int(p["meeting_id"]), ctx=ctx)


def _saksgang(s, p: dict[str, Any], ctx):
    return meetings.set_saksgang(session=s, kommunenummer=p["kommunenummer"],
                                 bodies=p.get("bodies"), ctx=ctx)


@flow(name="move-meeting", flow_run_name="move-meeting-{command_id}")
def move_meeting(command_id: int) -> dict[str, Any]:
    return execute(command_id, _move, advance=False)


@flow(name="cancel-meeting", flow_run_name="cancel-meeting-{command_id}")
def cancel_meeting(command_id: int) -> dict[str, Any]:
    return execute(command_id, _cancel, advance=False)


@flow(name="set-saksgang", flow_run_name="set-saksgang-{command_id}")
def set_saksgang(command_id: int) -> dict[str, Any]:
    return execute(command_id, _saksgang, advance=False)
