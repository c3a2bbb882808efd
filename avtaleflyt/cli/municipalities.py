"""`avtaleflyt municipality …` and `avtaleflyt county …`"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from .output import console, print_json, stage_label, status_label, user_errors

app = typer.Typer(help="Kommunene fylkene kan inngå avtale med.", no_args_is_help=True)
county_app = typer.Typer(help="Fylkene (fylkeskommunene og fylkesbibliotekene).",
                         no_args_is_help=True)

CountyOption = Annotated[Optional[str], typer.Option(
    "--county", help="Bare dette fylket (fylkesnummer, for eksempel 18 for Nordland).")]


@app.command("list")
def list_(
    county: CountyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
) -> None:
    """List kommunene med kommunenummer, fylke og hvor saken deres står."""
    from avtaleflyt import runtime
    from avtaleflyt.services.queries import municipality_rows
    from avtaleflyt.services.scope import scope_for_code

    with user_errors(), runtime.session() as s:
        rows = municipality_rows(s, scope_for_code(s, county, "--county"))
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"Kommuner ({len(rows)})", title_justify="left")
    for col in ("Knr", "Kommune", "Fylke", "Fase", "Status"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["kommunenummer"], r["name"], r["county"], stage_label(r["stage"]),
                  status_label(r["status"]))
    console.print(t)


@county_app.command("list")
def county_list(
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
) -> None:
    """List fylkene med fylkesnummer, antall kommuner og åpne saker."""
    from avtaleflyt import runtime
    from avtaleflyt.services.queries import county_rows

    with user_errors(), runtime.session() as s:
        rows = county_rows(s)
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"Fylker ({len(rows)})", title_justify="left")
    for col, justify in (("Nr", "left"), ("Fylke", "left"), ("Fylkesbibliotek", "left"),
                         ("Kommuner", "right"), ("Åpne saker", "right"),
                         ("Saker i alt", "right")):
        t.add_column(col, justify=justify)
    for r in rows:
        t.add_row(r["code"], r["name"], r["library_name"], str(r["municipalities"]),
                  str(r["open_cases"]), str(r["cases"]))
    console.print(t)
