"""The `avtaleflyt` command. Read-only commands never import Prefect; commands that change
a case run as Prefect flow runs (imported only when such a command runs)."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .i18n import NorwegianGroup
from .municipalities import CountyOption
from .output import (
    console,
    fail,
    print_json,
    status_table,
    user_errors,
)

class _RootGroup(NorwegianGroup):
    """Keeps the command line for the callback, which decides where the command runs."""

    def parse_args(self, ctx, args):  # noqa: ANN001 - Click's signature
        ctx.meta["avtaleflyt.argv"] = list(args)
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="avtaleflyt",
    help="Avtaleflyt: følg kommunene fra førstekontakt til drift av bibliotekfaglig "
    "fjernledelse.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_RootGroup,  # the frame's own text ("Bruk:", "Valg", "Mangler argumentet …")
)


@app.callback()
def _global(
    typer_ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", help="Database-URL (sqlite:///sti eller postgresql://…). "
        "Standard: AVTALEFLYT_DATABASE_URL, ellers SQLite i datamappen. Uten passord: "
        "en kommandolinje kan leses av andre brukere på maskinen; bruk --db-file.")] = None,
    db_file: Annotated[Optional[str], typer.Option(
        "--db-file", help="Fil som inneholder database-URL-en (også med passord). "
        "Filen bør bare kunne leses av deg (chmod 600).")] = None,
    today: Annotated[Optional[str], typer.Option(
        "--today", help="Late som dagens dato er denne (ÅÅÅÅ-MM-DD), for simulering. "
        "Standard: AVTALEFLYT_TODAY, ellers dagens dato i Norge.")] = None,
    by: Annotated[Optional[str], typer.Option(
        "--by", help="Hvem som registrerer (lagres i historikken). Standard: innlogget "
        "bruker. Bare tillatt når konfigurasjonen har [cli] allow_by = true."
    )] = None,
    config: Annotated[Optional[str], typer.Option(
        "--config", help="TOML-fil med frister og standardvilkår (AVTALEFLYT_CONFIG).")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Vis Prefects egne logglinjer i terminalen.")] = False,
    idempotency_key: Annotated[Optional[str], typer.Option(
        "--idempotency-key", help="Nøkkel for en kommando som endrer en sak: kjøres samme "
        "kommando igjen med samme nøkkel, registreres ingenting på nytt (svaret er det "
        "første). Standard: en ny nøkkel for hver kjøring.")] = None,
) -> None:
    """Build the settings once, from the options and the environment, and install them for
    the command (and the flow runs it starts in this process) until it ends."""
    with user_errors():
        from .output import set_command_key

        set_command_key(idempotency_key)
        overrides: dict[str, object] = {"user": by or None, "config": config or None}
        if db and db_file:
            raise fail("«--db» og «--db-file» kan ikke brukes samtidig; velg én.", 2)
        if db:
            overrides["database_url"] = _database_option(db, "--db")
        elif db_file:
            overrides["database_url"] = _database_option(_read_db_file(db_file), "--db-file")
        if today:
            from avtaleflyt.formatting import parse_date

            overrides["today"] = parse_date(today, "--today")
        if verbose:
            # Prefect's own configuration, read when Prefect sets up logging: not ours.
            os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"
            os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL"] = "INFO"
            os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL"] = "INFO"
        if not (db or db_file or today or by or config) and _client_mode(
                _command_path(typer_ctx.meta.get("avtaleflyt.argv", []))):
            return  # the command goes to the API; settings are built only if it runs here
        from avtaleflyt import runtime
        from avtaleflyt.settings import UnknownVariable, load_settings

        try:
            s = load_settings(**overrides)  # fails fast on malformed settings
        except UnknownVariable as e:
            raise fail(str(e), 2) from None
        if by:
            _check_by_allowed(s)
        typer_ctx.with_resource(runtime.use_settings(s))
        if s.config is not None:
            runtime.ctx()


# Commands with an API route: in client mode they go to the server.
REMOTE_COMMANDS = frozenset({
    ("status",), ("deadlines",),
    *(("case", c) for c in ("open", "record", "hold", "resume", "withdraw", "advance", "show")),
    ("task", "done"), ("task", "assign"), ("note", "add"),
    *(("contact", c) for c in ("add", "edit", "erase", "list")),
    *(("meeting", c) for c in ("add", "import", "move", "cancel", "list")),
    *(("doc", c) for c in ("list", "render", "get")),
    ("report", "list"), ("report", "experience"), ("reminders", "list"),
})
# Commands about this installation itself: always run here.
LOCAL_COMMANDS = frozenset({"init", "demo", "serve", "db", "user", "token", "login", "logout"})
_VALUED = frozenset({"--db", "--db-file", "--today", "--by", "--config", "--idempotency-key"})


def _command_path(argv: list[str]) -> tuple[str, ...]:
    """The command named on the command line after the global options: ("case", "record")."""
    words: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in _VALUED:
            skip = True
        elif a.startswith("-"):
            if a in ("--help", "-h"):
                return ()
        else:
            words.append(a)
            if len(words) == 2 or (len(words) == 1 and a not in _GROUPS):
                break
    return tuple(words)


_GROUPS = frozenset({"case", "task", "note", "contact", "meeting", "reminders", "doc",
                     "report", "user", "db", "county", "municipality", "token"})


def _client_mode(path: tuple[str, ...]) -> bool:
    """Whether this command goes to the JSON API (avtaleflyt/client.py): with
    AVTALEFLYT_URL/AVTALEFLYT_TOKEN, after `avtaleflyt login`, or while `serve` runs on
    this data directory. Options that choose a local database, business date, author or
    configuration (--db, --db-file, --today, --by, --config) keep the command here, as do
    the commands about the installation itself (init, user, token, serve, …). A command
    without an API route runs here beside a discovered `serve` (the same database); with
    an explicit server (login, AVTALEFLYT_URL) it is refused rather than run against a
    local database the user did not mean."""
    if not path or path[0] in LOCAL_COMMANDS:
        return False
    from avtaleflyt import client

    from .output import use_client

    try:
        target = client.target()
    except client.ApiError as e:
        raise fail(e.detail, e.exit_code) from None
    if target is None:
        return False
    if path in REMOTE_COMMANDS:
        use_client(target)
        return True
    if target.source == "serve":
        return False
    how = ("logg ut med «avtaleflyt logout»" if target.source == "login"
           else f"fjern {client.ENV_URL} og {client.ENV_TOKEN}")
    raise fail(f"«avtaleflyt {' '.join(path)}» går ikke gjennom API-et. Kjør kommandoen på "
               f"serveren ({target.url}), eller {how} for å kjøre den mot en lokal database.",
               2)


def _check_by_allowed(s) -> None:
    """`--by` puts another name than the OS login in the history: only where the
    installation allows it (`[cli] allow_by = true`, e.g. a training installation)."""
    from avtaleflyt.config import cached_config
    from avtaleflyt.services.context import config_path

    path = config_path(s)
    if not cached_config(str(path) if path else None).allow_by:
        raise fail("«--by» er ikke tillatt i denne installasjonen: historikken skal vise hvem "
                   "som faktisk utførte kommandoen (innlogget bruker). En installasjon for "
                   "opplæring eller simulering kan tillate det med «\\[cli] allow_by = true» i "
                   "konfigurasjonsfilen.", 2)


def _database_option(url: str, option: str) -> str:
    """A database URL from the command line or a file; one with a password only from a file
    (another user can read a command line through `ps` or /proc/PID/cmdline)."""
    from avtaleflyt.settings import normalise_database_url

    try:
        normal = normalise_database_url(url)
    except ValueError as e:
        raise fail(f"«{option}»: {e}", 2) from None
    if option == "--db":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(normal)
            # libpq also takes the password as a query parameter (…/db?password=…).
            password = parsed.password or parsed.query.get("password")
        except (ArgumentError, ValueError):
            raise fail("«--db»: database-URL-en kan ikke leses.", 2) from None
        if password:
            # The message never repeats the URL: it holds the password.
            raise fail("«--db»: database-URL-en inneholder et passord, og kommandolinjen kan "
                       "leses av andre brukere på maskinen. Legg URL-en i "
                       "AVTALEFLYT_DATABASE_URL eller i en fil som bare du kan lese, og bruk "
                       "«--db-file FIL».", 2)
    return normal


def _read_db_file(path: str) -> str:
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise fail(f"«--db-file»: kan ikke lese filen {path}.", 2) from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise fail(f"«--db-file»: filen {path} må inneholde nøyaktig én linje: "
                   "database-URL-en.", 2)
    return lines[0]


@app.command()
def init() -> None:
    """Opprett eller oppgrader databasen og last inn fylket og kommunene."""
    from avtaleflyt import db, runtime
    from avtaleflyt.services.reference import load_reference_data

    with user_errors():
        s = runtime.settings()
        url = s.effective_database_url
        from avtaleflyt.filemodes import private_dir

        private_dir(s.data_dir)  # personal data: readable by the owner only
        # Two `init` at once (two nodes starting): the second waits, then has nothing to do.
        with db.init_lock(url, waiting=lambda: console.print(
                "Venter på en annen «avtaleflyt init» mot samme database …")):
            # Migration 0010 moves documents from the old folder into the database.
            db.upgrade(url, documents_dir=s.data_dir / "documents")
            with runtime.session() as session:
                counties, munis = load_reference_data(session)
    console.print(f"Databasen er klar: [bold]{_safe_url(url)}[/] (skjema {db.head_revision()}).",
                  highlight=False)
    if counties or munis:
        from avtaleflyt.formatting import format_count

        console.print(f"La inn {format_count(counties, 'fylke', 'fylker')} og "
                      f"{format_count(munis, 'kommune', 'kommuner')}.", highlight=False)


def _safe_url(url: str) -> str:
    """Database URLs may carry a password; never print it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
    county: CountyOption = None,
) -> None:
    """Vis hvor hver kommune står: fase, status, neste frist og forfalte oppgaver.

    Uten --county vises alle fylkene; har flere fylker saker, står fylket på hver linje."""
    from .output import LOCAL, via_api_all

    rows = via_api_all("/cases", {"county": county})
    if rows is not LOCAL:
        from .output import client_today

        today = client_today()  # the title's date
    else:
        from avtaleflyt import runtime
        from avtaleflyt.services.queries import status_rows
        from avtaleflyt.services.scope import scope_for_code

        with user_errors():
            today = runtime.today()
            with runtime.session() as s:
                rows = status_rows(s, today, scope_for_code(s, county, "--county"))
    if as_json:
        import sys

        from .entry import status_json

        sys.stdout.write(status_json(rows))
        return
    if not rows:
        console.print("Ingen saker ennå. Åpne en med «avtaleflyt case open KNR».")
        return
    console.print(status_table(rows, today))


@app.command()
def demo(
    keep_going: Annotated[bool, typer.Option(
        "--reuse", help="Bruk databasen i --db/AVTALEFLYT_DATABASE_URL i stedet for en ny "
        "demodatabase (den må være tom for saker).")] = False,
) -> None:
    """Kjør et realistisk år i Nordland gjennom de ekte flytene, og vis statusoversikten."""
    from .demo import run_demo

    with user_errors():
        run_demo(reuse=keep_going)


@app.command()
def audit(
    case: Annotated[str, typer.Option("--case", help="Kommunenummer, fire siffer.")],
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
) -> None:
    """Vis tilgangsloggen for en kommunes sak: hvem som så saken, kontaktpersonene eller
    dokumentene, og når (nyeste først). Brukes for innsynskrav (personvern)."""
    from rich.markup import escape
    from rich.table import Table

    from avtaleflyt import runtime
    from avtaleflyt.services.privacy import access_rows

    with user_errors(), runtime.session() as s:
        rows = access_rows(s, case)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"Ingen oppslag i tilgangsloggen for {escape(case)}.", highlight=False)
        return
    from datetime import datetime
    from zoneinfo import ZoneInfo

    def format_datetime_oslo(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Oslo")).strftime(
            "%d.%m.%Y %H:%M:%S")

    t = Table(title=f"Tilgangslogg for {escape(case)}", title_justify="left")
    for c in ("Tidspunkt", "Bruker", "Handling", "Objekt"):
        t.add_column(c)
    for r in rows:
        t.add_row(format_datetime_oslo(r["at"]), escape(r["username"]),
                  escape(r["action_label"]), escape(r["object"] or ""))
    console.print(t)


def _register() -> None:
    """Sub-commands live in their own modules; none of them imports Prefect at load time."""
    from . import (cases, dbcmd, deadlines, documents, login, meetings, municipalities, serve,
                   tokens, users)

    app.add_typer(municipalities.county_app, name="county")
    app.add_typer(municipalities.app, name="municipality")
    app.add_typer(cases.case_app, name="case")
    app.add_typer(cases.task_app, name="task")
    app.add_typer(cases.note_app, name="note")
    app.add_typer(cases.contact_app, name="contact")
    app.add_typer(meetings.app, name="meeting")
    app.command("deadlines")(deadlines.deadlines_cmd)
    app.command("sweep")(deadlines.sweep)
    app.add_typer(deadlines.reminders_app, name="reminders")
    app.add_typer(documents.doc_app, name="doc")
    app.add_typer(documents.report_app, name="report")
    app.add_typer(users.user_app, name="user")
    app.add_typer(tokens.token_app, name="token")
    app.command("login")(login.login)
    app.command("logout")(login.logout)
    app.command("serve")(serve.serve)
    app.command("redact")(cases.redact)
    app.add_typer(dbcmd.db_app, name="db")


_register()


def _terminated(signum, frame) -> None:
    """SIGTERM (`kill`, systemd, a CI runner's timeout) ends the command like Ctrl-C does:
    by unwinding, so Prefect's exit handlers run and stop the temporary Prefect server this
    process started. Python's default for SIGTERM ends the process at once and leaves that
    server running, an orphan holding a port."""
    raise SystemExit(128 + signum)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()
