"""`avtaleflyt meeting add|list|import|move|cancel|saksgang`: council meeting plans
(møteplaner) and each municipality's saksgang."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .output import (
    LOCAL,
    Remote,
    client_target,
    console,
    fail,
    fmt_iso,
    print_json,
    run_write,
    user_errors,
)

app = typer.Typer(help="Møteplaner for kommunestyre, formannskap og fylkeskommunens organ.",
                  no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")]
BodyOpt = Annotated[str, typer.Option(
    "--body", help="Organ: kommunestyre, formannskap eller county (fylkeskommunens organ).")]
CountyOpt = Annotated[Optional[str], typer.Option(
    "--county", help="Fylket (fylkesnummer, f.eks. 18) som fylkeskommunens organ hører til. "
    "Trengs når flere fylker har saker.")]


def _flow(name: str, **params: Any) -> dict[str, Any]:
    """Store the command in the inbox; its flow gets only the command's id."""
    from avtaleflyt import runtime

    from .output import command_key

    return runtime.run_command(name, key=command_key(), **params)


@app.command("add")
def add(
    knr: Annotated[str, typer.Argument(
        help="Kommunenummer (f.eks. 1836), eller «county» for fylkeskommunens organ.")],
    body: BodyOpt,
    date: Annotated[str, typer.Option("--date", help="Møtedato (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ).")],
    title: Annotated[Optional[str], typer.Option("--title", help="Møtets navn.")] = None,
    county: CountyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Legg inn ett møte. Saker i politisk behandling får frister etter det.

    Fylkeskommunens organ: «avtaleflyt meeting add county --county 18 --body county
    --date 24.06.2027»."""
    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.formatting import parse_date
        from avtaleflyt.services import meetings

        on = parse_date(date, "--date")
        b = meetings.check_body(body)
        kommune = None if knr.strip().lower() == "county" else knr
        if b != "county" and kommune is None:
            from avtaleflyt.domain.errors import InvalidInput

            raise InvalidInput(f"«KNR» mangler: {b} hører til en kommune (f.eks. 1836).",
                               field="kommunenummer")
        if on < runtime.today():  # checked again inside the flow; fail fast here
            from avtaleflyt.domain.errors import InvalidInput
            from avtaleflyt.formatting import format_date

            raise InvalidInput(f"«--date»: møtet {format_date(on)} er før i dag "
                               f"({format_date(runtime.today())}); legg inn kommende møter.",
                               field="date")
        if county is not None:  # an unknown county is refused before a flow starts
            with runtime.session() as s:
                meetings.check_county(s, county)
        return _flow("add_meeting", body=b, meeting_date=on, kommunenummer=kommune,
                     title=title, county=county)

    kommune = None if knr.strip().lower() == "county" else knr
    run_write(go, as_json, Remote("POST", "/meetings", {
        k: v for k, v in {"kommunenummer": kommune, "body": body, "date": date,
                          "title": title, "county": county}.items() if v is not None}))


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="CSV-fil (kommunenummer;organ;dato;tittel) "
                                        "eller iCalendar-fil (.ics).")],
    kommunenummer: Annotated[Optional[str], typer.Option(
        "--kommunenummer", help="For .ics: kommunen møtene gjelder, når filen ikke sier det."
    )] = None,
    body: Annotated[Optional[str], typer.Option(
        "--body", help="For .ics: organet, når møtenavnet ikke sier det.")] = None,
    county: Annotated[Optional[str], typer.Option(
        "--county", help="Fylket for rader med fylkeskommunens organ som ikke selv nevner "
        "fylket (fylkesnummer eller en kommune i fylket i kolonnen kommunenummer).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Importer en møteplan. Alt eller ingenting: én feil i filen stopper hele importen."""
    from pathlib import Path

    def go() -> dict[str, Any]:
        path = Path(file).resolve()
        if not path.is_file():
            from avtaleflyt.domain.errors import InvalidInput

            raise InvalidInput(f"Fant ikke filen {file}.", field="file")
        from avtaleflyt import runtime
        from avtaleflyt.services import preflight

        ctx = runtime.ctx()
        with runtime.session() as s:  # a bad file is refused before a flow starts
            preflight.check_meeting_import(session=s, path=path, kommunenummer=kommunenummer,
                                           body=body, county=county, ctx=ctx)
        return _flow("import_meetings", path=str(path), kommunenummer=kommunenummer,
                     body=body, county=county)

    run_write(go, as_json, _import_request(file, kommunenummer, body, county))


def _import_request(file: str, kommunenummer: str | None, body: str | None,
                    county: str | None) -> Remote | None:
    """`meeting import` through the API: the file uploaded (it is read here, by the user who
    names it, not by the server). None when the file cannot be read: refused in-process."""
    from pathlib import Path

    if client_target() is None:
        return None
    path = Path(file)
    try:
        data = path.read_bytes()
    except OSError:
        raise fail(f"Fant ikke filen {escape(file)}.", 2) from None
    form = {k: v for k, v in {"kommunenummer": kommunenummer, "body": body,
                              "county": county}.items() if v is not None}
    return Remote("POST", "/meetings/import", None, files={"file": (path.name, data)},
                  data=form)


@app.command("list")
def list_(
    knr: Annotated[Optional[str], typer.Argument(
        help="Kommunenummer (viser også fylkeskommunens møter), eller «county».")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Ta med møter som er holdt.")] = False,
    county: Annotated[Optional[str], typer.Option(
        "--county", help="Bare dette fylkets møter (fylkesnummer).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Vis kommende møter (alle, én kommunes, eller fylkeskommunens)."""
    from .output import via_api_all

    rows = via_api_all("/meetings", {"kommunenummer": knr, "all": all_ or None,
                                     "county": county})
    if rows is LOCAL:
        from avtaleflyt import runtime
        from avtaleflyt.services.meetings import list_meetings
        from avtaleflyt.services.scope import scope_for_code

        with user_errors():
            today = runtime.today()
            with runtime.session() as s:
                rows = list_meetings(s, knr, None if all_ else today,
                                     scope_for_code(s, county, "--county"))
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("Ingen møter. Legg inn med «avtaleflyt meeting add» eller "
                      "«avtaleflyt meeting import».")
        return
    t = Table(title="Møteplan", title_justify="left")
    for c in ("Id", "Dato", "Organ", "Fylke", "Kommune", "Tittel"):
        t.add_column(c)
    for r in rows:
        where = f"{r['kommunenummer']} {r['municipality']}" if r["kommunenummer"] else "–"
        t.add_row(str(r["id"]), fmt_iso(r["date"]), r["body_label"], r["county_code"],
                  escape(where), escape(r["title"] or ""))
    console.print(t)


MeetingId = Annotated[int, typer.Argument(help="Møtets id (se «avtaleflyt meeting list»).")]


def _known_meeting(meeting_id: int) -> None:
    """An unknown id is refused before a flow starts."""
    from avtaleflyt import runtime
    from avtaleflyt.services.meetings import _get_meeting

    with runtime.session() as s:
        _get_meeting(s, meeting_id)


@app.command("move")
def move(
    meeting_id: MeetingId,
    date: Annotated[str, typer.Option("--date", help="Ny møtedato (ÅÅÅÅ-MM-DD eller "
                                      "DD.MM.ÅÅÅÅ).")],
    as_json: JsonOpt = False,
) -> None:
    """Flytt et møte til en annen dag. Fristene i sakene det gjelder følger med, og
    historikken sier hva som skjedde."""
    def go() -> dict[str, Any]:
        from avtaleflyt.formatting import parse_date

        on = parse_date(date, "--date")
        _known_meeting(meeting_id)
        return _flow("move_meeting", meeting_id=meeting_id, meeting_date=on)

    run_write(go, as_json, Remote("POST", f"/meetings/{meeting_id}/move", {"date": date}))


@app.command("cancel")
def cancel(meeting_id: MeetingId, as_json: JsonOpt = False) -> None:
    """Avlys et møte. Saker som skulle behandles der, får organets neste møte."""
    def go() -> dict[str, Any]:
        _known_meeting(meeting_id)
        return _flow("cancel_meeting", meeting_id=meeting_id)

    run_write(go, as_json, Remote("POST", f"/meetings/{meeting_id}/cancel", {}))


@app.command("saksgang")
def saksgang_(
    knr: Annotated[str, typer.Argument(help="Kommunenummer (f.eks. 1836).")],
    set_: Annotated[Optional[str], typer.Option(
        "--set", help="Organene i rekkefølge, kommaseparert, siste er kommunestyre "
        "(f.eks. formannskap,kommunestyre), eller «default» for konfigurasjonens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Vis eller sett kommunens saksgang. Saksframlegget skal være klart sin frist før
    møtet i det FØRSTE organet; vedtaket fattes i kommunestyret."""
    if set_ is None:
        from avtaleflyt import runtime
        from avtaleflyt.services.meetings import saksgang

        with user_errors():
            with runtime.session() as s:
                d = saksgang(s, knr, runtime.ctx())
        if as_json:
            print_json(d)
        else:
            console.print(f"Saksgang for {escape(d['municipality'])}: {d['label']}"
                          + ("" if d["own"] else " (standard fra konfigurasjonen)"),
                          highlight=False)
        return

    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.config import check_saksgang
        from avtaleflyt.services.store import get_municipality

        if set_.strip().lower() != "default":
            check_saksgang([b.strip().lower() for b in set_.replace(";", ",").split(",")
                            if b.strip()], "--set")
        with runtime.session() as s:
            get_municipality(s, knr)
        return _flow("set_saksgang", kommunenummer=knr, bodies=set_)

    run_write(go, as_json)
