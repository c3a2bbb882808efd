"""Several counties in one database: every read command and report shows the county it is
asked for, and nothing of another county; without --county, all counties (and, in the
experience report, the counties side by side with only their shared notes).

Nordland (18): 1836 Rødøy, 1834 Lurøy.   Troms (55): 5501 Tromsø, 5544 Nordreisa.
"""

from __future__ import annotations

import json
from datetime import date

from avtaleflyt.domain.stages import Theme
from avtaleflyt.services import cases, meetings, people, queries
from avtaleflyt.services.deadlines import deadline_rows
from avtaleflyt.services.scope import EVERYWHERE, scope_for_code

from .conftest import ctx_for
from .test_cli import cli
from .test_document_store import record

TODAY = date(2026, 5, 4)
NORDLAND = {"1836": "Rødøy", "1834": "Lurøy"}
TROMS = {"5501": "Tromsø", "5544": "Nordreisa - Ráisa - Raisi"}

# (kommunenummer, theme, text, shared)
NOTES = [
    ("1836", Theme.RESPONSIBILITY_SPLIT, "Rødøy-hemmelig: statistikken ble fylkets.", False),
    ("1836", Theme.ENGAGEMENT, "Rødøy-delt: ordføreren var med fra første møte.", True),
    ("5501", Theme.TECHNICAL_SYSTEMS, "Tromsø-hemmelig: IT kom for sent inn.", False),
    ("5544", Theme.TECHNICAL_SYSTEMS, "Nordreisa-delt: ta IT med fra start.", True),
]


def first_contact(session, knr, opened, done):
    cases.open_case(session=session, kommunenummer=knr, opened_on=opened, ctx=ctx_for(opened))
    record(session, "meeting-held", opened, knr)
    record(session, "needs-assessed", opened, knr)
    record(session, "intent-confirmed", done, knr)


def two_counties(session):
    """Rødøy 30 days and Tromsø 10 days in first contact, both now in political approval;
    Lurøy rejected by its council; Nordreisa withdrawn; the four notes above. Rødøy's and
    Tromsø's councils meet in June, so their saksframlegg has a deadline."""
    for knr in ("1836", "5501"):
        meetings.add_meeting(session=session, kommunenummer=knr, body="kommunestyre",
                             on=date(2026, 6, 18), title=None, ctx=ctx_for(date(2026, 1, 2)))
    first_contact(session, "1836", date(2026, 1, 5), date(2026, 2, 4))
    first_contact(session, "1834", date(2026, 1, 12), date(2026, 2, 1))
    record(session, "council-decision", date(2026, 3, 2), "1834", outcome="rejected",
           reference="26/7")
    first_contact(session, "5501", date(2026, 2, 2), date(2026, 2, 12))
    cases.open_case(session=session, kommunenummer="5544", opened_on=date(2026, 2, 9),
                    ctx=ctx_for(date(2026, 2, 9)))
    cases.withdraw(session=session, kommunenummer="5544", on=date(2026, 3, 16),
                   reason="Ny kommunedirektør vil vente", ctx=ctx_for(date(2026, 3, 16)))
    for knr, theme, text, shared in NOTES:
        people.add_note(session=session, kommunenummer=knr, theme=theme, text=text,
                        on=date(2026, 3, 20), ctx=ctx_for(date(2026, 3, 20)), shared=shared)


def knrs(rows) -> set[str]:
    return {r["kommunenummer"] for r in rows}


def test_status_and_deadlines_keep_to_their_county(session, db_url):
    two_counties(session)
    nordland = scope_for_code(session, "18")
    troms = scope_for_code(session, "55")
    assert knrs(queries.status_rows(session, TODAY, nordland)) == set(NORDLAND)
    assert knrs(queries.status_rows(session, TODAY, troms)) == set(TROMS)
    everything = queries.status_rows(session, TODAY, EVERYWHERE)
    assert knrs(everything) == set(NORDLAND) | set(TROMS)
    assert {r["kommunenummer"]: r["county"] for r in everything}["5501"] == "Troms fylkeskommune"

    # Rødøy and Tromsø have open political tasks (their county decisions wait for a meeting
    # plan, their saksframlegg is due); Lurøy and Nordreisa are closed.
    far = 400
    assert knrs(deadline_rows(session, TODAY, far, troms)) == {"5501"}
    assert knrs(deadline_rows(session, TODAY, far, nordland)) == {"1836"}
    assert knrs(deadline_rows(session, TODAY, far)) == {"1836", "5501"}


def test_note_shared_flag_is_stored(session, db_url):
    two_counties(session)
    notes = queries.case_detail(session, "1836", TODAY)["notes"]
    assert [(n["text"][:6], n["shared"]) for n in notes] == [("Rødøy-", False),
                                                              ("Rødøy-", True)]


def test_status_and_deadlines_commands_take_a_county(session, db_url):
    two_counties(session)
    day = TODAY.isoformat()

    def run(*args):
        result = cli(*args, today=day)
        assert result.exit_code == 0, result.output
        return result.stdout

    nordland = json.loads(run("status", "--county", "18", "--json"))
    troms = json.loads(run("status", "--county", "55", "--json"))
    assert knrs(nordland) == set(NORDLAND) and knrs(troms) == set(TROMS)
    assert "county" not in nordland[0]  # one county: no county column
    both = json.loads(run("status", "--json"))
    assert {r["kommunenummer"]: r["county_code"] for r in both} == {
        "1836": "18", "1834": "18", "5501": "55", "5544": "55"}
    table = run("status")
    lines = [line.split("│")[1:3] for line in table.splitlines() if line.startswith("│")]
    assert [[c.strip() for c in cells] for cells in lines if cells[0].strip() in ("18", "55")
            ] == [["18", "Nordland"], ["55", "Troms"]]
    assert "Tromsø" not in run("status", "--county", "18")
    assert "Rødøy" not in run("status", "--county", "55")

    deadlines_troms = json.loads(run("deadlines", "--county", "55", "--days", "400", "--json"))
    deadlines_all = json.loads(run("deadlines", "--days", "400", "--json"))
    assert deadlines_troms and knrs(deadlines_troms) == {"5501"}
    assert knrs(deadlines_all) == {"1836", "5501"}
    assert "Rødøy" not in run("deadlines", "--county", "55", "--days", "400")

    for args in (["status"], ["deadlines"]):
        bad = cli(*args, "--county", "77", today=day)
        assert bad.exit_code == 2 and "77" in bad.output
