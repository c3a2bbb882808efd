"""`avtaleflyt doc …` and `avtaleflyt report …`: documents from the current data.

None of these run as Prefect flows, and none imports Prefect: making a document changes no
case (it appends no event and moves no stage), so there is nothing for a flow run to
record. A stored document is recorded by its own insert-only `document` row instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .municipalities import CountyOption
from .output import console, print_json, user_errors

doc_app = typer.Typer(help="Dokumenter: saksframlegg, avtale, sjekkliste og årsrapport.",
                      no_args_is_help=True)
report_app = typer.Typer(help="Rapporter på tvers av sakene.", no_args_is_help=True)

Knr = Annotated[str, typer.Argument(help="Kommunenummer, fire siffer (f.eks. 1836).")]
FormatOpt = Annotated[str, typer.Option(
    "--format", help="html, docx eller pdf (PDF/A-3b for arkivet).")]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--out", help="Skriv dokumentet hit i stedet for å lagre en ny versjon i dokumentmappen.")]


def _write_or_store(kind: str, fmt: str, out: Path | None, **where) -> Path:
    from avtaleflyt import runtime
    from avtaleflyt.services import documents

    fmt = documents.check_format(fmt)
    ctx = runtime.ctx()
    with runtime.session() as s:
        if out is not None:
            rendered = documents.render(session=s, kind=kind, formats=(fmt,), ctx=ctx, **where)
            documents.write_atomically(out, rendered.files[fmt])
            return out.resolve()
        [row] = documents.store_document(session=s, kind=kind, formats=(fmt,), ctx=ctx,
                                         **where)
        return documents.documents_root() / row.path


@doc_app.command("render")
def render(
    knr: Knr,
    kind: Annotated[str, typer.Argument(
        help="saksframlegg, agreement, setup_checklist eller yearly_report.")],
    fmt: FormatOpt = "html",
    out: OutOpt = None,
    year: Annotated[Optional[int], typer.Option(
        "--year", help="Året årsrapporten gjelder (yearly_report). Standard: fjoråret.")] = None,
) -> None:
    """Lag et dokument for kommunens sak fra dagens data.

    Uten --out lagres en ny versjon i dokumentmappen; stien skrives ut.

    Gamle versjoner beholdes alltid."""
    from avtaleflyt.services.documents import CASE_KINDS, check_kind

    with user_errors():
        kind = check_kind(kind, CASE_KINDS)
        path = _write_or_store(kind, fmt, out, kommunenummer=knr, year=year)
    console.print(str(path), highlight=False, soft_wrap=True)


@doc_app.command("list")
def list_(knr: Knr, as_json: Annotated[bool, typer.Option(
        "--json", help="Skriv JSON for skript.")] = False) -> None:
    """Vis kommunens lagrede dokumenter: type, versjon, format, dato, SHA-256 og sti."""
    from avtaleflyt import runtime
    from avtaleflyt.services.documents import list_documents

    with user_errors(), runtime.session() as s:
        rows = list_documents(session=s, kommunenummer=knr)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"Ingen dokumenter er lagret for {knr} ennå.", highlight=False)
        return
    _print_documents(rows, f"Dokumenter for {knr}")


def _print_documents(rows: list[dict], title: str, *, with_type: bool = True,
                     with_county: bool = False) -> None:
    """`with_county`: reports of several counties (and national ones, in «landet/»), each in
    its own folder under the documents folder; a column names the county."""
    from datetime import date

    from avtaleflyt.formatting import format_date_short

    folder = Path(rows[0]["file"]).parent
    if with_county:
        folder = folder.parent
    t = Table(title=title, title_justify="left",
              caption=f"Mappe: {folder}", caption_justify="left")
    # Narrow enough for an 80-column terminal: the format shows as the file's extension.
    if with_type:
        t.add_column("Type", min_width=12, overflow="fold")
    if with_county:
        t.add_column("Fylke", no_wrap=True)
    t.add_column("Versjon", justify="right")
    t.add_column("Dato", no_wrap=True)
    t.add_column("SHA-256", no_wrap=True)
    t.add_column("Fil", no_wrap=True)
    for r in rows:
        t.add_row(*([r["label"]] if with_type else []),
                  *([r["county_code"] or "alle"] if with_county else []), str(r["version"]),
                  format_date_short(date.fromisoformat(r["created_on"])),
                  r["sha256"][:7] + "…", r["path"] if with_county else Path(r["path"]).name)
    console.print(t)


@report_app.command("experience")
def experience(
    fmt: FormatOpt = "html",
    out: OutOpt = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Skriv tallene per fase som JSON i stedet for å lage rapporten.")] = False,
    county: CountyOption = None,
) -> None:
    """Lag erfaringsrapporten for et fylke, eller sammenlign fylkene.

    Med --county: fylkets saker (tid per fase, saker som har stoppet opp, alle fylkets
    erfaringer etter tema, avslåtte/trukne saker). Uten --county og med saker i flere fylker:
    fylkene side om side (tid per fase, utfall og de delte erfaringene etter tema).

    Uten --out lagres en ny versjon i dokumentmappen; stien skrives ut."""
    if as_json:
        from avtaleflyt import runtime
        from avtaleflyt.services.documents import experience_figures

        with user_errors(), runtime.session() as s:
            figures = experience_figures(session=s, ctx=runtime.ctx(), county=county)
        print_json(figures)
        return
    with user_errors():
        path = _write_or_store("experience_report", fmt, out, county=county)
    console.print(str(path), highlight=False, soft_wrap=True)


@report_app.command("list")
def report_list(
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
    county: CountyOption = None,
) -> None:
    """Vis lagrede erfaringsrapporter: versjon, dato, SHA-256 og sti.

    Uten --county vises rapportene for alle fylkene og sammenligningene av fylkene."""
    from avtaleflyt import runtime
    from avtaleflyt.services.documents import list_documents

    with user_errors(), runtime.session() as s:
        rows = list_documents(session=s, county=county)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("Ingen rapporter er lagret ennå. Lag en med «avtaleflyt report "
                      "experience».", highlight=False)
        return
    several = len({r["county_code"] for r in rows}) > 1
    _print_documents(rows, "Erfaringsrapporter", with_type=False, with_county=several)
