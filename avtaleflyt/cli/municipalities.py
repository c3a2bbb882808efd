"""`avtaleflyt municipality …`"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .output import console, print_json, stage_label, status_label, user_errors

app = typer.Typer(help="Kommunene fylket kan inngå avtale med.", no_args_is_help=True)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
) -> None:
    """List kommunene med kommunenummer og hvor saken deres står."""
    from avtaleflyt import runtime
    from avtaleflyt.services.queries import municipality_rows

    with user_errors(), runtime.session() as s:
        rows = municipality_rows(s)
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
