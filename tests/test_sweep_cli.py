"""The sweep, deadlines, reminders and meeting commands as a user runs them, and the real
deadline_sweep flow with its Prefect artifact."""

from __future__ import annotations

import json
import os
from datetime import date

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app

from .reminder_support import HOOK_SECRET, HookServer, add_meeting, open_to_political

from .cli_support import run_isolated

KNR = "1836"
DAY = date(2027, 1, 6)
SWEEP = "2027-02-16"  # 7 working days before the case document is due (25 February)


def _counts(url: str) -> dict[str, int]:
    with db.get_engine(url).connect() as c:
        return {t: c.execute(sa.text(f"select count(*) from {t}")).scalar()
                for t in ("reminder", "digest", "delivery", "event", "task", "meeting")}


@pytest.fixture
def hook():
    h = HookServer().start()
    yield h
    h.stop()


@pytest.fixture
def political(db_url):
    with db.session_scope(db_url) as s:
        add_meeting(s, KNR, "kommunestyre", date(2027, 3, 18), DAY)
        open_to_political(s, KNR, DAY)
    return db_url


def test_read_only_commands_and_dry_run_import_no_prefect_and_write_nothing(political, hook):
    env = {**os.environ, "AVTALEFLYT_DATABASE_URL": political,
           "AVTALEFLYT_NOTIFY_URLS": hook.url()}
    argvs = [["--today", str(SWEEP), "sweep", "--dry-run", "--json"],
             ["--today", str(SWEEP), "sweep", "--dry-run"],
             ["--today", str(SWEEP), "deadlines", "--json"], ["reminders", "list", "--json"],
             ["meeting", "list", KNR, "--json"]]
    before = _counts(political)
    run = run_isolated(argvs, env)
    assert not run.prefect_loaded
    assert _counts(political) == before
    assert hook.posts == []
    out = {" ".join(argv[2:] if argv[0] == "--today" else argv): text
           for argv, text in zip(argvs, run.outputs)}
    preview = json.loads(out["sweep --dry-run --json"])
    assert preview["dry_run"] and preview["reminders_new"] == 1
    [digest] = preview["sent"]
    assert digest["recipient"] == "coordinator:18" and "25. februar 2027" in digest["text"]
    assert "Lever saksframlegg til kommunedirektøren" in digest["text"]
    assert "****" in digest["targets"][0]["target"]
    assert "Prøvekjøring" in out["sweep --dry-run"]
    text = "".join(run.outputs) + run.stderr
    assert HOOK_SECRET not in text
    [due] = [r for r in json.loads(out["deadlines --json"])
             if r["key"] == "political.saksframlegg"]
    assert due["due_on"] == "2027-02-25" and due["days_left"] == 9
    assert [m["date"] for m in json.loads(out[f"meeting list {KNR} --json"])] == ["2027-03-18"]


def test_meeting_add_refuses_bad_input_with_a_message(political):
    runner = CliRunner()
    r = runner.invoke(app, ["--today", "2027-01-06", "meeting", "add", KNR, "--body",
                            "bystyret", "--date", "2027-03-18"])
    assert r.exit_code == 2 and "--body" in r.output
    r = runner.invoke(app, ["--today", "2027-01-06", "meeting", "add", KNR, "--body",
                            "kommunestyre", "--date", "2026-12-01"])
    assert r.exit_code == 2 and "før i dag" in r.output


@pytest.mark.prefect
def test_deadline_sweep_flow_runs_and_leaves_an_artifact(political, hook, prefect_server,
                                                         monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS", hook.url())
    runner = CliRunner()
    r = runner.invoke(app, ["--today", "2027-01-06", "meeting", "add", "county", "--body",
                            "county", "--date", "2027-04-20", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == 1
    r = runner.invoke(app, ["--today", SWEEP, "sweep", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["sent_count"] == 1 and len(hook.to("coordinator")) == 1
    again = json.loads(runner.invoke(app, ["--today", SWEEP, "sweep", "--json"]).stdout)
    assert again["sent"] == [] and len(hook.posts) == 1
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["deadline-sweep"])))
    assert artifacts
    newest = max(artifacts, key=lambda a: a.created)
    text = json.dumps(newest.data, default=str) + (newest.description or "")
    assert "sendt" in text and HOOK_SECRET not in text
    # The recipient by its Norwegian role name, not its key ("coordinator:18").
    assert any("koordinator i Nordland fylkesbibliotek" in json.dumps(a.data, default=str,
                                                                       ensure_ascii=False)
               for a in artifacts)
    assert all(HOOK_SECRET not in json.dumps(a.data, default=str) for a in artifacts)
