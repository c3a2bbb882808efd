"""`avtaleflyt token …`: personal access tokens for the JSON API (/api/v1)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .output import console, print_json, user_errors

token_app = typer.Typer(
    help="Personlige tilgangstoken for JSON-API-et (/api/v1). Et token virker som brukeren "
    "sitt, med brukerens fylke.", no_args_is_help=True)

_STATE = {"active": "aktiv", "expired": "utløpt", "revoked": "trukket tilbake"}


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Et navn på tokenet, f.eks. «arkiv» eller "
                                        "«skript-bodø».", metavar="NAVN")],
    user: Annotated[Optional[str], typer.Option(
        "--user", help="Brukeren tokenet virker som (se «user list»). Standard: "
        "innloggingsnavnet ditt (--by/AVTALEFLYT_USER).")] = None,
    expires: Annotated[Optional[int], typer.Option(
        "--expires", help="Tokenet slutter å virke etter så mange dager. Standard: aldri "
        "(trekk det tilbake med «token revoke»).", metavar="DAGER")] = None,
) -> None:
    """Lag et nytt token. Det vises bare denne ene gangen; bare en hash lagres.

    Bruk: curl -H "Authorization: Bearer TOKEN" http://127.0.0.1:8080/api/v1/cases"""
    from avtaleflyt import runtime
    from avtaleflyt.formatting import format_date_short
    from avtaleflyt.services.tokens import create_token

    with user_errors(), runtime.session() as s:
        view, plain = create_token(session=s, name=name, username=user or runtime.settings().user,
                                   expires_days=expires)
    until = (f", gyldig til {format_date_short(view.expires_at.date())}" if view.expires_at
             else "")
    console.print(f"Token «{escape(view.name)}» (id {view.id}) for «{escape(view.username)}»"
                  f"{until}. Det vises bare nå – behandle det som et passord:",
                  highlight=False)
    print(plain)  # plain print: copyable, never wrapped


@token_app.command("list")
def list_(
    user: Annotated[Optional[str], typer.Option("--user", help="Bare denne brukerens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
) -> None:
    """Vis tokenene (aldri selve tokenet): navn, bruker, når de ble laget og sist brukt."""
    from avtaleflyt import runtime
    from avtaleflyt.formatting import format_date_short
    from avtaleflyt.models import utcnow
    from avtaleflyt.services.tokens import list_tokens

    with user_errors(), runtime.session() as s:
        rows = list_tokens(session=s, username=user)
    now = utcnow()
    if as_json:
        print_json([t.as_dict(now) for t in rows])
        return
    if not rows:
        console.print("Ingen token ennå. Lag et med «avtaleflyt token create NAVN».")
        return
    day = lambda v: format_date_short(v.date()) if v else "–"  # noqa: E731
    t = Table(title="Token", title_justify="left")
    for c in ("Id", "Navn", "Bruker", "Laget", "Utløper", "Sist brukt", "Status"):
        t.add_column(c)
    for r in rows:
        t.add_row(str(r.id), escape(r.name), escape(r.username), day(r.created_at),
                  day(r.expires_at), day(r.last_used_at), _STATE[r.state(now)])
    console.print(t)


@token_app.command("revoke")
def revoke(
    which: Annotated[str, typer.Argument(help="Tokenets id eller navn (se «token list»).",
                                         metavar="ID|NAVN")],
    user: Annotated[Optional[str], typer.Option(
        "--user", help="Brukeren, når flere brukere har token med samme navn.")] = None,
) -> None:
    """Trekk tilbake et token: det slutter å virke med en gang."""
    from avtaleflyt import runtime
    from avtaleflyt.services.tokens import revoke_token

    with user_errors(), runtime.session() as s:
        view = revoke_token(session=s, which=which, username=user)
    console.print(f"Token «{escape(view.name)}» (id {view.id}) for «{escape(view.username)}» "
                  "er trukket tilbake.", highlight=False)
