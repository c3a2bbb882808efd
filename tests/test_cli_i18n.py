"""The command line's frame speaks Norwegian: usage lines, help panels and the framework's
own error messages, through the real `avtaleflyt` program (a new process each time, as a
user runs it), with the exit codes scripts rely on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avtaleflyt.cli.i18n import translations

ENGLISH = ("Usage", "Missing", "No such", "Error", "Try ", "for help", "Invalid value",
           "Show this message", "Options", "Commands", "Arguments", "[required]",
           "[default", "Possible options", "Did you mean", "<str>", "<bool>")


def run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVTALEFLYT_")}
    env |= {"AVTALEFLYT_DATA_DIR": str(tmp_path), "COLUMNS": "120", "NO_COLOR": "1"}
    exe = Path(sys.executable).with_name("avtaleflyt")
    return subprocess.run([str(exe), *argv], env=env, capture_output=True, text=True,
                          timeout=60)


def no_english(text: str) -> None:
    leaked = [w for w in ENGLISH if w in text]
    assert not leaked, f"English in the frame: {leaked}\n{text}"


def test_a_missing_argument_is_named_in_norwegian(tmp_path):
    r = run(tmp_path, "case", "record", "1836")
    assert r.returncode == 2
    assert "Bruk: avtaleflyt case record [VALG]" in r.stderr
    assert "Skriv «avtaleflyt case record --help» for hjelp." in r.stderr
    assert "Feil" in r.stderr and "Mangler argumentet «HENDELSE»." in r.stderr
    no_english(r.stderr)


def test_an_unknown_option_is_refused_in_norwegian(tmp_path):
    r = run(tmp_path, "case", "open", "1836", "--today", "2026-05-04")
    assert r.returncode == 2
    assert "Ukjent valg: --today (mulige valg: --date)" in r.stderr
    no_english(r.stderr)
    r = run(tmp_path, "statu")
    assert r.returncode == 2
    assert "Ukjent kommando «statu». Mente du «status»?" in r.stderr
    no_english(r.stderr)


def test_a_bad_value_and_a_missing_value_name_the_option(tmp_path):
    r = run(tmp_path, "deadlines", "--days", "mange")
    assert r.returncode == 2
    assert "Ugyldig verdi for «--days»: må være et heltall." in r.stderr
    no_english(r.stderr)
    r = run(tmp_path, "note", "add", "1836", "--theme")
    assert r.returncode == 2 and "Valget «--theme» må ha en verdi." in r.stderr
    r = run(tmp_path, "status", "noe", "mer")
    assert r.returncode == 2 and "2 ukjente argumenter: «noe mer»." in r.stderr


def test_help_is_norwegian_and_still_true(tmp_path):
    r = run(tmp_path, "deadlines", "--help")
    assert r.returncode == 0
    out = r.stdout
    assert "Bruk: avtaleflyt deadlines [VALG]" in out
    assert "─ Valg ─" in out and "Vis denne hjelpen og avslutt." in out
    assert "--days" in out and "<heltall>" in out and "[standard: 14]" in out
    no_english(out)
    r = run(tmp_path, "case", "record", "--help")
    assert r.returncode == 0
    assert "─ Argumenter ─" in r.stdout and "[påkrevd]" in r.stdout
    no_english(r.stdout)
    # A group named alone answers with its help, also in Norwegian.
    r = run(tmp_path, "case")
    assert "Bruk: avtaleflyt case [VALG] KOMMANDO [ARGUMENTER]..." in r.stdout + r.stderr
    assert "─ Kommandoer ─" in r.stdout + r.stderr
    no_english(r.stdout + r.stderr)


def test_a_plain_command_does_not_load_the_help_machinery(tmp_path, sqlite_template):
    """The Norwegian frame is set up only when help or an error is shown: a read-only
    command does not pay for importing Typer's Rich help (about 0.1 s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVTALEFLYT_")}
    env |= {"AVTALEFLYT_DATA_DIR": str(tmp_path)}
    shutil.copy(sqlite_template, tmp_path / "avtaleflyt.db")
    script = ("import sys\nfrom avtaleflyt.cli.main import app\n"
              "try:\n    app(['status', '--json'])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "print('typer.rich_utils' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(("english", "norwegian"), [
    ("Missing option '--reason'.", "Mangler valget «--reason»."),
    ("Invalid value for '--renewal': 'sometimes' is not one of 'none', 'auto'.",
     "Ugyldig verdi for «--renewal»: «sometimes» er ikke en av «none», «auto»."),
    ("Invalid value for 'KNR': Value 'x' is not a valid int.",
     "Ugyldig verdi for «KNR»: «x» er ikke et heltall."),
    ("Ugyldig dato for «--date»: 31.02.2026 finnes ikke.",
     "Ugyldig dato for «--date»: 31.02.2026 finnes ikke."),
])
def test_the_catalogue_translates_the_framework_and_leaves_ours_alone(english, norwegian):
    assert translations.message(english) == norwegian


def _erase_prompt(url: str, answer: str):
    """`contact erase` without --yes, answered with `answer`; the contact's id."""
    from datetime import date

    from typer.testing import CliRunner

    from sqlmodel import select

    from avtaleflyt import db
    from avtaleflyt.cli.main import app
    from avtaleflyt.models import ContactPerson
    from avtaleflyt.services import people

    from .conftest import ctx_for
    from .web_support import open_case

    day = date(2026, 5, 4)
    open_case(url, "1836", day)
    with db.session_scope(url) as s:
        people.add_contact(session=s, kommunenummer="1836", name="Kari Nordmann",
                           role="rådmann", email="kari@rodoy.example", phone=None,
                           primary=True, ctx=ctx_for(day))
        contact_id = s.exec(select(ContactPerson.id)).one()
    r = CliRunner().invoke(app, ["contact", "erase", str(contact_id)], input=answer)
    return r, contact_id


def _contact_exists(url: str, contact_id: int) -> bool:
    from avtaleflyt import db
    from avtaleflyt.models import ContactPerson

    with db.session_scope(url) as s:
        return s.get(ContactPerson, contact_id) is not None


@pytest.mark.parametrize("answer", ["nei\n", "n\n", "\n", "NEI\n"])
def test_a_yes_no_question_is_norwegian_and_no_keeps_everything(sqlite_url, answer):
    r, contact_id = _erase_prompt(sqlite_url, answer)
    assert "Dette kan ikke angres. [j/N]: " in r.output
    assert "[y/N]" not in r.output
    assert r.exit_code == 1 and "Avbrutt; ingenting er slettet." in r.output
    assert _contact_exists(sqlite_url, contact_id)


@pytest.mark.parametrize("answer", ["j\n", "ja\n", "Ja\n", "y\n", "yes\n", "kanskje\nj\n"])
def test_a_yes_no_question_takes_j_ja_and_the_english_answers(sqlite_url, answer):
    r, contact_id = _erase_prompt(sqlite_url, answer)
    assert r.exit_code == 0, r.output
    assert "[j/N]" in r.output
    if answer.startswith("kanskje"):  # anything else is asked again, in Norwegian
        assert "Svar «j» (ja) eller «n» (nei)." in r.output
        assert r.output.count("[j/N]") == 2
    assert not _contact_exists(sqlite_url, contact_id)


def test_a_password_prompt_asks_again_in_norwegian(sqlite_url):
    from typer.testing import CliRunner

    from avtaleflyt.cli.main import app

    r = CliRunner().invoke(app, ["user", "add", "kari", "--county", "18"],
                           input="et langt passord\net annet passord\n"
                                 "et langt passord\net langt passord\n")
    assert r.exit_code == 0, r.output
    assert "Gjenta passordet" in r.output
    assert "Feil: De to verdiene er ikke like." in r.output
    assert "Error" not in r.output
