"""Notice from the CLI: `case record KNR notice-given --party … --date …` as one real
Prefect flow run; bad input refused before Prefect starts, in Norwegian, naming the field;
`case show` says when, by whom and when the agreement ends. The rule itself and both
backends: test_notice_domain.py, test_notice_services.py."""

from __future__ import annotations

from datetime import date

import pytest

from avtaleflyt import db

from .test_cli import cli, show

pytestmark = pytest.mark.prefect
TODAY = "2026-12-01"


def _running_auto(url):
    from .test_notice_services import _running

    with db.session_scope(url) as s:
        _running(s, "auto")


def test_notice_given_from_the_cli(sqlite_url, prefect_server):
    _running_auto(sqlite_url)
    before = show(today=TODAY)
    missing = cli("case", "record", "1836", "notice-given", "--date", "30.11.2026",
                  today=TODAY)
    assert missing.exit_code != 0 and "«--party»" in missing.output
    bad = cli("case", "record", "1836", "notice-given", "--party", "staten", "--date",
              "30.11.2026", today=TODAY)
    assert bad.exit_code != 0 and "«--party»" in bad.output
    future = cli("case", "record", "1836", "notice-given", "--party", "municipality",
                 "--date", "02.12.2026", today=TODAY)
    assert future.exit_code != 0 and "frem i tid" in future.output
    assert show(today=TODAY)["history"] == before["history"]  # nothing changed

    # On the deadline (Monday 30.11.2026, one month before 31.12.2026): ends this period.
    ok = cli("case", "record", "1836", "notice-given", "--party", "municipality", "--date",
             "30.11.2026", today=TODAY)
    assert ok.exit_code == 0, ok.output
    detail = show(today=TODAY)
    assert detail["terms"]["notice"] == {
        "given_on": "2026-11-30", "party": "municipality", "ends_on": "2026-12-31",
        "text": "Sagt opp 30. november 2026 av kommunen; avtalen slutter 31. desember 2026"}
    shown = " ".join(cli("case", "show", "1836", today=TODAY).stdout.split())
    assert "Sagt opp 30. november 2026 av kommunen; avtalen slutter 31. desember 2026." \
        in shown
    help_text = " ".join(cli("case", "record", "--help").stdout.split())
    assert "notice-given" in help_text
    assert date.fromisoformat(detail["terms"]["notice"]["ends_on"]) == date(2026, 12, 31)
