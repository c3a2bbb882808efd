"""The busiest changes, sent to the API without building the Typer application.

A coordinator with `serve` running (or logged in to a server) types `case record …` and
`task done …` all day. As the API's client those commands are one HTTP request; Typer, Click
and the command modules would take longer to load than the request takes. So when the CLI
is a client (avtaleflyt/client.py) and the command line is one of these in its plain form —
the command, its arguments and its own options, nothing else — it is parsed here from the
same table of options and answered with the same output and exit code. Anything else (a
global option, --help, an unknown or repeated option, a malformed argument, a server that
is gone) goes to the Typer application as before, which prints its usual message.
tests/test_client_fast.py checks this table against the Typer commands' options.
"""

from __future__ import annotations

import os
import sys
from typing import Any

JSON = "--json"
# command → (positional names, {option: request field}); every command here takes --json.
# A positional named "task_ids" takes one or more whole numbers.
COMMANDS: dict[tuple[str, str], tuple[tuple[str, ...], dict[str, str]]] = {
    ("case", "record"): (("knr", "fact"), {
        "--date": "date", "--outcome": "outcome", "--ref": "reference", "--party": "party",
        "--start": "start", "--years": "years", "--months": "months", "--renewal": "renewal",
        "--notice-months": "notice_months", "--price": "price",
        "--position-share": "position_share", "--site-visits": "site_visits",
        "--situation": "situation"}),
    ("task", "done"): (("task_ids",), {"--date": "date"}),
    ("case", "open"): (("knr",), {"--date": "date"}),
    ("case", "hold"): (("knr",), {"--date": "date", "--reason": "reason"}),
    ("case", "resume"): (("knr",), {"--date": "date"}),
    ("case", "withdraw"): (("knr",), {"--date": "date", "--reason": "reason"}),
}


def parse(argv: list[str]) -> tuple[tuple[str, str], list[str], dict[str, str], bool] | None:
    """(command, positionals, options by request field, --json), or None: not plain."""
    if len(argv) < 2 or (argv[0], argv[1]) not in COMMANDS:
        return None
    command = (argv[0], argv[1])
    names, options = COMMANDS[command]
    positionals: list[str] = []
    given: dict[str, str] = {}
    as_json = False
    rest = argv[2:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == JSON and not as_json:
            as_json = True
        elif a.startswith("-"):
            name, eq, value = a.partition("=")
            field = options.get(name)
            if field is None or field in given:
                return None
            if not eq:
                i += 1
                if i == len(rest):
                    return None
                value = rest[i]
            given[field] = value
        else:
            positionals.append(a)
        i += 1
    if names == ("task_ids",):
        if not positionals or not all(p.isdigit() for p in positionals):
            return None
    elif len(positionals) != len(names):
        return None
    return command, positionals, given, as_json


def request(command: tuple[str, str], positionals: list[str], given: dict[str, str]
            ) -> tuple[str, dict[str, Any]]:
    """The API request for the command (api-contract.md): path and JSON body."""
    from avtaleflyt.formatting import parse_date

    body: dict[str, Any] = dict(given)
    if "date" in body:
        body["date"] = parse_date(body["date"], "--date").isoformat()
    match command:
        case ("case", "record"):
            knr, fact = positionals
            return f"/cases/{knr}/facts", {"fact": fact, **body}
        case ("task", "done"):
            return "/tasks/done", {"task_ids": [int(p) for p in positionals], **body}
        case ("case", "open"):
            return "/cases", {"kommunenummer": positionals[0], **body}
        case ("case", action):
            return f"/cases/{positionals[0]}/{action}", body
    raise AssertionError(command)


def run(argv: list[str]) -> bool:
    """Answer the command here if it is one of these and the CLI is a client; False: let
    the application do it (nothing has been printed)."""
    parsed = parse(argv)
    if parsed is None:
        return False
    from avtaleflyt import client

    try:
        target = client.target()
    except client.ApiError:
        return False  # the application words it
    if target is None:
        return False
    command, positionals, given, as_json = parsed
    from avtaleflyt.domain.errors import DomainError

    try:
        path, body = request(command, positionals, given)
    except DomainError as e:
        from .output import cli_message, exit_code

        _refuse(cli_message(e), exit_code(e))
    import uuid

    try:
        answer = client.call(target, "POST", path, body, key=uuid.uuid4().hex)
    except client.Unreachable as e:
        if target.source == "serve":
            return False  # serve.json outlived its server: in-process, as without it
        _refuse(e.detail, e.exit_code)
    except client.ApiError as e:
        _refuse(e.detail, e.exit_code)
    from .output import outcome, print_done

    if command == ("task", "done"):
        print_done(answer, as_json)
    else:
        outcome(answer, as_json)
    raise SystemExit(0)


def _refuse(message: str, code: int) -> None:
    """`Feil: …` on stderr as `output.fail` prints it, and exit with `code`. Plain text
    needs no Rich: it is what Rich prints when stderr is not a terminal."""
    if sys.stderr.isatty() or os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE"):
        from .output import _escape, err

        err.print(f"[bold red]Feil:[/] {_escape(message)}", highlight=False, markup=True,
                  soft_wrap=True)
    else:
        sys.stderr.write(f"Feil: {message}\n")
        sys.stderr.flush()
    raise SystemExit(code)
