"""Issue 14 from the command line: saksgang, meeting move/cancel with warnings, terms in
months with renewal, and the case's split — real commands, a real database, real Prefect
flow runs. Read-only commands must not import Prefect."""

from __future__ import annotations

import json
import os

import pytest

from .cli_support import run_isolated
from .test_cli import cli, show

pytestmark = pytest.mark.prefect
TODAY = "2026-04-20"


def _ok(*args, today=TODAY):
    result = cli(*args, today=today)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _refused(*args, today=TODAY):
    result = cli(*args, today=today)
    assert result.exit_code != 0, (args, result.output)
    return result.output


def _due(key, today=TODAY):
    return next(t["due_on"] for t in show(today=today)["tasks"] if t["key"] == key)


def test_political_process_and_terms_from_the_cli(db_url, prefect_server):
    _ok("case", "open", "1836")
    for fact in ("meeting-held", "needs-assessed", "intent-confirmed"):
        _ok("case", "record", "1836", fact)
    _ok("meeting", "add", "1836", "--body", "formannskap", "--date", "04.06.2026")
    _ok("meeting", "add", "1836", "--body", "kommunestyre", "--date", "18.06.2026")
    assert _due("political.saksframlegg") == "2026-05-12"
    assert _due("political.council") == "2026-06-18"

    # Read-only commands: no Prefect.
    run = run_isolated([["--today", TODAY, "meeting", "saksgang", "1836"],
                        ["--today", TODAY, "meeting", "list", "1836", "--json"],
                        ["--today", TODAY, "case", "split", "show", "1836", "--json"]],
                       dict(os.environ))
    assert not run.prefect_loaded
    assert "formannskapet → kommunestyret" in run.outputs[0]
    ids = {m["date"]: m["id"] for m in json.loads(run.outputs[1])}
    assert len(json.loads(run.outputs[2])["rows"]) == 12

    # A holiday is accepted with a warning naming the day.
    out = _ok("meeting", "add", "1836", "--body", "kommunestyre", "--date", "17.05.2027")
    assert "Advarsel" in out and "Grunnlovsdag" in out and "17. mai 2027" in out

    out = _ok("meeting", "move", str(ids["2026-06-04"]), "--date", "28.05.2026")
    assert "Møtet i formannskapet 4. juni ble flyttet til 28. mai" in out
    assert _due("political.saksframlegg") < "2026-05-12"
    assert "ble flyttet til 28. mai" in " ".join(e["label"] for e in show(today=TODAY)["history"])
    assert "Fant ikke møte 99999" in _refused("meeting", "cancel", "99999")
    assert "«--date»" in _refused("meeting", "move", str(ids["2026-06-18"]), "--date",
                                  "31.02.2026")
    out = _ok("meeting", "saksgang", "1836", "--set", "kommunestyre")
    assert "Saksgang for Rødøy: kommunestyret" in out
    assert _due("political.saksframlegg") == "2026-05-28"
    assert "kommunestyre" in _refused("meeting", "saksgang", "1836", "--set", "formannskap")
    out = _ok("meeting", "cancel", str(ids["2026-06-18"]))
    assert "Møtet i kommunestyret 18. juni ble avlyst" in out

    # The split, row by row.
    out = _ok("case", "split", "set", "1836", "2", "--responsible", "municipality")
    assert "rad 2 endret" in out
    assert "rad 99 finnes ikke" in _refused("case", "split", "set", "1836", "99",
                                            "--responsible", "county")
    assert "«--responsible»" in _refused("case", "split", "set", "1836", "1",
                                         "--responsible", "staten")

    # A pilot of four months that renews automatically.
    _ok("case", "record", "1836", "council-decision", "--outcome", "approved")
    _ok("case", "record", "1836", "county-decision", "--outcome", "approved")
    assert "«--renewal»" in _refused("case", "record", "1836", "terms-set", "--start",
                                     "01.09.2026", "--months", "4", "--notice-months", "1",
                                     "--renewal", "kanskje")
    assert show(today=TODAY)["terms"] is None  # refused: nothing written
    _ok("case", "record", "1836", "terms-set", "--start", "01.09.2026", "--months", "4",
        "--notice-months", "1", "--renewal", "auto")
    terms = show(today=TODAY)["terms"]
    assert (terms["end_date"], terms["months"], terms["years"], terms["renewal"]) == (
        "2026-12-31", 4, 0, "auto")
    assert terms["responsibility_split"][1]["responsible"] == "municipality"
    shown = " ".join(_ok("case", "show", "1836").split())  # rich may wrap the line
    assert "(4 måneder, fornyes automatisk om den ikke sies opp)" in shown
    _ok("case", "record", "1836", "signed", "--party", "municipality")
    assert "signert" in _refused("case", "split", "set", "1836", "1", "--responsible",
                                 "municipality")
