"""`avtaleflyt demo`: a realistic Nordland year, driven through the real flows.

The year ends today (or on --today). Every step runs with the clock set to the day it
happens, exactly as a coordinator who recorded things as they happened would have done it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .output import console, status_table

YEAR = 330  # days the demo spans, ending on its "today"
SETUP_KEYS = ("setup.user_account", "setup.email", "setup.library_system",
              "setup.archive_system", "setup.finance_hr", "setup.local_contact",
              "setup.first_visit")


@dataclass(frozen=True)
class Step:
    offset: int  # days after the demo's first day
    knr: str
    action: str  # open, record, task, hold, withdraw, note, contact, advance
    args: dict[str, Any] = field(default_factory=dict)


def _first_of_month_after(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


def scenario(start: date) -> list[Step]:
    """Ten municipalities, each stopping somewhere different on the way."""
    rodoy_start = _first_of_month_after(start + timedelta(days=170))
    meloy_start = _first_of_month_after(start + timedelta(days=318))
    s: list[Step] = []

    def path(knr, opened, meeting, needs, intent):
        s.extend([Step(opened, knr, "open"), Step(meeting, knr, "record", {"fact": "meeting-held"}),
                  Step(needs, knr, "record", {"fact": "needs-assessed"}),
                  Step(intent, knr, "record", {"fact": "intent-confirmed"})])

    def decision(offset, knr, who, outcome, ref=None):
        s.append(Step(offset, knr, "record", {"fact": f"{who}-decision", "outcome": outcome,
                                              **({"reference": ref} if ref else {})}))

    def terms(offset, knr, start_date):
        s.append(Step(offset, knr, "record", {
            "fact": "terms-set", "start": start_date.isoformat(), "years": "3",
            "notice_months": "6", "price": "120000", "position_share": "20"}))

    def sign(offset, knr, party):
        s.append(Step(offset, knr, "record", {"fact": "signed", "party": party}))

    # Rødøy: the pilot municipality, all the way to running operation.
    path("1836", 0, 8, 8, 15)
    s.append(Step(20, "1836", "note", {"theme": "engagement", "text":
        "Kommunedirektøren og ordføreren var med fra første møte; det gjorde politisk "
        "behandling enkel."}))
    decision(60, "1836", "council", "approved", "PS 21/20")
    decision(74, "1836", "county", "approved", "FT 45/21")
    terms(80, "1836", rodoy_start)
    sign(88, "1836", "municipality")
    sign(90, "1836", "county")
    s.append(Step(95, "1836", "note", {"theme": "responsibility_split", "text":
        "Uklart hvem som godkjenner innkjøp under 5 000 kr; avklart i avtalens grenseoppgang."}))
    s.append(Step(45, "1836", "task", {"key": "political.saksframlegg"}))
    for key, offset in zip(SETUP_KEYS, (100, 105, 110, 120, 130, 140, 150)):
        s.append(Step(offset, "1836", "task", {"key": key}))
    s.append(Step(125, "1836", "note", {"theme": "technical_systems", "text":
        "Tilgang til bibliotekssystemet tok tre uker fordi IT-avdelingen ikke var med fra "
        "start."}))
    s.append(Step((rodoy_start - start).days, "1836", "advance"))
    # In operation: the monthly follow-ups and visits are done as they fall due.
    for offset in range((rodoy_start - start).days + 31, YEAR - 20, 30):
        s.append(Step(offset, "1836", "duties"))

    # Meløy: in system setup, some items done, the rest overdue.
    path("1837", 30, 40, 45, 52)
    decision(110, "1837", "council", "approved", "PS 33/21")
    decision(120, "1837", "county", "approved")
    terms(135, "1837", meloy_start)
    sign(150, "1837", "municipality")
    sign(155, "1837", "county")
    s.append(Step(90, "1837", "task", {"key": "political.saksframlegg"}))
    for key, offset in zip(SETUP_KEYS, (170, 200, 240)):
        s.append(Step(offset, "1837", "task", {"key": key}))

    # Steigen: agreement signed by the municipality, waiting for the county.
    path("1848", 60, 70, 72, 85)
    s.append(Step(180, "1848", "task", {"key": "political.saksframlegg"}))
    decision(225, "1848", "council", "approved", "PS 12/21")
    decision(240, "1848", "county", "approved")
    terms(250, "1848", _first_of_month_after(start + timedelta(days=360)))
    sign(270, "1848", "municipality")

    # Lurøy: the council postponed the case to a later meeting.
    path("1834", 90, 100, 100, 110)
    decision(170, "1834", "council", "postponed", "PS 40/21")

    # Værøy: just entered political approval.
    path("1857", 200, 205, 205, 215)

    # Træna: first meeting held, needs not yet assessed.
    s.extend([Step(280, "1835", "open"), Step(290, "1835", "record", {"fact": "meeting-held"})])

    # Vevelstad: opened, nothing since; its first deadline has passed.
    s.append(Step(250, "1816", "open"))

    # Beiarn: the council said no.
    path("1839", 40, 50, 55, 60)
    decision(140, "1839", "council", "rejected", "PS 18/21")
    s.append(Step(141, "1839", "note", {"theme": "engagement", "text":
        "Politisk ledelse ønsket å lyse ut egen stilling først; ta kontakt igjen om ett år."}))

    # Røst: on hold while the municipality recruits a new chief executive.
    path("1856", 70, 80, 85, 95)
    s.append(Step(150, "1856", "hold", {"reason": "Venter på ny kommunedirektør."}))

    # Hábmer–Hamarøy: withdrawn after hiring its own qualified director.
    s.extend([Step(120, "1875", "open"), Step(130, "1875", "record", {"fact": "meeting-held"}),
              Step(180, "1875", "withdraw", {"reason": "Kommunen ansatte egen fagutdannet "
                                                       "biblioteksjef."})])

    contacts = {
        "1836": ("Kari Nordmann", "kommunedirektør"), "1837": ("Ola Nordmann", "kultursjef"),
        "1848": ("Ingrid Hansen", "kommunalsjef"), "1834": ("Per Olsen", "rådgiver"),
        "1857": ("Anne Johansen", "kommunedirektør"), "1835": ("Nils Berg", "kultursjef"),
        "1816": ("Liv Larsen", "kommunedirektør"), "1839": ("Tor Pedersen", "ordfører"),
        "1856": ("Marit Karlsen", "konstituert kommunedirektør"),
        "1875": ("Jon Eriksen", "kultursjef"),
    }
    for knr, (name, role) in contacts.items():
        opened = min(st.offset for st in s if st.knr == knr and st.action == "open")
        local = name.split()[0].lower()
        s.append(Step(opened, knr, "contact", {"name": name, "role": role,
                                               "email": f"{local}.{knr}@example.org"}))
    return sorted(s, key=lambda st: st.offset)  # stable: same-day steps keep their order


def working_day(start: date, offset: int, end: date) -> date:
    """Things are recorded on working days; never after the demo's today."""
    from avtaleflyt.domain.calendar import default_calendar

    cal = default_calendar()
    day = cal.roll_forward(start + timedelta(days=offset))
    return day if day <= end else cal.previous_working_day(end)


def meeting_plan_csv(steps: list[Step], start: date, end: date) -> str:
    """The møteplan a coordinator would import: every council meeting of the demo's
    municipalities (about every six weeks, none in July) and the county's deciding body
    (every four weeks), including the meetings where the scenario's decisions fall."""
    from avtaleflyt.domain.calendar import default_calendar

    cal = default_calendar()
    rows: set[tuple[str, str, date]] = set()

    def regular(every: int) -> list[date]:
        days, d = [], start + timedelta(days=10)
        while d <= end + timedelta(days=240):
            if d.month != 7:
                days.append(cal.roll_forward(d))
            d += timedelta(days=every)
        return days

    for st in steps:
        if st.action == "record" and st.args["fact"].endswith("-decision"):
            county = st.args["fact"].startswith("county")
            rows.add(("" if county else st.knr, "county" if county else "kommunestyre",
                      working_day(start, st.offset, end)))
    for knr in {st.knr for st in steps}:
        rows.update((knr, "kommunestyre", d) for d in regular(42))
    rows.update(("", "county", d) for d in regular(28))
    lines = ["kommunenummer;organ;dato;tittel"]
    for knr, body, d in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        lines.append(f"{knr};{body};{d.isoformat()};{'Fylkestinget' if body == 'county' else ''}")
    return "\n".join(lines) + "\n"


def run_demo(*, reuse: bool) -> None:
    """Run the demo on its own database (recreated), or on the current one with `reuse`.

    The demo's database is installed as settings of its own for the demo's duration, so the
    flow runs it starts see it; nothing is written to the environment."""
    from avtaleflyt import runtime

    settings = runtime.settings()
    if not reuse:
        path = settings.data_dir / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            if p.exists():
                p.unlink()
        settings = settings.model_copy(update={"database_url": f"sqlite:///{path}"})
    # The demo's simulated year is recorded as done by "demo" (its own settings' user; every
    # step also passes actor="demo"), so it never needs `--by` ([cli] allow_by).
    settings = settings.model_copy(update={"user": "demo"})
    with runtime.use_settings(settings):
        _run_demo(reuse=reuse)


def _run_demo(*, reuse: bool) -> None:
    from avtaleflyt import db, runtime
    from avtaleflyt.services.reference import load_reference_data

    url = runtime.settings().effective_database_url
    # The demo's documents live in its own database. Migration 0010 reads a pre-0010 documents
    # folder into the database it upgrades, so the demo names a folder of its own (which
    # never exists) instead of letting it fall back to the installation's `documents/`.
    documents = (runtime.settings().data_dir / "documents" if reuse
                 else _demo_path(url).with_name("demo-documents"))
    db.upgrade(url, documents_dir=documents)
    with runtime.session() as s:
        load_reference_data(s)
        from avtaleflyt.services.queries import status_rows

        if reuse and status_rows(s, runtime.today()):
            from avtaleflyt.domain.errors import Conflict

            raise Conflict("Databasen har allerede saker; demoen trenger en tom database.")
    end = runtime.today()
    start = end - timedelta(days=YEAR)
    steps = scenario(start)
    plan = runtime.settings().data_dir / "demo-moteplan.csv"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(meeting_plan_csv(steps, start, end), encoding="utf-8")
    console.print(f"Demo: et år i Nordland, {start:%d.%m.%Y}–{end:%d.%m.%Y}, "
                  f"{len(steps)} hendelser gjennom Prefect-flytene, møteplaner fra "
                  f"{plan.name}.", highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        bar = progress.add_task("Starter Prefect …", total=len(steps) + 1)
        runtime.run_command("import_meetings", path=str(plan), today=start, actor="demo")
        progress.advance(bar)
        kept: date | None = None
        for step in steps:
            day = working_day(start, step.offset, end)
            progress.update(bar, description=f"{day:%d.%m.%Y} {step.knr} {step.action}")
            if day != kept:  # what the daily sweep would have done by this morning
                _keep_deadlines(day)
                kept = day
            _perform(step, day)
            progress.advance(bar)
        _keep_deadlines(end)
        from avtaleflyt.flows.sweep import deadline_sweep

        # The sweep takes its date from the settings, never from a parameter.
        with runtime.use_settings(runtime.settings().model_copy(update={"today": end})):
            sweep = runtime.run_flow(deadline_sweep, dry_run=True)
    with runtime.session() as s:
        from avtaleflyt.services.queries import status_rows

        console.print(status_table(status_rows(s, end), end))
    from avtaleflyt.formatting import format_count as _count

    items = sum(d["items"] for d in sweep["sent"])
    console.print(f"Dagens fristsveip (prøvekjøring): {_count(items, 'punkt', 'punkter')} i "
                  f"{_count(len(sweep['sent']), 'oppsummering', 'oppsummeringer')}, "
                  f"{_count(sweep['overdue_tasks'], 'oppgave', 'oppgaver')} på overtid. Demoen "
                  "har ingen varslingsadresser; se «avtaleflyt sweep --dry-run».",
                  highlight=False)
    if not reuse:
        password = _demo_user()
        console.print(
            f"\nDemodatabasen ligger i {_demo_path(url)}. Se demoåret i dashbordet (logg inn "
            f"som «{DEMO_USER}» med passordet «{password}»):\n"
            f"  avtaleflyt --db {url} serve\n"
            f"eller på kommandolinjen, for eksempel:\n"
            f"  avtaleflyt --db {url} case show 1836", highlight=False, soft_wrap=True)


DEMO_USER = "demo"


def _demo_path(url: str):
    from pathlib import Path

    return Path(url.removeprefix("sqlite:///"))


def _demo_user() -> str:
    """A dashboard login for the demo database (Nordland's coordinator), with a new random
    password each run: the demo's data is fictitious, and the database is recreated."""
    import secrets

    from avtaleflyt import runtime
    from avtaleflyt.services.users import create_user

    password = secrets.token_urlsafe(12)
    with runtime.session() as s:
        create_user(session=s, username=DEMO_USER, password=password, county="18")
    return password


def _keep_deadlines(day: date) -> None:
    from avtaleflyt import runtime
    from avtaleflyt.services.sweep import keep_deadlines

    with runtime.session() as s:
        keep_deadlines(session=s, ctx=runtime.ctx(day, "demo"))


def _perform(step: Step, day: date) -> None:
    """One step through the command inbox, as the CLI and the dashboard do it."""
    from avtaleflyt import runtime
    from avtaleflyt.flows import onboarding

    common = {"today": day, "actor": "demo"}
    run = runtime.run_command
    a = step.args
    match step.action:
        case "open":
            run("open_case", kommunenummer=step.knr, opened_on=day, **common)
        case "record":
            options = {k: v for k, v in a.items() if k != "fact"}
            run("record_fact", kommunenummer=step.knr, fact=a["fact"], occurred_on=day,
                options=options, **common)
        case "task":
            run("complete_task", task_id=_task_id(step.knr, a["key"]), done_on=day, **common)
        case "duties":
            for task_id, due in _due_duties(step.knr, day):
                run("complete_task", task_id=task_id, done_on=due, **common)
        case "hold" | "withdraw":
            run("change_status", kommunenummer=step.knr, action=step.action, on=day,
                reason=a.get("reason"), **common)
        case "note":
            run("add_note", kommunenummer=step.knr, theme=a["theme"], text=a["text"],
                noted_on=day, **common)
        case "advance":
            # The demo's settings name its user ("demo"); the flow takes no actor parameter.
            runtime.run_flow(onboarding.onboarding, kommunenummer=step.knr, today=day)
        case "contact":
            from avtaleflyt.services.people import add_contact

            with runtime.session() as s:
                add_contact(session=s, kommunenummer=step.knr, phone=None, primary=True,
                            ctx=runtime.ctx(day, "demo"), **a)
        case _:
            raise ValueError(step.action)


def _open_tasks(knr: str, today: date) -> list[dict[str, Any]]:
    from avtaleflyt import runtime
    from avtaleflyt.services.queries import case_detail

    with runtime.session() as s:
        detail = case_detail(s, knr, today, with_personal_data=False)
    return [t for t in detail["tasks"] if t["done_on"] is None]


def _task_id(knr: str, key: str) -> int:
    from avtaleflyt import runtime

    return next(t["id"] for t in _open_tasks(knr, runtime.today()) if t["key"] == key)


def _due_duties(knr: str, day: date) -> list[tuple[int, date]]:
    """Running duties that have fallen due by `day`, done on their due date."""
    from avtaleflyt.domain.stages import pipeline

    running = pipeline().terminal.value  # duties belong to the stage where the agreement runs
    return [(t["id"], date.fromisoformat(t["due_on"])) for t in _open_tasks(knr, day)
            if t["stage"] == running and t["due_on"] and
            date.fromisoformat(t["due_on"]) <= day]
