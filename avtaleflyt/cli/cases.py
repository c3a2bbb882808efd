"""`avtaleflyt case|task|note|contact …`: the coordinator's daily commands."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from avtaleflyt.domain.facts import (
    FACTS,
    OUTCOME_VALUES,
    PARTY_VALUES,
    RENEWAL_VALUES,
    THEME_VALUES,
    FactKind,
)
from avtaleflyt.domain.kinds import StatusAction

from .output import (
    LOCAL,
    Remote,
    console,
    fmt_iso,
    print_json,
    run_write,
    stage_label,
    status_label,
    user_errors,
    via_api,
)

case_app = typer.Typer(help="Saker: åpne, registrere fakta, vise, sette på vent.",
                       no_args_is_help=True)
split_app = typer.Typer(
    help="Sakens grenseoppgang (ansvarsfordeling): vis og endre rad for rad til avtalen "
    "er signert.", no_args_is_help=True)
case_app.add_typer(split_app, name="split")
task_app = typer.Typer(help="Oppgaver i sjekklistene.", no_args_is_help=True)
note_app = typer.Typer(help="Erfaringsnotater.", no_args_is_help=True)
contact_app = typer.Typer(help="Kontaktpersoner i kommunene (personopplysninger).",
                          no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")]
DateOpt = Annotated[Optional[str], typer.Option(
    "--date", help="Datoen det skjedde (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ). Standard: i dag.")]
Knr = Annotated[str, typer.Argument(help="Kommunenummer, fire siffer (f.eks. 1836).")]


def _date(value: str | None, field: str = "--date"):
    if value is None:
        return None
    from avtaleflyt.formatting import parse_date

    return parse_date(value, field)


def _flow(name: str, **params: Any) -> dict[str, Any]:
    """Store the command in the inbox and run its flow (given only the command's id) as a
    Prefect flow run in this process. One idempotency key per invocation."""
    from avtaleflyt import runtime

    from .output import command_key

    return runtime.run_command(name, key=command_key(), **params)


def _iso(value: str | None, field: str = "--date") -> str | None:
    """A date option as the API takes it (ISO), refused here as in-process when malformed."""
    if value is None:
        return None
    with user_errors():
        return _date(value, field).isoformat()


def _body(**fields: Any) -> dict[str, Any]:
    """A request body: the options given (None: not given, the server's default)."""
    return {k: v for k, v in fields.items() if v is not None}


def _preflight(check, **params: Any) -> None:
    """Refuse bad input before Prefect starts (see services/preflight.py). Not for a retry
    of a command whose change is already saved (its key is `applied` or `done` in the
    inbox): the case has moved on, and the inbox finishes or answers that command."""
    from avtaleflyt import runtime
    from avtaleflyt.services import inbox

    from .output import command_key

    ctx = runtime.ctx()
    with runtime.session() as s:
        if inbox.status_of(s, command_key()) in (inbox.APPLIED, inbox.DONE):
            return
        check(session=s, ctx=ctx, **params)


@case_app.command("open")
def open_(knr: Knr, date: DateOpt = None, as_json: JsonOpt = False) -> None:
    """Åpne en ny sak for en kommune (fasen Førstekontakt)."""
    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.services import preflight

        on = _date(date)
        _preflight(preflight.check_open, kommunenummer=knr, opened_on=on or runtime.today())
        return _flow("open_case", kommunenummer=knr, opened_on=on)

    run_write(go, as_json, Remote("POST", "/cases", _body(kommunenummer=knr,
                                                          date=_iso(date))))


def _fact_help() -> str:
    """One line per fact, from the table: what to type, and what it means."""
    return "; ".join(f"{s.cli_name} ({s.label.lower()})" for s in FACTS.values()) + "."


def _record_doc() -> str:
    """`case record --help`: the fields each fact takes, from the table."""
    lines = []
    for s in FACTS.values():
        needs = [f.option for f in s.fields if f.required]
        if s.kind is FactKind.TERMS_SET:
            needs.insert(1, "--years og/eller --months")
        more = f": krever {', '.join(needs)}" if needs else ""
        lines.append(f"{s.cli_name} (eller {s.aliases[0]}) – {s.label} (fasen "
                     f"{s.stage.label}){more}.")
    return "\n\n    ".join(lines)


@case_app.command("record")
def record(
    knr: Knr,
    fact: Annotated[str, typer.Argument(
        help="Hva som skjedde: " + _fact_help(), metavar="HENDELSE")],
    date: DateOpt = None,
    outcome: Annotated[Optional[str], typer.Option(
        help=f"Utfall av vedtak: {OUTCOME_VALUES.either()}.")] = None,
    ref: Annotated[Optional[str], typer.Option(help="Saksnummer eller referanse.")] = None,
    party: Annotated[Optional[str], typer.Option(
        help="Hvem som signerte (signed) eller sa opp avtalen (notice-given): "
        f"{PARTY_VALUES.either()}.")] = None,
    start: Annotated[Optional[str], typer.Option(help="Avtalens startdato.")] = None,
    years: Annotated[Optional[str], typer.Option(help="Avtalens varighet i år.")] = None,
    months: Annotated[Optional[str], typer.Option(
        "--months", help="Varighet i måneder, alene (en pilot på 4 måneder: --months 4) "
        "eller i tillegg til --years.")] = None,
    renewal: Annotated[Optional[str], typer.Option(
        "--renewal", help=f"Ved sluttdato: {RENEWAL_VALUES.either()} (fast: avtalen går "
        "ut; automatisk: fornyes med samme lengde om den ikke sies opp). Standard fra "
        "konfigurasjonen.")
    ] = None,
    notice_months: Annotated[Optional[str], typer.Option(
        "--notice-months", help="Oppsigelsestid i måneder.")] = None,
    price: Annotated[Optional[str], typer.Option(help="Pris per år i kroner.")] = None,
    position_share: Annotated[Optional[str], typer.Option(
        "--position-share", help="Andel av en stilling i prosent.")] = None,
    site_visits: Annotated[Optional[str], typer.Option(
        "--site-visits", help="Besøk i kommunen per år.")] = None,
    situation: Annotated[Optional[str], typer.Option(
        "--situation", help="needs-assessed: kommunens situasjon slik behovet ble kartlagt "
        "(saksframlegget gjengir den; kan sladdes som et notat).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Registrer noe som har skjedd i saken. Saken går videre når fasen er fullført.

    {facts}

    Verdier skrives på norsk (--outcome vedtatt, --party kommunen, --renewal automatisk);
    de engelske nøklene (approved, municipality, auto) virker også. For terms-set har
    --price, --position-share, --site-visits og --renewal standardverdier fra
    konfigurasjonen (kr 120 000, 20 %, 4 besøk og fast).

    notice-given (i drift, bare for avtaler som fornyes automatisk) krever --party: hvem som
    sa opp; --date er dagen oppsigelsen ble gitt. Gitt senest på periodens
    oppsigelsesfrist slutter avtalen ved periodens slutt, ellers ved slutten av neste
    periode.

    Eksempel: avtaleflyt case record 1836 council-decision --outcome vedtatt --ref "PS 21/20"

    Eksempel: avtaleflyt case record 1836 notice-given --party kommunen --date 2027-03-15
    """
    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.services.facts import build_fact

        options = {"outcome": outcome, "reference": ref, "party": party, "start": start,
                   "years": years, "months": months, "renewal": renewal,
                   "notice_months": notice_months, "price": price,
                   "position_share": position_share, "site_visits": site_visits}
        options = {k: v for k, v in options.items() if v is not None}
        from avtaleflyt.services import preflight

        on = _date(date)
        fact_input = build_fact(fact, on or runtime.today(), options, runtime.ctx())
        from avtaleflyt.services.cases import check_situation
        from avtaleflyt.services.texts import clean

        check_situation(fact_input, situation)
        clean(situation, "situation", required=False)  # refused before anything is stored
        _preflight(preflight.check_fact, kommunenummer=knr, fact=fact_input)
        extra = {"situation": situation} if situation is not None else {}
        return _flow("record_fact", kommunenummer=knr, fact=fact, occurred_on=on,
                     options=options, **extra)

    remote = Remote("POST", f"/cases/{knr}/facts", _body(
        fact=fact, date=_iso(date), outcome=outcome, reference=ref, party=party, start=start,
        years=years, months=months, renewal=renewal, notice_months=notice_months, price=price,
        position_share=position_share, site_visits=site_visits, situation=situation))
    run_write(go, as_json, remote)


record.__doc__ = (record.__doc__ or "").replace("{facts}", _record_doc())


def _status_command(action: StatusAction, knr: str, date: str | None, reason: str | None,
                    as_json: bool) -> None:
    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.services import preflight

        on = _date(date)
        _preflight(preflight.check_status_change, kommunenummer=knr, action=action,
                   on=on or runtime.today(), reason=reason)
        return _flow("change_status", kommunenummer=knr, action=action, on=on, reason=reason)

    path = {StatusAction.HOLD: "hold", StatusAction.RESUME: "resume",
            StatusAction.WITHDRAW: "withdraw"}[action]
    run_write(go, as_json, Remote("POST", f"/cases/{knr}/{path}",
                                  _body(date=_iso(date), reason=reason)))


ReasonOpt = Annotated[Optional[str], typer.Option("--reason", help="Begrunnelse.")]


@case_app.command("hold")
def hold(knr: Knr, date: DateOpt = None, reason: ReasonOpt = None,
         as_json: JsonOpt = False) -> None:
    """Sett saken på vent. Fristene stanser til saken gjenopptas."""
    _status_command(StatusAction.HOLD, knr, date, reason, as_json)


@case_app.command("resume")
def resume(knr: Knr, date: DateOpt = None, as_json: JsonOpt = False) -> None:
    """Gjenoppta en sak som er satt på vent; åpne frister flyttes like mange dager."""
    _status_command(StatusAction.RESUME, knr, date, None, as_json)


@case_app.command("withdraw")
def withdraw(knr: Knr, date: DateOpt = None, reason: ReasonOpt = None,
             as_json: JsonOpt = False) -> None:
    """Trekk saken (kommunen eller fylket går ikke videre)."""
    _status_command(StatusAction.WITHDRAW, knr, date, reason, as_json)


@case_app.command("advance")
def advance(knr: Knr, as_json: JsonOpt = False) -> None:
    """Kjør onboarding-flyten for saken nå: flytt den så langt portene tillater
    (f.eks. til Drift når startdatoen er nådd). Den daglige kjøringen gjør dette for alle."""
    run_write(lambda: advance_case(knr), as_json, Remote("POST", f"/cases/{knr}/advance", {}))


def advance_case(knr: str, actor: str | None = None) -> dict[str, Any]:
    """Run the onboarding flow for the case now, and say what it did (`case advance`; the
    API's POST /cases/{knr}/advance answers the same, with the token's user as `actor`)."""
    from avtaleflyt import runtime

    if actor is not None:  # the flow takes who acts from the settings, never a parameter
        with runtime.use_settings(runtime.settings().model_copy(update={"user": actor})):
            return advance_case(knr)
    from avtaleflyt.domain.errors import DomainError
    from avtaleflyt.domain.stages import Stage
    from avtaleflyt.flows.onboarding import onboarding
    from avtaleflyt.services.cases import current_stage

    try:
        with runtime.session() as s:
            before = current_stage(session=s, kommunenummer=knr)
    except DomainError:
        before = None  # the flow refuses it with the usual message
    result = runtime.run_flow(onboarding, kommunenummer=knr, today=runtime.today())
    moved = len(result["transitions"])
    if not moved and before is not None and result["stage"] != before:
        # The flow run was run again after a failed request to Prefect
        # (`runtime._with_retries`): the first attempt moved the case, the rerun found
        # nothing left to do. Say where the case is now, not "no change".
        result["message"] = f"Saken gikk videre til {Stage(result['stage']).label}."
    elif moved:
        result["message"] = ("Saken gikk videre én fase." if moved == 1 else
                             f"Saken gikk videre {moved} faser.")
    elif result["status"] == "on_hold":
        result["message"] = "Ingen endring: saken er satt på vent."
    elif result["status"] != "active":
        from avtaleflyt.domain.stages import CaseStatus

        result["message"] = (f"Ingen endring: saken er avsluttet "
                             f"({CaseStatus(result['status']).label.lower()}).")
    else:
        result["message"] = "Ingen endring: saken venter fortsatt."
    return result


@case_app.command("show")
def show(knr: Knr, as_json: JsonOpt = False) -> None:
    """Vis saken: fase, status, oppgaver med id, historikk og avtalevilkår."""
    d = via_api("GET", f"/cases/{knr}")
    if d is LOCAL:
        from avtaleflyt import runtime
        from avtaleflyt.services.queries import case_detail

        with user_errors():
            today = runtime.today()
            with runtime.session() as s:
                d = case_detail(s, knr, today)
    if as_json:
        print_json(d)
        return
    _print_case(d)


def _term_text(t: dict[str, Any]) -> str:
    """'3 år', '4 måneder', '1 år og 6 måneder', with ', fornyes automatisk' or ', fast
    periode'."""
    parts = [f"{t['years']} år"] if t["years"] else []
    if t.get("months"):
        parts.append(f"{t['months']} måned{'er' if t['months'] != 1 else ''}")
    renewal = ("fornyes automatisk om den ikke sies opp" if t.get("renewal") == "auto"
               else "fast periode")
    return f"{' og '.join(parts)}, {renewal}"


def _print_case(d: dict[str, Any]) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(d['municipality'])}[/] ({d['kommunenummer']}) – "
                  f"fase [bold]{stage_label(d['stage'])}[/] siden {fmt_iso(d['stage_entered_on'])}"
                  f", {status_label(d['status'])}", highlight=False)
    if d["waiting_for"]:
        console.print("Venter på: " + ", ".join(escape(w) for w in d["waiting_for"]),
                      highlight=False)
    tasks = Table(title="Oppgaver", title_justify="left")
    for c in ("Id", "Fase", "Oppgave", "Ansvar", "Frist", "Gjort"):
        tasks.add_column(c)
    for t in d["tasks"]:
        due = fmt_iso(t["due_on"])
        tasks.add_row(str(t["id"]), stage_label(t["stage"]), escape(t["title"]),
                      "Fylket" if t["responsible"] == "county" else "Kommunen",
                      f"[red]{due}[/]" if t["overdue"] else due, fmt_iso(t["done_on"]))
    console.print(tasks)
    hist = Table(title="Historikk", title_justify="left")
    for c in ("Dato", "Hendelse", "Registrert av"):
        hist.add_column(c)
    for e in d["history"]:
        hist.add_row(fmt_iso(e["occurred_on"]), escape(e["label"]), escape(e["recorded_by_label"]))
    console.print(hist)
    if d["terms"]:
        from avtaleflyt.formatting import format_amount, format_percent

        t = d["terms"]
        console.print(
            f"Avtale: fra {fmt_iso(t['start_date'])} til {fmt_iso(t['end_date'])} "
            f"({_term_text(t)}), oppsigelse {t['notice_months']} mnd (frist "
            f"{fmt_iso(t['notice_deadline'])}), {format_amount(t['yearly_price'])} per år, "
            f"{format_percent(t['position_share'])} stilling, {t['site_visits_per_year']} "
            "besøk per år.", highlight=False)
        if t.get("notice"):
            console.print(f"[bold]{escape(t['notice']['text'])}.[/]", highlight=False)
        split = Table(title="Grenseoppgang", title_justify="left")
        split.add_column("Oppgave")
        split.add_column("Ansvar")
        for r in t["responsibility_split"]:
            split.add_row(escape(r["task"]),
                          "Fylkeskommunen" if r["responsible"] == "county" else "Kommunen")
        console.print(split)
    if d["notes"]:
        console.print("[bold]Erfaringsnotater[/]")
        for n in d["notes"]:
            console.print(f"  {fmt_iso(n['noted_on'])} [{escape(n['theme_label'])}] "
                          f"{escape(n['text'])}{' (delt)' if n.get('shared') else ''} "
                          f"(tekst {n['text_id']})", highlight=False)
    if d.get("contacts"):
        console.print("[bold]Kontaktpersoner[/]")
        for c in d["contacts"]:
            star = " (primær)" if c["primary"] else ""
            console.print(f"  {escape(c['name'])}, {escape(c['role'])} – {escape(c['email'])}"
                          f"{' – ' + escape(c['phone']) if c['phone'] else ''}{star}",
                          highlight=False)


@task_app.command("done")
def task_done(
    task_id: Annotated[list[int], typer.Argument(
        help="Oppgavens id (se «case show»). Flere id-er: alle får samme dato.")],
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Marker en eller flere oppgaver i sjekklisten som gjort.

    Alle oppgavene sjekkes først: avvises én, blir ingen av dem markert som gjort."""
    from .output import command_key, outcome

    answer = Remote("POST", "/tasks/done", {"task_ids": list(task_id),
                                            **_body(date=_iso(date))}).send()
    if answer is not LOCAL:
        from .output import print_done

        print_done(answer, as_json)
        return
    from avtaleflyt import runtime
    from avtaleflyt.services import mytasks

    with user_errors():
        ids = mytasks.parse_task_ids([str(i) for i in task_id], field="task_id")
        on = _date(date)
        ctx = runtime.ctx()
        with runtime.session() as s:  # refused before any flow run starts
            refusals = mytasks.check_completions(s, ids, on or ctx.today, ctx)
        if (refused := mytasks.refusal_error(refusals, len(ids))) is not None:
            raise refused  # one task: word for word what the flow would say
    if len(ids) == 1:
        run_write(lambda: _flow("complete_task", task_id=ids[0], done_on=on), as_json)
        return
    key, results = command_key(), []
    for task_id in ids:  # one command (and idempotency key) per task
        with user_errors():
            results.append(runtime.run_command("complete_task", key=f"{key[:60]}:{task_id}",
                                               task_id=task_id, done_on=on))
        if not as_json:
            outcome(results[-1], False)
    if as_json:
        from .output import print_json

        print_json(results)


@task_app.command("assign")
def task_assign(
    task_id: Annotated[int, typer.Argument(help="Oppgavens id (se «case show»).")],
    contact: Annotated[Optional[int], typer.Option(
        "--contact", help="Kontaktpersonens id (se «contact list KNR»); bare for kommunens "
        "oppgaver.")] = None,
    user: Annotated[Optional[str], typer.Option(
        "--user", help="Brukernavnet til en av fylkets brukere (se «user list»); oppgaven "
        "vises på brukerens «Mine oppgaver».")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Gi en oppgave en navngitt ansvarlig: en kontaktperson i kommunen (--contact) eller en
    bruker i fylket (--user). Uten begge: tilbake til standard ansvarlig (fylkets
    koordinator, eller kommunens primærkontakt)."""
    def go() -> dict[str, Any]:
        from avtaleflyt.services import preflight

        _preflight(preflight.check_assign, task_id=task_id, contact_id=contact, user=user)
        return _flow("assign_task", task_id=task_id, contact_id=contact, username=user)

    run_write(go, as_json, Remote("POST", f"/tasks/{task_id}/assign",
                                  {"contact_id": contact, "user": user}))


@note_app.command("add")
def note_add(
    knr: Knr,
    text: Annotated[str, typer.Argument(help="Hva dere erfarte.")],
    theme: Annotated[str, typer.Option(
        help=f"Tema: {THEME_VALUES.either()} (i anførselstegn når det har mellomrom; de "
        "engelske nøklene, f.eks. engagement, virker også).")] = "annet",
    date: DateOpt = None,
    share: Annotated[bool, typer.Option(
        "--share", help="Del notatet med andre fylker: det vises da også i "
        "sammenligningen av fylkene. Uten --share vises det bare i fylkets egne rapporter."
    )] = False,
    as_json: JsonOpt = False,
) -> None:
    """Legg til et erfaringsnotat i kommunens sak."""
    def go():
        from avtaleflyt.services.facts import parse_theme

        from avtaleflyt.domain.text import check_text

        from avtaleflyt import runtime
        from avtaleflyt.services import preflight

        parse_theme(theme)
        check_text(text, "text", 5000, multiline=True)
        on = _date(date)
        _preflight(preflight.check_note, kommunenummer=knr, noted_on=on or runtime.today())
        return _flow("add_note", kommunenummer=knr, theme=theme, text=text,
                     noted_on=on, shared=share)

    run_write(go, as_json, Remote("POST", f"/cases/{knr}/notes", _body(
        text=text, theme=theme, date=_iso(date), share=share)))


@contact_app.command("add")
def contact_add(
    knr: Knr,
    name: Annotated[str, typer.Option("--name", help="Navn.")],
    role: Annotated[str, typer.Option("--role", help="Rolle, f.eks. kommunedirektør.")],
    email: Annotated[str, typer.Option("--email", help="E-postadresse.")],
    phone: Annotated[Optional[str], typer.Option("--phone", help="Telefon.")] = None,
    primary: Annotated[bool, typer.Option(
        "--primary", help="Primærkontakt: får kommunens påminnelser.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Legg til en kontaktperson i kommunen."""
    from avtaleflyt import runtime

    def go():
        from avtaleflyt.services.people import add_contact

        with runtime.session() as s:
            return add_contact(session=s, kommunenummer=knr, name=name, role=role, email=email,
                               phone=phone, primary=primary, ctx=runtime.ctx()).as_dict()

    run_write(go, as_json, Remote("POST", f"/cases/{knr}/contacts", _body(
        name=name, role=role, email=email, phone=phone, primary=primary)))


ContactId = Annotated[int, typer.Argument(help="Kontaktpersonens id (se «contact list KNR»).")]


@contact_app.command("edit")
def contact_edit(
    contact_id: ContactId,
    name: Annotated[Optional[str], typer.Option("--name", help="Nytt navn.")] = None,
    role: Annotated[Optional[str], typer.Option("--role", help="Ny rolle.")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="Ny e-postadresse.")] = None,
    phone: Annotated[Optional[str], typer.Option(
        "--phone", help="Nytt telefonnummer («» fjerner det).")] = None,
    primary: Annotated[Optional[bool], typer.Option(
        "--primary/--not-primary", help="Gjør til (eller fjern som) kommunens "
        "primærkontakt; den gamle primærkontakten mister merket.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rett opplysningene om en kontaktperson (bare feltene du oppgir endres)."""
    from avtaleflyt import runtime

    def go():
        from avtaleflyt.services.people import edit_contact

        with runtime.session() as s:
            return edit_contact(session=s, contact_id=contact_id, name=name, role=role,
                                email=email, phone=phone, primary=primary,
                                ctx=runtime.ctx()).as_dict()

    run_write(go, as_json, Remote("PATCH", f"/contacts/{contact_id}", _body(
        name=name, role=role, email=email, phone=phone, primary=primary)))


@contact_app.command("erase")
def contact_erase(
    contact_id: ContactId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ikke spør om bekreftelse.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Slett en kontaktperson helt (personvern): fra kontaktlisten, oppgavene, lagrede
    meldinger og lagrede dokumenter. Historikken beholder bare at id-en ble slettet."""
    from avtaleflyt import runtime

    from .output import client_target, fail

    if not yes and client_target() is not None:
        if not typer.confirm(f"Slette kontaktperson {contact_id} for godt, også fra lagrede "
                             "dokumenter og meldinger? Dette kan ikke angres.", default=False):
            console.print("Avbrutt; ingenting er slettet.")
            raise typer.Exit(1)
    elif not yes:
        with user_errors(), runtime.session() as s:
            from avtaleflyt.models import ContactPerson

            c = s.get(ContactPerson, contact_id)
            if c is None:
                raise fail(f"Fant ingen kontaktperson med id {contact_id}.", 1)
            who = f"{c.name} ({c.email})"
        if not typer.confirm(f"Slette {who} for godt, også fra lagrede dokumenter og "
                             "meldinger? Dette kan ikke angres.", default=False):
            console.print("Avbrutt; ingenting er slettet.")
            raise typer.Exit(1)

    def go():
        from avtaleflyt.services.people import erase_contact

        with runtime.session() as s:
            return erase_contact(session=s, contact_id=contact_id, ctx=runtime.ctx()).as_dict()

    run_write(go, as_json, Remote("DELETE", f"/contacts/{contact_id}"))


@contact_app.command("list")
def contact_list(knr: Knr, as_json: JsonOpt = False) -> None:
    """Vis kommunens kontaktpersoner."""
    from rich.markup import escape

    from .output import via_api_all

    rows = via_api_all(f"/cases/{knr}/contacts")
    if rows is LOCAL:
        from avtaleflyt import runtime
        from avtaleflyt.services.queries import municipality_contacts

        with user_errors(), runtime.session() as s:
            rows = municipality_contacts(s, knr)
    if as_json:
        print_json(rows)
        return
    t = Table(title="Kontaktpersoner", title_justify="left")
    for c in ("Id", "Navn", "Rolle", "E-post", "Telefon", "Primær"):
        t.add_column(c)
    for c in rows:
        t.add_row(str(c["id"]), escape(c["name"]), escape(c["role"]), escape(c["email"]),
                  escape(c["phone"] or ""), "ja" if c["primary"] else "")
    console.print(t)


def redact(
    text_id: Annotated[Optional[int], typer.Argument(
        help="Tekstens id (se «case show KNR» eller «redact --list KNR»).")] = None,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", help="Hvorfor teksten sladdes (lagres, vises ikke i historikken).")] = None,
    list_: Annotated[Optional[str], typer.Option(
        "--list", help="Vis kommunens fritekster (notater, begrunnelser) med id.",
        metavar="KNR")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sladd en fritekst som kan navngi personer (et erfaringsnotat eller en begrunnelse).

    Teksten erstattes med «[sladdet]» overalt: i saken, på dashbordet, i rapportene og i
    lagrede dokumenter. Historikken får en hendelse om hvem som sladdet hvilken tekst (id-en,
    aldri teksten). For driftsansvarlige.
    """
    from avtaleflyt import runtime
    from avtaleflyt.services import texts

    if list_ is not None:
        from rich.markup import escape

        with user_errors(), runtime.session() as s:
            rows = texts.list_texts(s, list_)
        if as_json:
            print_json(rows)
            return
        t = Table(title="Fritekster", title_justify="left")
        for c in ("Id", "Type", "Tekst", "Sladdet"):
            t.add_column(c)
        for r in rows:
            t.add_row(str(r["id"]), "notat" if r["kind"] == "note" else "begrunnelse",
                      escape(r["text"]), fmt_iso(r["redacted_at"][:10]) if r["redacted_at"]
                      else "")
        console.print(t)
        return

    def go() -> dict[str, Any]:
        from avtaleflyt.domain.errors import InvalidInput

        if text_id is None:
            raise InvalidInput("«TEXT_ID» mangler: oppgi tekstens id, eller bruk --list KNR.",
                               field="text_id")
        with runtime.session() as s:
            return texts.redact(session=s, text_id=text_id, reason=reason or "",
                                ctx=runtime.ctx())

    run_write(go, as_json)


@split_app.command("show")
def split_show(knr: Knr, as_json: JsonOpt = False) -> None:
    """Vis sakens grenseoppgang med radnummer."""
    from avtaleflyt import runtime
    from avtaleflyt.services.split import split_rows

    with user_errors():
        with runtime.session() as s:
            d = split_rows(s, knr)
    if as_json:
        print_json(d)
        return
    from rich.markup import escape

    t = Table(title=f"Grenseoppgang for {d['municipality']} ({d['kommunenummer']})",
              title_justify="left")
    for c in ("Rad", "Oppgave", "Ansvar"):
        t.add_column(c)
    for r in d["rows"]:
        t.add_row(str(r["row"]), escape(r["task"]), r["responsible_label"])
    console.print(t)
    if not d["editable"]:
        console.print("Avtalen er signert" + (f" {fmt_iso(d['signed_on'])}" if d["signed_on"]
                                               else "") + "; grenseoppgangen kan ikke endres.")


def _split_change(knr: str, action: str, as_json: bool, **params: Any) -> None:
    def go() -> dict[str, Any]:
        from avtaleflyt import runtime
        from avtaleflyt.services.split import split_rows

        with runtime.session() as s:
            split_rows(s, knr)  # an unknown municipality or case is refused before Prefect
        return _flow("change_split", kommunenummer=knr, action=action, **params)

    run_write(go, as_json)


@split_app.command("set")
def split_set(
    knr: Knr,
    row: Annotated[int, typer.Argument(help="Radnummeret (se «case split show»).")],
    responsible: Annotated[Optional[str], typer.Option(
        "--responsible", help=f"Hvem som har ansvaret: {PARTY_VALUES.either()}.")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="Ny tekst for raden.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Endre hvem som har ansvaret for en rad, og/eller radens tekst.

    Eksempel: avtaleflyt case split set 1836 2 --responsible kommunen"""
    _split_change(knr, "set", as_json, row=row, responsible=responsible, task=task)


@split_app.command("add")
def split_add(
    knr: Knr,
    task: Annotated[str, typer.Option("--task", help="Oppgaven.")],
    responsible: Annotated[str, typer.Option(
        "--responsible", help=f"Hvem som har ansvaret: {PARTY_VALUES.either()}.")],
    as_json: JsonOpt = False,
) -> None:
    """Legg til en rad nederst i grenseoppgangen."""
    _split_change(knr, "add", as_json, task=task, responsible=responsible)


@split_app.command("remove")
def split_remove(
    knr: Knr,
    row: Annotated[int, typer.Argument(help="Radnummeret (se «case split show»).")],
    as_json: JsonOpt = False,
) -> None:
    """Fjern en rad fra grenseoppgangen."""
    _split_change(knr, "remove", as_json, row=row)
