"""The Prefect server `avtaleflyt serve` starts is not open to everyone on the machine.

Against a real `serve` (its own Prefect server, scheduler and dashboard): every API route
family answers 401 without the stored credential and works with it, no foreign origin gets
a CORS answer, the credential file is 0600 and the credential is in no log and no process's
command line, a CLI command pointed at the server picks the credential up by itself, and a
deployment run asked to sweep on a date of the caller's choosing closes nothing. Without
`serve`: a --db URL with a password is refused, the retention setting is checked, and the
retention flow deletes old Prefect runs against the real temporary Prefect server.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt import db, prefect_auth
from avtaleflyt.cli.main import app
from avtaleflyt.services import cases
from avtaleflyt.domain.stages import Stage

from .conftest import ctx_for
from .test_serve import Serve, _descendants, _wait
from .web_support import make_user, to_setup

KNR = "1836"


def _to_running(url: str, knr: str) -> None:
    """A case in running operation today; its agreement (from 2026-09-01, three years) would
    end, irreversibly, on a sweep dated after 2029-08-31."""
    from avtaleflyt.models.case import Task as T
    from avtaleflyt.services.store import get_case

    to_setup(url, knr)
    with db.session_scope(url) as s:
        _, case = get_case(s, knr)
        for t in s.exec(select(T).where(T.case_id == case.id,
                                        T.stage == "system_setup")).all():
            cases.complete_task(session=s, task_id=t.id, on=date(2026, 8, 14),
                                ctx=ctx_for(date(2026, 8, 14)))
        cases.advance(session=s, kommunenummer=knr, ctx=ctx_for(date(2026, 9, 1)))
        assert cases.current_stage(session=s, kommunenummer=knr) is Stage.RUNNING_OPERATION


def _case_state(url: str, knr: str) -> tuple[str, str]:
    from avtaleflyt.services.store import get_case

    with db.session_scope(url) as s:
        _, case = get_case(s, knr)
        return case.stage, case.status


# (method, path, body): one route per family the API has.
ROUTES = [
    ("POST", "/flows/filter", {}),
    ("POST", "/flow_runs/filter", {}),
    ("POST", "/task_runs/filter", {}),
    ("POST", "/deployments/filter", {}),
    ("POST", "/logs/filter", {}),
    ("POST", "/artifacts/filter", {}),
    ("POST", "/work_pools/filter", {}),
    ("POST", "/work_queues/filter", {}),
    ("POST", "/variables/filter", {}),
    ("POST", "/block_documents/filter", {}),
    ("POST", "/block_types/filter", {}),
    ("POST", "/concurrency_limits/filter", {}),
    ("POST", "/automations/filter", {}),
    ("GET", "/admin/version", None),
    ("GET", "/admin/settings", None),
    ("POST", "/ui/flows/count-deployments", {"flow_ids": []}),
    ("POST", "/ui/flow_runs/history", {
        "history_start": "2026-01-01T00:00:00Z", "history_end": "2026-01-02T00:00:00Z",
        "history_interval_seconds": 3600}),
    ("POST", "/events/filter", {}),
    ("POST", "/saved_searches/filter", {}),
]


def _call(api: str, method: str, path: str, body, auth=None) -> httpx.Response:
    """One request; a 503 (the local SQLite-backed server busy, nothing done) is asked
    again, as Prefect's own client does."""
    for attempt in range(5):
        r = httpx.request(method, api + path, json=body, auth=auth, timeout=15)
        if r.status_code != 503:
            return r
        time.sleep(1 + attempt)
    return r


def _all_cmdlines() -> str:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes().decode("utf-8", "replace"))
            except OSError:
                pass
    return "\n".join(out)


def _finished(api: str, run_id: str, auth) -> str | None:
    state = httpx.get(f"{api}/flow_runs/{run_id}", auth=auth, timeout=10).json()["state"]
    return state["type"] if state["type"] in (
        "COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


@pytest.mark.slow
def test_serve_prefect_api_requires_the_stored_credential(sqlite_url, tmp_path):
    make_user(sqlite_url)
    _to_running(sqlite_url, KNR)
    before = _case_state(sqlite_url, KNR)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(AVTALEFLYT_DATABASE_URL=sqlite_url, AVTALEFLYT_DATA_DIR=str(data))
    serve = Serve(env, tmp_path)
    try:
        serve.up()
        cred_file = data / prefect_auth.CREDENTIAL_FILE
        assert stat.S_IMODE(cred_file.stat().st_mode) == 0o600
        credential = cred_file.read_text().strip()
        user, _, password = credential.partition(":")
        assert user and len(password) >= 32
        auth = (user, password)

        # Every route family: 401 without the credential, a wrong one, or a mangled header;
        # answered with it.
        for method, path, body in ROUTES:
            r = _call(serve.api, method, path, body)
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert _call(serve.api, method, path, body, auth=(user, "feil")).status_code == 401
            assert httpx.request(method, serve.api + path, json=body, timeout=15, headers={
                "Authorization": "Basic ikke-base64"}).status_code == 401
            ok = _call(serve.api, method, path, body, auth=auth)
            assert ok.status_code == 200, (path, ok.status_code, ok.text)

        dep = _wait(lambda: next(iter(_call(serve.api, "POST", "/deployments/filter", {
            "deployments": {"name": {"any_": ["deadline-sweep-avtaleflyt"]}}},
            auth=auth).json()), None),
            120, "the deadline-sweep deployment")
        retention = _wait(lambda: next(iter(_call(serve.api, "POST", "/deployments/filter", {
            "deployments": {"name": {"any_": ["prefect-retention-avtaleflyt"]}}},
            auth=auth).json()),
            None), 120, "the prefect-retention deployment")
        assert [(s["schedule"]["cron"], s["schedule"]["timezone"])
                for s in retention["schedules"]] == [("0 3 * * *", "Europe/Oslo")]
        # Starting, pausing, reading and deleting runs: all refused without the credential.
        dep_path = f"/deployments/{dep['id']}"
        assert _call(serve.api, "POST", dep_path + "/create_flow_run", {}).status_code == 401
        assert _call(serve.api, "POST", dep_path + "/pause_deployment", None).status_code == 401
        assert _call(serve.api, "GET", dep_path, None).status_code == 401
        assert httpx.get(f"{serve.api}/deployments/{dep['id']}", auth=auth,
                         timeout=10).json()["paused"] is False

        # The daily sweep still runs through the scheduler, with the credential.
        r = _call(serve.api, "POST", dep_path + "/create_flow_run", {}, auth=auth)
        assert r.status_code == 201, r.text
        run = r.json()
        assert _wait(lambda: _finished(serve.api, run["id"], auth), 180,
                     "the sweep run") == "COMPLETED"
        assert _call(serve.api, "DELETE", f"/flow_runs/{run['id']}", None).status_code == 401
        assert _call(serve.api, "GET", f"/flow_runs/{run['id']}", None,
                     auth=auth).status_code == 200

        # A run asked to sweep in 2031 would end the running agreement for good: Prefect's
        # parameter check stops it before the flow body runs — also when the caller turns
        # the deployment's schema enforcement off.
        for extra in ({}, {"enforce_parameter_schema": False}):
            r = _call(serve.api, "POST", dep_path + "/create_flow_run",
                      {"parameters": {"today": "2031-01-01"}, **extra}, auth=auth)
            assert r.status_code in (201, 409), r.text
            if r.status_code == 201:
                assert _wait(lambda: _finished(serve.api, r.json()["id"], auth), 180,
                             "the sweep run with a today parameter") in ("FAILED", "CRASHED")
        assert _case_state(sqlite_url, KNR) == before == (Stage.RUNNING_OPERATION.value,
                                                          "active")

        # The browser UI knows it must ask for the credential (its own login page).
        ui = httpx.get(f"http://127.0.0.1:{serve.prefect_port}/ui-settings", timeout=10).json()
        assert ui["auth"] == "BASIC" and ui["api_url"] == serve.api

        # CORS: a page on another site gets no permission to call the API.
        for origin in ("https://evil.example", "http://localhost:9999"):
            pre = httpx.options(serve.api + "/flow_runs/filter", timeout=10, headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type"})
            allowed = pre.headers.get("access-control-allow-origin")
            assert allowed not in ("*", origin), pre.headers
            simple = httpx.post(serve.api + "/flows/filter", json={}, auth=auth, timeout=10,
                                headers={"Origin": origin})
            assert simple.headers.get("access-control-allow-origin") not in ("*", origin)
        own = f"http://127.0.0.1:{serve.prefect_port}"
        pre = httpx.options(serve.api + "/flow_runs/filter", timeout=10, headers={
            "Origin": own, "Access-Control-Request-Method": "POST"})
        assert pre.headers.get("access-control-allow-origin") == own

        # A CLI command pointed at this server finds the credential in the data directory.
        cli_env = env | {"PREFECT_API_URL": serve.api, "AVTALEFLYT_USER": "testkoordinator"}
        result = subprocess.run([sys.executable, "-m", "avtaleflyt", "case", "open", "1837"],
                                env=cli_env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
        assert "401" not in result.stderr and "Unauthorized" not in result.stderr
        runs = _call(serve.api, "POST", "/flow_runs/filter", {
            "flows": {"name": {"any_": ["open-case"]}}}, auth=auth).json()
        assert [r["state"]["type"] for r in runs] == ["COMPLETED"]
        # The run carries the command's id only; the command names the municipality.
        assert set(runs[0]["parameters"]) == {"command_id"}
        # ... and the run's logs reached the API too.
        logs = _wait(lambda: _call(serve.api, "POST", "/logs/filter", {
            "logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}}, auth=auth).json(),
            60, "the open-case run's logs")
        assert logs

        # The credential is in no log and no process's command line.
        assert credential not in _all_cmdlines()
        assert password not in _all_cmdlines()
        for pid in _descendants(serve.proc.pid):
            try:
                assert password not in Path(f"/proc/{pid}/cmdline").read_text()
            except OSError:
                pass
        for log in [serve.log, *(data / "prefect").glob("*.log")]:
            assert password not in log.read_text(errors="replace"), log
        assert str(cred_file) in serve.log.read_text()  # says where, not what
        serve.stop(signal.SIGTERM)
    finally:
        serve.cleanup()
    assert not (data / prefect_auth.SERVER_FILE).exists()
    assert password not in serve.log.read_text(errors="replace")


def test_the_credential_is_made_once_private_and_only_sent_to_the_recorded_server(tmp_path):
    data = tmp_path / "data"
    first = prefect_auth.server_credential(data)
    path = data / prefect_auth.CREDENTIAL_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    assert prefect_auth.server_credential(data) == first  # the same, tightened again
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Nothing is sent while no serve has recorded its server, nor to another URL.
    api = "http://127.0.0.1:4321/api"
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": api}) is None
    prefect_auth.record_server(data, api)
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": api + "/"}) == first
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": "http://localhost:4321/api"}
                                    ) == first
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": "http://127.0.0.1:4322/api"}
                                    ) is None
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": "https://prefect.example/api"}
                                    ) is None
    assert prefect_auth.client_auth(data, {}) is None  # a temporary server of its own
    # The operator's own credential wins; ours is not added.
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": api,
                                           "PREFECT_API_AUTH_STRING": "x:y"}) is None
    prefect_auth.forget_server(data)
    assert prefect_auth.client_auth(data, {"PREFECT_API_URL": api}) is None


def test_a_db_url_with_a_password_is_refused_on_the_command_line(sqlite_url, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["--db", "postgresql://anna:s3cret-pw@127.0.0.1:5432/avtaleflyt",
                            "status", "--json"])
    assert r.exit_code == 2
    assert "«--db»" in r.output and "passord" in r.output
    assert "AVTALEFLYT_DATABASE_URL" in r.output and "--db-file" in r.output
    assert "s3cret-pw" not in r.output
    # Without a password --db still works, and --db-file reads the URL from a file.
    assert runner.invoke(app, ["--db", sqlite_url, "status", "--json"]).exit_code == 0
    url_file = tmp_path / "db-url"
    url_file.write_text(sqlite_url + "\n")
    r = runner.invoke(app, ["--db-file", str(url_file), "status", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--db-file", str(tmp_path / "mangler"), "status"])
    assert r.exit_code == 2 and "«--db-file»" in r.output
    r = runner.invoke(app, ["--db", sqlite_url, "--db-file", str(url_file), "status"])
    assert r.exit_code == 2 and "«--db-file»" in r.output


@pytest.mark.postgres
def test_db_file_may_hold_a_postgres_url_with_a_password(pg_database, tmp_path, monkeypatch):
    """The URL (with a password when the installation has one) read from a file, never
    from the command line."""
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AVTALEFLYT_DATABASE_URL", raising=False)
    url_file = tmp_path / "db-url"
    url_file.write_text(pg_database.replace("postgres@", "postgres:ikke-brukt@", 1))
    os.chmod(url_file, 0o600)
    r = CliRunner().invoke(app, ["--db-file", str(url_file), "status", "--json"])
    assert r.exit_code == 0, r.output  # trust auth: the password is not checked here
    assert "ikke-brukt" not in r.output
    r = CliRunner().invoke(app, ["--db", pg_database.replace("postgres@", "postgres:ikke-brukt@",
                                                             1), "status", "--json"])
    assert r.exit_code == 2 and "ikke-brukt" not in r.output


def test_the_retention_setting_is_checked_strictly(sqlite_url, tmp_path):
    bad = tmp_path / "bad.toml"
    runner = CliRunner()
    for value in ("0", "\"30\"", "99999"):
        bad.write_text(f"[prefect]\nretention_days = {value}\n")
        r = runner.invoke(app, ["--config", str(bad), "status"])
        assert r.exit_code == 2 and "prefect.retention_days" in r.output, (value, r.output)
    bad.write_text("[prefect]\nretention_day = 30\n")
    r = runner.invoke(app, ["--config", str(bad), "status"])
    assert r.exit_code == 2 and "prefect.retention_day" in r.output


def _harness_db() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url.get_secret_value()
    return url.split(":///", 1)[1]


@pytest.mark.prefect
def test_the_retention_flow_deletes_old_prefect_runs_and_keeps_new_ones(
        sqlite_url, prefect_server, tmp_path):
    from prefect import flow, get_run_logger
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Completed, Scheduled

    from avtaleflyt import runtime
    from avtaleflyt.flows.retention import prefect_retention

    @flow(name="retention-probe")
    def probe(n: int) -> int:
        get_run_logger().info("probe %s", n)
        return n

    old_run_ids = []
    with get_client(sync_client=True) as client:
        new = client.create_flow_run(probe, parameters={"n": 0}, state=Completed())
        fresh_never_started = client.create_flow_run(
            probe, parameters={"n": 9},
            state=Scheduled(scheduled_time=datetime.now(UTC) - timedelta(days=2)))
    for n in (1, 2):
        state = probe(n, return_state=True)
        old_run_ids.append(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        # Due 40 days ago and never started (nobody ran it): old too.
        long_due = client.create_flow_run(
            probe, parameters={"n": 3},
            state=Scheduled(scheduled_time=datetime.now(UTC) - timedelta(days=40)))
        _wait(lambda: all(client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[rid]))) for rid in old_run_ids), 30,
            "the probe runs' logs")
    # Age two real, started runs: Prefect's API stamps start times itself, so the test
    # moves them back in the temporary server's own database.
    # The server may still be writing a run's last state when the test gets there (and
    # would write its own start time back): age them until the API reads the old times.
    past = (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%d %H:%M:%S.%f")
    month_ago = datetime.now(UTC) - timedelta(days=30)

    def aged() -> bool:
        con = sqlite3.connect(_harness_db(), timeout=30)
        try:
            with con:  # one transaction, committed; then closed so no lock lingers
                for rid in old_run_ids:
                    con.execute("UPDATE flow_run SET start_time = ?, expected_start_time = ? "
                                "WHERE id = ?", (past, past, str(rid)))
        finally:
            con.close()
        with get_client(sync_client=True) as client:
            return all(client.read_flow_run(rid).start_time < month_ago
                       for rid in old_run_ids)

    _wait(aged, 30, "the two probe runs to read as a month old")
    old_run_ids.append(long_due.id)

    result = runtime.run_flow(prefect_retention)
    with get_client(sync_client=True) as client:
        left = []
        for rid in old_run_ids:
            try:
                r = client.read_flow_run(rid)
                left.append((r.state_type, r.start_time, r.expected_start_time))
            except ObjectNotFound:
                pass
    assert result["retention_days"] == 30 and result["deleted"] >= 3, left

    with get_client(sync_client=True) as client:
        for rid in old_run_ids:
            with pytest.raises(ObjectNotFound):
                client.read_flow_run(rid)
        assert client.read_flow_run(new.id).state.is_completed()
        assert client.read_flow_run(fresh_never_started.id)
        # The server deletes a deleted run's logs in the background.
        _wait(lambda: not client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=old_run_ids[:2]))), 30,
            "the old runs' logs to go")

    # A shorter retention from the configuration is what the flow uses.
    cfg = tmp_path / "kort.toml"
    cfg.write_text("[prefect]\nretention_days = 1\n")
    with runtime.use_settings(runtime.settings().model_copy(update={"config": cfg})):
        result = runtime.run_flow(prefect_retention)
    assert result["retention_days"] == 1
    with get_client(sync_client=True) as client:
        with pytest.raises(ObjectNotFound):
            client.read_flow_run(fresh_never_started.id)
        assert client.read_flow_run(new.id)
