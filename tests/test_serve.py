"""`avtaleflyt serve` as a user starts it: a subprocess with its own Prefect server, the
scheduler serving prefect.yaml's deployments, and the dashboard. Stopped with SIGINT (and
SIGTERM on the second start); no child process may survive, and the sweep's schedule must
still be active when serve starts again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml

from avtaleflyt.resources import prefect_yaml

from .web_support import make_user, open_case

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children first, then theirs)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str, **kw):
    try:
        return httpx.get(url, timeout=5, **kw)
    except httpx.HTTPError:
        return None


class Serve:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.port, self.prefect_port = _free_port(), _free_port()
        self.log = tmp / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "avtaleflyt", "serve", "--port", str(self.port),
             "--prefect-port", str(self.prefect_port)],
            env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        self.api = f"http://127.0.0.1:{self.prefect_port}/api"
        self.web = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(env["AVTALEFLYT_DATA_DIR"])

    @property
    def auth(self) -> tuple[str, str]:
        """The Prefect server's credential, as `serve` stored it (basic auth)."""
        user, _, password = (self.data_dir / "prefect_auth").read_text().strip().partition(":")
        return user, password

    def up(self) -> None:
        def ready():
            assert self.proc.poll() is None, self.log.read_text()
            r = _get(self.web + "/helse")
            return r is not None and r.status_code == 200
        _wait(ready, 240, "the dashboard")

    def sweep_deployment(self) -> dict:
        def found():
            r = httpx.post(self.api + "/deployments/filter", timeout=10, auth=self.auth,
                           json={"deployments": {"name": {"any_": ["deadline-sweep-avtaleflyt"]}}})
            return r.json()[0] if r.status_code == 200 and r.json() else None
        return _wait(found, 120, "the deadline-sweep deployment")

    def cleanup(self) -> None:
        """After a failed assertion: stop serve the way a user would, so that it stops its
        children; kill only if it does not."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self, sig: int) -> None:
        children = _descendants(self.proc.pid)
        assert children, "serve started no child processes"
        self.proc.send_signal(sig)
        assert self.proc.wait(90) == 0, self.log.read_text()
        survivors = [p for p in children if _alive(p)]
        assert survivors == [], survivors
        assert _get(self.web + "/helse") is None
        assert _get(self.api + "/health") is None


def test_serve_runs_the_sweep_on_its_schedule_and_stops_cleanly(sqlite_url, tmp_path):
    make_user(sqlite_url)
    open_case(sqlite_url, "1836", date(2026, 3, 2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(AVTALEFLYT_DATABASE_URL=sqlite_url, AVTALEFLYT_DATA_DIR=str(tmp_path / "data"))
    expected = next(d for d in yaml.safe_load(prefect_yaml().read_text())
                    ["deployments"] if d["name"].startswith("deadline-sweep-"))["schedules"]

    serve = Serve(env, tmp_path)
    try:
        serve.up()
        out = serve.log.read_text()
        assert f"http://127.0.0.1:{serve.port}/" in out
        assert f"http://127.0.0.1:{serve.prefect_port}/" in out
        r = httpx.get(serve.web + "/", timeout=5)
        assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn")
        # The Prefect UI in the browser talks to this server, not to the default port.
        ui = httpx.get(f"http://127.0.0.1:{serve.prefect_port}/ui-settings", timeout=10).json()
        assert ui["api_url"] == serve.api
        dep = serve.sweep_deployment()
        got = [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"])
               for s in dep["schedules"]]
        assert got == [(s["cron"], s["timezone"], s.get("active", True)) for s in expected]
        assert dep["paused"] is False
        assert dep["work_pool_name"] is None  # served here, not on a worker pool

        # The scheduled run (no county) starts one run per county with cases; a county's
        # run sweeps under that county's concurrency limit.
        # A busy Prefect server (its SQLite retrying a locked write) can answer 503; a
        # client asks again, as Prefect's own client does.
        def created():
            r = httpx.post(f"{serve.api}/deployments/{dep['id']}/create_flow_run",
                           json={"parameters": {"county": "18"}},
                           timeout=10, auth=serve.auth)
            return r.json() if r.status_code in (200, 201) else None

        run = _wait(created, 60, "the flow run to be created")

        def finished():
            r = httpx.get(f"{serve.api}/flow_runs/{run['id']}", timeout=10, auth=serve.auth)
            if r.status_code != 200:
                return None
            state = r.json()["state"]["type"]
            return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None
        assert _wait(finished, 180, "the sweep run") == "COMPLETED"
        artifacts = httpx.post(f"{serve.api}/artifacts/filter", timeout=10, auth=serve.auth,
                               json={
            "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
        table = next(a for a in artifacts if a["key"] == "sakstatus")
        data = table["data"] if isinstance(table["data"], list) else json.loads(table["data"])
        # A summary per stage, never a row per case: Rødøy's one case counted in its stage.
        assert table["type"] == "table"
        assert {r["Fase"]: r["Saker"] for r in data if r["Saker"] != "0"} == {"Førstekontakt": "1"}
        # A run of serve's scheduler leaves its log lines in Prefect, as a worker's does,
        # and its name says which county it swept.
        got = httpx.get(f"{serve.api}/flow_runs/{run['id']}", timeout=10,
                        auth=serve.auth).json()
        assert got["name"] == "deadline-sweep 18 Nordland"
        # Prefect ships a run's log lines in batches after the run, so they may arrive a
        # moment after the run is COMPLETED: wait for them.
        def sweep_logged():
            logs = httpx.post(f"{serve.api}/logs/filter", timeout=10, auth=serve.auth, json={
                "logs": {"flow_run_id": {"any_": [run["id"]]}}}).json()
            return any("Fristsveip for 18 Nordland" in line["message"] for line in logs)
        _wait(sweep_logged, 60, "the sweep's log lines in Prefect")
        serve.stop(signal.SIGINT)
    finally:
        serve.cleanup()

    again = Serve(env, tmp_path)  # the same data dir: the same Prefect database
    try:
        again.up()
        dep = again.sweep_deployment()
        assert dep["paused"] is False
        assert all(s["active"] for s in dep["schedules"]) and dep["schedules"]
        again.stop(signal.SIGTERM)
    finally:
        again.cleanup()


def test_serve_refuses_a_busy_port_before_starting_anything(sqlite_url, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "AVTALEFLYT_DATABASE_URL": sqlite_url,
               "AVTALEFLYT_DATA_DIR": str(tmp_path)}
        env.pop("PREFECT_API_URL", None)
        result = subprocess.run([sys.executable, "-m", "avtaleflyt", "serve", "--port",
                                 str(port)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "«--port»" in result.stderr
    assert not (tmp_path / "prefect" / "server.log").exists()  # Prefect never started
