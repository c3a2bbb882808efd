"""`avtaleflyt sweep | deadlines | reminders list`: the daily sweep and what is due."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from avtaleflyt.domain.kinds import ReminderKind

from .municipalities import CountyOption
from .output import console, fmt_iso, print_json, user_errors

reminders_app = typer.Typer(help="Påminnelser i utboksen (hva som er sendt til hvem).",
                            no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Skriv JSON for skript.")]

KIND_LABELS = {ReminderKind.UPCOMING: "Nærmer seg", ReminderKind.DUE: "I dag",
               ReminderKind.OVERDUE: "Passert", ReminderKind.ESCALATION: "Eskalert",
               ReminderKind.MOVED: "Flyttet", ReminderKind.NO_PLAN: "Mangler møte"}


def sweep(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Vis nøyaktig hva som ville blitt sendt, og til hvem, uten å endre "
        "eller sende noe.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Kjør fristsveipet og send dagens oppsummering til hver mottaker (--today gjelder).

    Sveipet flytter saker der en dato har åpnet porten, holder fristene i politisk
    behandling i takt med møteplanene, lager faste oppgaver i drift og skriver påminnelser.
    Mottakere: AVTALEFLYT_NOTIFY_URLS / AVTALEFLYT_APPRISE_CONFIG (koordinator),
    AVTALEFLYT_LEADER_URLS (eskalering) og AVTALEFLYT_SMTP_URL (e-post til kommunene).
    """
    from avtaleflyt import runtime

    with user_errors():
        if dry_run:
            result = _dry_run(runtime)
        else:
            from avtaleflyt.flows.sweep import deadline_sweep

            with console.status("Kjører fristsveipet …"):
                result = runtime.run_flow(deadline_sweep)  # --today is in the settings
    if as_json:
        print_json(result)
        return
    _print_sweep(result)


def _dry_run(runtime) -> dict[str, Any]:
    from avtaleflyt.services.sweep import dry_run_session, run_sweep
    from avtaleflyt.notifications.channels import TargetBook

    ctx = runtime.ctx(None, "deadline-sweep")
    targets = TargetBook.from_settings(runtime.settings())
    with dry_run_session(runtime.settings().effective_database_url) as s:
        return run_sweep(session=s, ctx=ctx, targets=targets, dry_run=True).as_dict()


def _print_sweep(r: dict[str, Any]) -> None:
    from avtaleflyt.formatting import format_count as n
    from avtaleflyt.domain.kinds import status_text

    prefix = "Prøvekjøring – ingenting er endret eller sendt. " if r["dry_run"] else ""
    console.print(
        f"{prefix}Fristsveip for {fmt_iso(r['today'])}: "
        f"{n(len(r['advanced']), 'sak', 'saker')} flyttet, "
        f"{n(r['tasks_rescheduled'], 'politisk frist', 'politiske frister')} satt eller "
        f"flyttet, {n(r['duties_created'], 'fast oppgave', 'faste oppgaver')} laget, "
        f"{n(r['reminders_new'], 'ny påminnelse', 'nye påminnelser')}, "
        f"{n(r['overdue_tasks'], 'oppgave', 'oppgaver')} på overtid.", highlight=False)
    if r.get("day_off"):
        console.print(f"{escape(r['day_off'])} er ikke en arbeidsdag: ingen påminnelser "
                      "sendes i dag; de kommer neste arbeidsdag.", highlight=False)
        return
    if not r["sent"]:
        console.print("Ingen oppsummeringer å sende.")
        return
    if r["dry_run"]:
        for d in r["sent"]:
            targets = ", ".join(t["target"] for t in d["targets"]) or status_text(d)
            who = d.get("recipient_label") or d["recipient"]
            console.rule(f"Til {escape(who)}: {escape(targets)}")
            console.print(f"[bold]{escape(d['title'])}[/]", highlight=False)
            console.print(escape(d["text"]), highlight=False)
        return
    t = Table(title="Sendt", title_justify="left")
    for c in ("Mottaker", "Status", "Punkter", "Mål", "Feil"):
        t.add_column(c)
    for d in r["sent"]:
        t.add_row(escape(d.get("recipient_label") or d["recipient"]), status_text(d),
                  str(d["items"]), escape(", ".join(x["target"] for x in d["targets"]) or "–"),
                  escape("; ".join(x["error"] for x in d["targets"] if x.get("error"))))
    console.print(t)
    unset = sum(1 for d in r["sent"] if d.get("no_target"))
    console.print(f"{r['sent_count']} sendt, {r['failed_count'] - unset} feilet"
                  + (f", {unset} uten mottaker (sett opp AVTALEFLYT_NOTIFY_URLS eller "
                     "AVTALEFLYT_APPRISE_CONFIG)" if unset else "") + ".", highlight=False)


def deadlines_cmd(
    days: Annotated[int, typer.Option("--days", min=0, max=3650,
                                      help="Vis frister de neste N dagene.")] = 14,
    as_json: JsonOpt = False,
    county: CountyOption = None,
) -> None:
    """Vis åpne oppgaver med frist de neste N dagene, og dem som alt er passert.

    Uten --county vises fristene i alle fylkene."""
    from .output import LOCAL, via_api_all

    rows = via_api_all("/deadlines", {"days": days, "county": county})
    if rows is LOCAL:
        from avtaleflyt import runtime
        from avtaleflyt.services.deadlines import deadline_rows
        from avtaleflyt.services.scope import scope_for_code

        with user_errors():
            today = runtime.today()
            with runtime.session() as s:
                rows = deadline_rows(s, today, days, scope_for_code(s, county, "--county"))
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"Ingen åpne frister de neste {days} dagene.")
        return
    from avtaleflyt.formatting import format_days

    t = Table(title=f"Frister til og med {format_days(days)} frem", title_justify="left")
    for c in ("Frist", "Knr", "Kommune", "Oppgave", "Id", "Ansvar", "Dager"):
        t.add_column(c)
    for r in rows:
        left = r["days_left"]
        when = f"[red]{-left} på overtid[/]" if left < 0 else ("i dag" if left == 0 else str(left))
        t.add_row(fmt_iso(r["due_on"]), r["kommunenummer"], escape(r["municipality"]),
                  escape(r["title"]), str(r["task_id"]),
                  "Kommunen" if r["responsible"] == "municipality" else "Fylket", when)
    console.print(t)


@reminders_app.command("list")
def reminders_list(
    days: Annotated[int, typer.Option("--days", min=1, max=3650,
                                      help="Påminnelser laget de siste N dagene.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Vis påminnelsene i utboksen: hva, til hvem, og om oppsummeringen er sendt."""
    from datetime import timedelta

    from .output import LOCAL, client_today, via_api_all

    rows = via_api_all("/reminders", {"days": days})
    if rows is not LOCAL:
        since = client_today() - timedelta(days=days)  # for «none since …»
    else:
        from avtaleflyt import runtime
        from avtaleflyt.services.reminders import reminder_rows

        with user_errors():
            today = runtime.today()
            since = today - timedelta(days=days)
            with runtime.session() as s:
                rows = reminder_rows(s, since=since, ctx=runtime.ctx())
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"Ingen påminnelser laget siden {fmt_iso(since.isoformat())}.",
                      highlight=False)
        return
    from avtaleflyt.domain.kinds import status_text

    t = Table(title="Påminnelser", title_justify="left")
    for c in ("Laget", "Type", "Mottaker", "Kommune", "Oppgave", "Frist", "Status"):
        t.add_column(c)
    for r in rows:
        t.add_row(fmt_iso(r["created_on"]), KIND_LABELS.get(r["kind"], r["kind"]),
                  escape(r["recipient_label"]), escape(r["municipality"]), escape(r["task"]),
                  fmt_iso(r["due_on"]), status_text(r))
    console.print(t)
