"""Printing for the CLI: Rich tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any

from rich.console import Console

from avtaleflyt.domain.errors import DomainError, InvalidInput
from avtaleflyt.domain.stages import CaseStatus, Stage

console = Console()
err = Console(stderr=True)

# The idempotency key of this invocation's command (`--idempotency-key`, else a new one).
_command_key: ContextVar[str | None] = ContextVar("avtaleflyt_command_key", default=None)


def set_command_key(key: str | None) -> None:
    if key is not None:
        from avtaleflyt.services.inbox import check_key

        key = check_key(key)
    _command_key.set(key)


def command_key() -> str:
    """One key per invocation: a retried invocation given the same `--idempotency-key`
    returns the first result and records nothing twice."""
    key = _command_key.get()
    if key is None:
        import uuid

        key = uuid.uuid4().hex
        _command_key.set(key)
    return key

STATUS_STYLE = {
    "active": "green", "on_hold": "yellow", "withdrawn": "dim", "rejected": "red",
    "completed": "blue",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> Any:
    """Print the refusal on stderr; returns the `typer.Exit` to raise."""
    import typer

    err.print(f"[bold red]Feil:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


# Exit codes by the kind of refusal: 2 for input that is malformed, 1 for a request the
# state refuses (unknown case, conflict). An error class may set its own `exit_code`
# (PrefectUnavailable: 3).
EXIT_CODES: tuple[tuple[type[DomainError], int], ...] = ((InvalidInput, 2), (DomainError, 1))

# Fields whose option is not `--` + the id with hyphens.
_OPTIONS = {"reference": "--ref", "text_id": "TEXT_ID", "row": "ROW", "task_id": "TASK_ID",
            "kommunenummer": "KNR", "fact": "FAKTUM"}


def option_name(field: str) -> str:
    """How the command line names a field: `outcome` → --outcome."""
    from avtaleflyt.domain.facts import FACT_FIELDS

    spec = FACT_FIELDS.get(field)
    if spec is not None:
        return spec.option
    return _OPTIONS.get(field) or "--" + field.replace("_", "-")


def exit_code(e: DomainError) -> int:
    own = getattr(e, "exit_code", None)
    if own:
        return own
    return next(code for cls, code in EXIT_CODES if isinstance(e, cls))


def cli_message(e: DomainError) -> str:
    """The refusal as the command line words it: fields by their options."""
    return e.worded(option_name)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn refusals into a message and a non-zero exit, never a traceback."""
    try:
        yield
    except DomainError as e:
        raise fail(_escape(cli_message(e)), exit_code(e)) from None
    except Exception as e:
        _other_error(e)
        raise


def _other_error(e: Exception) -> None:
    """A settings, database or disk problem as a message; anything else is left alone.
    pydantic and SQLAlchemy are looked at only if they are loaded (an exception of theirs
    means they are): the client's commands load neither."""
    pydantic = sys.modules.get("pydantic")
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if pydantic is not None and isinstance(e, pydantic.ValidationError):
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise fail(_escape(msg if "AVTALEFLYT_" in msg or "--db" in msg
                           else f"Ugyldig innstilling «{where}»: {msg}"), 2) from None
    if sa_exc is not None and isinstance(e, (sa_exc.OperationalError, sa_exc.ProgrammingError)):
        text = str(e.orig)
        if "no such table" in text or "does not exist" in text:
            raise fail("Databasen er ikke klargjort. Kjør «avtaleflyt init» først.") from None
        raise fail(_escape(f"Databasefeil: {text.splitlines()[0]}")) from None
    if isinstance(e, OSError):
        # A full disk or a read-only file system while writing a document or report: the
        # files are written to a temporary name first, so nothing half-written is left.
        from avtaleflyt.services.documents import disk_problem

        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        raise fail(_escape(f"Kunne ikke skrive{where}: {disk_problem(e)}. Ingenting ble "
                           "lagret; frigjør plass eller rett tilgangen, og prøv igjen.")) from None


def _escape(s: str) -> str:
    from rich.markup import escape

    return escape(s)


def stage_label(key: str | None) -> str:
    return Stage(key).label if key else "–"


def status_label(key: str | None) -> str:
    if not key:
        return "–"
    return f"[{STATUS_STYLE.get(key, '')}]{CaseStatus(key).label}[/]"


def fmt_iso(value: str | None) -> str:
    if not value:
        return "–"
    from avtaleflyt.formatting import format_date_short

    return format_date_short(date.fromisoformat(value))


def progress_bar(stage: str, status: str) -> str:
    """Five blocks, one per stage: filled up to the current one."""
    i = Stage(stage).index
    colour = STATUS_STYLE.get(status, "")
    return f"[{colour}]{'■' * (i + 1)}[/][dim]{'□' * (len(Stage) - i - 1)}[/]"


def status_table(rows: list[dict[str, Any]], today: date, title: str | None = None) -> Any:
    from rich.table import Table

    from avtaleflyt.formatting import format_date

    t = Table(title=title or f"Status per {format_date(today)}", title_justify="left")
    t.add_column("Knr", style="bold", no_wrap=True)
    t.add_column("Kommune")
    t.add_column("Fase")
    t.add_column("", no_wrap=True)
    t.add_column("Status", no_wrap=True)
    t.add_column("Neste frist", no_wrap=True)
    t.add_column("Forfalt", justify="right")
    with_county = several_counties(rows)
    county = None
    for r in rows:
        if with_county and r["county_code"] != county:
            # Rows come sorted by kommunenummer, whose first two digits are the county's.
            if county is not None:
                t.add_section()
            county = r["county_code"]
            name = r["county"].removesuffix(" fylkeskommune")  # narrow: "Troms"
            t.add_row(county, f"[bold]{_escape(name)}[/]")
        overdue = r["overdue_tasks"]
        t.add_row(r["kommunenummer"], r["municipality"], stage_label(r["stage"]),
                  progress_bar(r["stage"], r["status"]), status_label(r["status"]),
                  fmt_iso(r["next_deadline"]), f"[red]{overdue}[/]" if overdue else "0")
    return t


def several_counties(rows: list[dict[str, Any]]) -> bool:
    """Whether rows come from more than one county (then each row names its county)."""
    return len({r.get("county_code") for r in rows}) > 1



def outcome(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    console.print(_escape(result["message"]), highlight=False)
    for warning in result.get("warnings") or []:
        console.print(f"[yellow]Advarsel:[/] {_escape(warning)}", highlight=False)
    for tr in result.get("transitions", []):
        console.print(f"  → Ny fase: [bold]{stage_label(tr['to'])}[/] fra {fmt_iso(tr['on'])}",
                      highlight=False)
    if result.get("next_step"):
        console.print(f"  {_escape(result['next_step']['text'])}", highlight=False)


def print_done(results: list[dict[str, Any]], as_json: bool) -> None:
    """The API's answer to `task done ID …`, printed as in-process: one task as any change
    (with its next step), several one after another (without)."""
    if len(results) == 1:
        outcome(results[0], as_json)
        return
    for r in results:
        r.pop("next_step", None)
    if as_json:
        print_json(results)
        return
    for r in results:
        outcome(r, False)


def run_write(fn: Callable[[], dict[str, Any]], as_json: bool = False,
              remote: Remote | None = None) -> None:
    """Run a command that changes something: through the API when the CLI is a client
    (`remote`: its request), else `fn` in this process. The same output either way."""
    if remote is not None:
        result = remote.send()
        if result is not LOCAL:
            outcome(result, as_json)
            return
    with user_errors():
        result = fn()
        _add_next_step(result)
    outcome(result, as_json)


# -- the CLI as a client of the JSON API (avtaleflyt/client.py) --------------------------

LOCAL = object()  # "run it in this process": not a client, or the discovered serve is gone
_target: ContextVar[Any] = ContextVar("avtaleflyt_client_target", default=None)


def use_client(target: Any) -> None:
    """The API this invocation's commands go to (`avtaleflyt.client.Target`), or None."""
    _target.set(target)


def client_target() -> Any:
    return _target.get()


class Remote:
    """A command's request to the API (api-contract: the same dict as `--json` prints)."""

    def __init__(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 params: dict[str, Any] | None = None, files: dict[str, Any] | None = None,
                 data: dict[str, Any] | None = None, raw: bool = False) -> None:
        self.method, self.path, self.body = method, path, body
        self.params, self.files, self.data, self.raw = params, files, data, raw

    def send(self) -> Any:
        """The answer, or LOCAL when this invocation is not a client. A refusal is printed
        as `user_errors` prints one, with the exit code the API names."""
        t = _target.get()
        if t is None:
            return LOCAL
        from avtaleflyt import client

        try:
            return client.call(t, self.method, self.path, self.body, params=self.params,
                               files=self.files, data=self.data, raw=self.raw,
                               key=command_key() if self.method != "GET" else None)
        except client.Unreachable as e:
            if t.source == "serve":  # serve.json outlived its server: run here instead
                _target.set(None)
                return LOCAL
            raise fail(_escape(e.detail), e.exit_code) from None
        except client.ApiError as e:
            raise fail(_escape(e.detail), e.exit_code) from None


def via_api(method: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A read through the API, or LOCAL."""
    return Remote(method, path, body, **kw).send()


def _add_next_step(result: dict[str, Any]) -> None:
    """After a change to a case: its first open deadline and why (services/next_step.py),
    read once the flow run has returned."""
    knr = result.get("kommunenummer") if isinstance(result, dict) else None
    if not knr or "next_step" in result:
        return
    from avtaleflyt import runtime
    from avtaleflyt.services.next_step import next_step

    with runtime.session() as s:
        result["next_step"] = next_step(session=s, kommunenummer=knr, ctx=runtime.ctx())


def client_today():
    """The business date as a client knows it without the settings: AVTALEFLYT_TODAY (a
    discovered `serve` runs with the same one), else today in Norway."""
    import os
    from datetime import datetime
    from zoneinfo import ZoneInfo

    given = os.environ.get("AVTALEFLYT_TODAY", "").strip()
    if given:
        from avtaleflyt.formatting import parse_date

        try:
            return parse_date(given, "AVTALEFLYT_TODAY")
        except Exception:  # noqa: BLE001 - the server refused nothing: its date is unknown
            pass
    return datetime.now(ZoneInfo("Europe/Oslo")).date()


def via_api_all(path: str, params: dict[str, Any] | None = None) -> Any:
    """Every item of a paged read through the API (page after page), or LOCAL."""
    items: list[Any] = []
    page = 1
    while True:
        answer = via_api("GET", path, params={**(params or {}), "page": page, "per_page": 100})
        if answer is LOCAL:
            return LOCAL
        if not isinstance(answer, dict) or "items" not in answer:
            return answer  # not paged
        items.extend(answer["items"])
        if not answer["items"] or len(items) >= answer.get("total", 0):
            return items
        page += 1
