"""Counts, recipients and actors as a Norwegian reader expects them: "1 møte", "2 frister",
"koordinator i Nordland fylkesbibliotek" instead of "coordinator:18", "Fristsveipet
(automatisk)" instead of "deadline-sweep", and a fresh installation without notification
targets saying "ingen mottaker satt opp" instead of "feilet (prøver igjen)".

Prefect-free: the sweep's dry run, `reminders list` and `case show` never start a flow."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt.cli.main import app
from avtaleflyt.formatting import format_count
from avtaleflyt.models import Digest
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services import cases, meetings, reminders
from avtaleflyt.services.sweep import run_sweep

from .conftest import ctx_for
from .reminder_support import open_to_political

runner = CliRunner()
KNR = "1836"
OPENED = date(2027, 4, 1)
SWEEP = date(2027, 5, 21)  # the first-contact tasks are overdue by then


def cli(*argv: str):
    return runner.invoke(app, list(argv), env={"COLUMNS": "200"}, catch_exceptions=False)


def test_the_one_plural_helper():
    assert format_count(1, "sak", "saker") == "1 sak"
    assert format_count(2, "sak", "saker") == "2 saker"
    assert format_count(0, "ny påminnelse", "nye påminnelser") == "0 nye påminnelser"
    assert format_count(1, "ny påminnelse", "nye påminnelser") == "1 ny påminnelse"
    assert format_count(1200, "frist", "frister") == "1 200 frister"


def test_a_fresh_installation_says_no_recipient_is_set_up(session):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=OPENED, ctx=ctx_for(OPENED))

    dry = cli("--today", SWEEP.isoformat(), "sweep", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Til koordinator i Nordland fylkesbibliotek: ingen mottaker satt opp" in dry.output
    assert "coordinator" not in dry.output and "would_send" not in dry.output
    assert "nye påminnelser" in dry.output and "0 saker flyttet" in dry.output

    result = run_sweep(session=session, ctx=ctx_for(SWEEP), targets=TargetBook())
    [report] = result.sent
    assert report["no_target"] and reminders.status_text(report) == "ingen mottaker satt opp"
    assert report["recipient_label"] == "koordinator i Nordland fylkesbibliotek"
    # Kept for a retry once a target is configured: the outbox still has it.
    assert session.exec(select(Digest)).one().status == "failed"

    listed = cli("--today", SWEEP.isoformat(), "reminders", "list")
    assert listed.exit_code == 0, listed.output
    assert "ingen mottaker satt opp" in listed.output and "feilet" not in listed.output
    assert "koordinator i Nordland" in listed.output and "coordinator" not in listed.output


def test_counts_in_meeting_messages_agree_with_their_number(session, tmp_path):
    open_to_political(session, KNR, OPENED)
    plan = tmp_path / "moteplan.csv"
    plan.write_text("kommunenummer;organ;dato\n1836;kommunestyre;17.06.2027\n",
                    encoding="utf-8")
    result = meetings.import_meetings(session=session, path=plan, kommunenummer=None,
                                      body=None, ctx=ctx_for(OPENED))
    assert result.message.startswith("Importerte 1 møte fra moteplan.csv.")
    assert "2 frister i politisk behandling ble satt eller flyttet." in result.message


def test_the_history_names_the_program_by_a_norwegian_name(session):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=OPENED,
                    ctx=ctx_for(OPENED, actor="deadline-sweep"))
    shown = cli("--today", SWEEP.isoformat(), "case", "show", KNR)
    assert shown.exit_code == 0, shown.output
    assert "Fristsveipet (automatisk)" in shown.output
    assert "deadline-sweep" not in shown.output
