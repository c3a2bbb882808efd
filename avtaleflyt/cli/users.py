"""`avtaleflyt user …`: who may log in to the dashboard, and their calendar feed addresses."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .output import console, fail, print_json, user_errors

user_app = typer.Typer(help="Brukere av nettsiden (avtaleflyt serve) og kalenderabonnement.",
                       no_args_is_help=True)

Username = Annotated[str, typer.Argument(help="Brukernavn.")]
County = Annotated[Optional[str], typer.Option(
    "--county", help="Fylket brukeren hører til (fylkesnummer, for eksempel 18). Brukeren ser "
    "bare dette fylkets saker.")]
National = Annotated[bool, typer.Option(
    "--national", help="Brukeren ser alle fylkers saker (for nasjonale brukere).")]


@user_app.command("add")
def add(
    username: Username,
    county: County = None,
    national: National = False,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Les passordet fra standard inn (for skript).")] = False,
) -> None:
    """Opprett en bruker i ett fylke (--county NR) eller nasjonal (--national).
    Passordet spørres om skjult, to ganger."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import check_county_choice, check_username, create_user

    with user_errors():
        check_username(username)
        with runtime.session() as s:  # refuse a missing or unknown county before the prompt
            check_county_choice(session=s, county=county, national=national)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Passord", hide_input=True,
                                    confirmation_prompt="Gjenta passordet")
        with runtime.session() as s:
            user = create_user(session=s, username=username, password=password,
                               county=county, national=national)
    console.print(f"Brukeren «{escape(user.username)}» er opprettet ({_where(user)}).",
                  highlight=False)


def _where(user) -> str:
    return (f"ser {escape(user.county_name)} ({user.county_code})" if user.county_code
            else "er nasjonal og ser alle fylker")


@user_app.command("set")
def set_(username: Username, county: County = None, national: National = False) -> None:
    """Flytt en bruker til et annet fylke (--county NR), eller gjør brukeren nasjonal
    (--national)."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import set_county

    with user_errors(), runtime.session() as s:
        user = set_county(session=s, username=username, county=county, national=national)
    console.print(f"Brukeren «{escape(user.username)}» {_where(user)}.", highlight=False)


@user_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON.")] = False) -> None:
    """Vis brukerne."""
    from avtaleflyt import runtime
    from avtaleflyt.formatting import format_date_short
    from avtaleflyt.services.users import list_users

    with user_errors(), runtime.session() as s:
        users = list_users(session=s)
    if as_json:
        print_json([{"username": u.username, "county": u.county_code, "active": u.active,
                     "created_at": u.created_at.isoformat(), "calendar_feed": u.has_feed}
                    for u in users])
        return
    if not users:
        console.print("Ingen brukere ennå. Opprett en med «avtaleflyt user add BRUKERNAVN».")
        return
    t = Table(title="Brukere", title_justify="left")
    for c in ("Brukernavn", "Fylke", "Aktiv", "Opprettet", "Kalenderabonnement"):
        t.add_column(c)
    for u in users:
        t.add_row(escape(u.username),
                  f"{u.county_code} {escape(u.county_name or '')}" if u.county_code
                  else "alle (nasjonal)", "ja" if u.active else "nei",
                  format_date_short(u.created_at.date()), "ja" if u.has_feed else "")
    console.print(t)


@user_app.command("feed-token")
def feed_token(
    username: Username,
    base_url: Annotated[str, typer.Option(
        "--base-url", help="Adressen nettsiden nås på.")] = "http://127.0.0.1:8080",
) -> None:
    """Lag en ny hemmelig kalenderadresse for brukeren (vises bare én gang).
    Tidligere adresser slutter å virke."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import issue_feed_token

    with user_errors(), runtime.session() as s:
        token = issue_feed_token(session=s, username=username)
    base = base_url.rstrip("/")
    console.print("Kalenderadressen (vises bare nå – behandle den som et passord):")
    # Plain print: the URL must be copyable without Rich's wrapping.
    print(f"{base}/kalender/{token}.ics?ansvar=all")
    console.print("Bytt «ansvar=all» med «county» eller «municipality» for å se bare fylkets "
                  "eller kommunenes frister.")


@user_app.command("revoke-feed")
def revoke_feed(username: Username) -> None:
    """Slå av brukerens kalenderadresse."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import revoke_feed_tokens

    with user_errors(), runtime.session() as s:
        n = revoke_feed_tokens(session=s, username=username)
    if n == 0:
        raise fail(f"«{escape(username)}» hadde ingen aktiv kalenderadresse.")
    console.print(f"Kalenderadressen til «{escape(username)}» virker ikke lenger.")


@user_app.command("disable")
def disable(username: Username) -> None:
    """Steng en bruker ute: innloggingen slutter å virke med en gang, og kalenderadressen
    svarer ikke mens brukeren er stengt."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import set_active

    with user_errors(), runtime.session() as s:
        user, ended = set_active(session=s, username=username, active=False)
    console.print(f"Brukeren «{escape(user.username)}» er stengt ({_ended(ended)}).",
                  highlight=False)


@user_app.command("enable")
def enable(username: Username) -> None:
    """Åpne en stengt bruker igjen (brukeren må logge inn på nytt)."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import set_active

    with user_errors(), runtime.session() as s:
        user, _ = set_active(session=s, username=username, active=True)
    console.print(f"Brukeren «{escape(user.username)}» kan logge inn igjen.", highlight=False)


@user_app.command("password")
def password(
    username: Username,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Les det nye passordet fra standard inn (for skript).")] = False,
) -> None:
    """Sett nytt passord (spørres om skjult, to ganger). Brukerens innlogginger avsluttes."""
    from avtaleflyt import runtime
    from avtaleflyt.services.users import check_password, find_user, set_password

    with user_errors():
        with runtime.session() as s:  # an unknown name is refused before the prompt
            find_user(s, username)
        if password_stdin:
            new = sys.stdin.readline().rstrip("\r\n")
        else:
            new = typer.prompt("Nytt passord", hide_input=True,
                               confirmation_prompt="Gjenta passordet")
        check_password(new)
        with runtime.session() as s:
            user, ended = set_password(session=s, username=username, password=new)
    console.print(f"Nytt passord for «{escape(user.username)}» ({_ended(ended)}).",
                  highlight=False)


def _ended(n: int) -> str:
    return ("ingen innlogginger var aktive" if n == 0 else
            "1 innlogging er avsluttet" if n == 1 else f"{n} innlogginger er avsluttet")


@user_app.command("sessions")
def sessions_(
    username: Username,
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Avslutt alle brukerens innlogginger.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON.")] = False,
) -> None:
    """Vis brukerens aktive innlogginger på nettsiden (når de startet, sist brukt, når de
    utløper), eller avslutt dem alle med --revoke."""
    from avtaleflyt import runtime
    from avtaleflyt.services import sessions

    if revoke:
        with user_errors(), runtime.session() as s:
            n = sessions.revoke_sessions(session=s, username=username)
        if as_json:
            print_json({"username": username, "revoked": n})
        else:
            console.print(f"«{escape(username)}»: {_ended(n)}.", highlight=False)
        return
    with user_errors(), runtime.session() as s:
        rows = sessions.active_sessions(session=s, username=username,
                                        rules=runtime.ctx().config.dashboard)
    if as_json:
        print_json([{"created_at": r.created_at.isoformat(),
                     "last_seen_at": r.last_seen_at.isoformat(),
                     "expires_at": r.expires_at.isoformat(),
                     "address": r.address, "user_agent": r.user_agent} for r in rows])
        return
    if not rows:
        console.print(f"«{escape(username)}» har ingen aktive innlogginger.", highlight=False)
        return
    t = Table(title=f"Aktive innlogginger for «{escape(username)}»", title_justify="left")
    for c in ("Startet", "Sist brukt", "Utløper", "Adresse", "Nettleser"):
        t.add_column(c)
    for r in rows:
        t.add_row(_when(r.created_at), _when(r.last_seen_at), _when(r.expires_at),
                  escape(r.address or ""), escape((r.user_agent or "")[:40]))
    console.print(t)


def _when(value) -> str:
    from avtaleflyt.domain.calendar import OSLO

    return value.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")
