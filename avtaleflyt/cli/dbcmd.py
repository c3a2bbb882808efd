"""`avtaleflyt db …`: the database itself (moving an installation to another database).

Imports no Prefect: copying changes no case and starts no flow.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .output import console, err, print_json, user_errors

db_app = typer.Typer(help="Databasen: flytt installasjonen til en annen database.",
                     no_args_is_help=True)


@db_app.command("copy")
def copy(
    to: Annotated[str, typer.Option(
        "--to", help="Måldatabasen, f.eks. postgresql+psycopg://bruker@vert/avtaleflyt. "
                     "Den må være tom.")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Skriv et sammendrag som JSON (framdriften går til stderr).")] = False,
) -> None:
    """Kopier hele installasjonen (alle tabeller, også dokumentene) til en tom database.

    Typisk fra SQLite-filen til PostgreSQL før flere noder tas i bruk. Kilden er databasen
    du bruker nå (--db / AVTALEFLYT_DATABASE_URL). Målet får nyeste skjema, radene kopieres
    i én transaksjon, og til slutt sammenlignes antall rader per tabell og hvert dokuments
    SHA-256. Er målet ikke tomt, eller stemmer noe ikke, skrives ingenting.

    Etterpå: sett AVTALEFLYT_DATABASE_URL til måldatabasen på alle noder."""
    from avtaleflyt import dbcopy, runtime

    from .main import _safe_url

    def progress(table: str, done: int, total: int) -> None:
        if done == total or (done and done % 5000 == 0):
            err.print(f"{table}: {done}/{total} rader", highlight=False)

    with user_errors():
        source = runtime.settings().effective_database_url
        result = dbcopy.copy_database(source, to, progress)
    summary = result.as_json(_safe_url(source), _safe_url(to))
    if as_json:
        print_json(summary)
        return
    from avtaleflyt.formatting import format_count as n

    console.print(f"Kopierte {n(summary['rows'], 'rad', 'rader')} i "
                  f"{n(len(result.tables), 'tabell', 'tabeller')} og "
                  f"{n(result.documents, 'dokumentversjon', 'dokumentversjoner')} til "
                  f"[bold]{summary['target']}[/]. "
                  "Antall rader og alle SHA-256 er kontrollert.", highlight=False)
    console.print("Sett AVTALEFLYT_DATABASE_URL til måldatabasen på alle noder.",
                  highlight=False)
