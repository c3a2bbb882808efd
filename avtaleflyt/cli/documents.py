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

from avtaleflyt.documents.kinds import CASE_KINDS, kinds_in_words

from .municipalities import CountyOption
from .output import console, print_json, user_errors

doc_app = typer.Typer(help="Dokumenter: saksframlegg, avtaler, sjekkliste og årsrapport.",
                      no_args_is_help=True)
report_app = typer.Typer(help="Rapporter på tvers av sakene.", no_args_is_help=True)

Knr = Annotated[str, typer.Argument(help="Kommunenummer, fire siffer (f.eks. 1836).")]
FormatOpt = Annotated[str, typer.Option(
    "--format", help="html, docx eller pdf (PDF/A-3b for arkivet).")]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--out", help="Skriv dokumentet til denne filen i stedet for å lagre en ny versjon i "
                  "databasen.")]


def _write_or_store(kind: str, fmt: str, out: Path | None, **where) -> str:
    """The file written (`--out`), or a line naming the new stored version."""
    from avtaleflyt import runtime
    from avtaleflyt.services import documents

    fmt = documents.check_format(fmt)
    ctx = runtime.ctx()
    with runtime.session() as s:
        if out is not None:
            rendered = documents.render(session=s, kind=kind, formats=(fmt,), ctx=ctx, **where)
            documents.write_atomically(out, rendered.files[fmt])
            return str(out.resolve())
        [row] = documents.store_document(session=s, kind=kind, formats=(fmt,), ctx=ctx,
                                         **where)
        return (f"Lagret {row.path} (versjon {row.version}, SHA-256 {row.sha256[:12]}…). "
                f"Hent en kopi med «avtaleflyt doc get {row.path} --out FIL».")


# -- through the JSON API (client mode, avtaleflyt/client.py) ------------------------------
# The API answers what in-process prints: the stored version's line («Lagret …»), or with
# `store: false` (`--out`) the rendered bytes, written here.

def _remote_write_or_store(path: str, body: dict, out: Path | None) -> str | None:
    """`_write_or_store` through the API; None when the command runs in this process."""
    from .output import LOCAL, via_api

    if out is None:
        answer = via_api("POST", path, body)
        return None if answer is LOCAL else answer["message"]
    data = via_api("POST", path, {**body, "store": False}, raw=True)
    if data is LOCAL:
        return None
    _save(out, data)
    return str(out.resolve())


def _save(out: Path, data: bytes) -> None:
    """`document_store.write_atomically` without loading SQLAlchemy (client mode): the
    same refusals, and a reader never sees a half-written file."""
    import os
    import tempfile

    from avtaleflyt.domain.errors import InvalidInput

    with user_errors():
        if out.is_dir():
            raise InvalidInput(f"«--out»: «{out}» er en mappe; oppgi et filnavn.", field="out")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, out)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            from avtaleflyt.services.document_store import disk_problem

            raise InvalidInput(f"«--out»: kan ikke skrive «{out}»: {disk_problem(e)}.",
                               field="out") from None


def _part(value: str) -> str:
    """A value as one segment of the API's path (a kommunenummer as typed)."""
    from urllib.parse import quote

    return quote(value.strip(), safe="")


@doc_app.command("render")
def render(
    knr: Knr,
    kind: Annotated[str, typer.Argument(
        help=f"{kinds_in_words(CASE_KINDS)}.")],
    fmt: FormatOpt = "html",
    out: OutOpt = None,
    year: Annotated[Optional[int], typer.Option(
        "--year", help="Året årsrapporten gjelder (yearly_report). Standard: fjoråret.")] = None,
) -> None:
    """Lag et dokument for kommunens sak fra dagens data.

    Uten --out lagres en ny versjon i databasen (alle noder og «doc get» ser den); navnet
    skrives ut. Med --out skrives bare filen, og ingen versjon lagres.

    Gamle versjoner beholdes alltid."""
    path = _remote_write_or_store(f"/cases/{_part(knr)}/documents",
                                  {"kind": kind, "format": fmt, "year": year}, out)
    if path is not None:
        console.print(path, highlight=False, soft_wrap=True)
        return
    from avtaleflyt.services.documents import CASE_KINDS, check_kind

    with user_errors():
        kind = check_kind(kind, CASE_KINDS)
        path = _write_or_store(kind, fmt, out, kommunenummer=knr, year=year)
    console.print(path, highlight=False, soft_wrap=True)


@doc_app.command("get")
def get(
    name: Annotated[str, typer.Argument(
        help="Dokumentets navn slik «doc list»/«report list» viser det, f.eks. "
             "1836/agreement-v2.docx.")],
    out: Annotated[Path, typer.Option(
        "--out", help="Filen kopien skrives til (erstattes om den finnes).")],
) -> None:
    """Skriv en lagret versjon fra databasen til en fil (samme innhold og SHA-256)."""
    from urllib.parse import quote

    from .output import LOCAL, via_api

    named = name.strip().strip("/")  # as document_store.by_name looks it up
    data = via_api("GET", "/documents/" + quote(named, safe="/"), raw=True)
    if data is not LOCAL:
        import hashlib

        _save(out, data)
        console.print(f"{named} → {out.resolve()} "
                      f"(SHA-256 {hashlib.sha256(data).hexdigest()[:12]}…)",
                      highlight=False, soft_wrap=True)
        return
    from avtaleflyt import runtime
    from avtaleflyt.services import document_store

    with user_errors(), runtime.session() as s:
        doc = document_store.by_name(s, name)
        data = document_store.content(s, doc)
        document_store.write_atomically(out, data)
    console.print(f"{doc.path} → {out.resolve()} (SHA-256 {doc.sha256[:12]}…)",
                  highlight=False, soft_wrap=True)


@doc_app.command("list")
def list_(knr: Knr, as_json: Annotated[bool, typer.Option(
        "--json", help="Skriv JSON for skript.")] = False) -> None:
    """Vis kommunens lagrede dokumenter: type, versjon, format, dato, SHA-256 og navn."""
    from .output import LOCAL, via_api_all

    rows = via_api_all(f"/cases/{_part(knr)}/documents")
    if rows is LOCAL:
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
    """`with_county`: reports of several counties (and national ones, «landet/…»); a column
    names the county. The name is what `doc get` takes."""
    from datetime import date

    from avtaleflyt.formatting import format_date_short

    t = Table(title=title, title_justify="left",
              caption="Lagret i databasen. Hent en kopi med «avtaleflyt doc get NAVN --out FIL».",
              caption_justify="left")
    # Narrow enough for an 80-column terminal: the name carries the version and the format
    # (`1836/databehandleravtale-v1.pdf`), so neither has a column of its own.
    if with_type:
        t.add_column("Type", min_width=12, overflow="fold")
    if with_county:
        t.add_column("Fylke", no_wrap=True)
    t.add_column("Dato", no_wrap=True)
    t.add_column("SHA-256", no_wrap=True)
    t.add_column("Navn", no_wrap=True)
    for r in rows:
        t.add_row(*([r["label"]] if with_type else []),
                  *([r["county_code"] or "alle"] if with_county else []),
                  format_date_short(date.fromisoformat(r["created_on"])),
                  r["sha256"][:7] + "…", r["path"])
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

    Uten --out lagres en ny versjon i databasen; navnet skrives ut."""
    from .output import LOCAL, via_api

    if as_json:
        figures = via_api("GET", "/reports/experience", params={"county": county})
        if figures is not LOCAL:
            print_json(figures)
            return
        from avtaleflyt import runtime
        from avtaleflyt.services.documents import experience_figures

        with user_errors(), runtime.session() as s:
            figures = experience_figures(session=s, ctx=runtime.ctx(), county=county)
        print_json(figures)
        return
    path = _remote_write_or_store("/reports/experience", {"county": county, "format": fmt}, out)
    if path is not None:
        console.print(path, highlight=False, soft_wrap=True)
        return
    with user_errors():
        path = _write_or_store("experience_report", fmt, out, county=county)
    console.print(path, highlight=False, soft_wrap=True)


@report_app.command("list")
def report_list(
    as_json: Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")] = False,
    county: CountyOption = None,
) -> None:
    """Vis lagrede erfaringsrapporter: versjon, dato, SHA-256 og navn.

    Uten --county vises rapportene for alle fylkene og sammenligningene av fylkene."""
    from .output import LOCAL, via_api_all

    rows = via_api_all("/reports", {"county": county})
    if rows is LOCAL:
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
