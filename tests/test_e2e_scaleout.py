"""The scaled-out layout of docs/operations.md, on loopback, with real parts only:

- a Prefect server on PostgreSQL, authenticated (PREFECT_SERVER_API_AUTH_STRING);
- installation «alfa»: its deployments registered with `prefect deploy --all` from
  prefect.yaml, a process work pool with two workers, two dashboard nodes
  (`avtaleflyt serve --dashboard-only`) on one PostgreSQL application database;
- installation «beta» on the same Prefect server: its own database, pool and worker;
- a local HTTP sink that receives the digests (Apprise json://).

One module-scoped setup; the tests run in file order and build on each other (the kill test
sends the day's digests, the later ones check that nothing is sent twice). Everything waits
by polling the API with generous limits: the machine may be busy.

Two checks wait for the `scale-store` branch (the session secret from a setting, documents
in the database): until it is merged, a login on node A is unknown on node B and a document
written through A is a 404 on B, and those two tests fail for exactly that reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from .conftest import throwaway_pg_database
from .reminder_support import free_port
from .web_support import PASSWORD, csrf_of

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.prefect]

REPO = Path(__file__).resolve().parents[1]
TODAY = "2027-05-21"  # the workers' business date: first-contact tasks are overdue
OPENED = date(2027, 4, 1)
NORDLAND, TROMS = "1836", "5501"  # Rødøy (county 18), Tromsø (county 55)
PATHS = ("nordland", "troms", "nordland-leder", "troms-leder")
NORDLAND_PATHS = ("nordland", "nordland-leder")  # county 18's digests
TROMS_PATHS = ("troms", "troms-leder")  # county 55's
CREDENTIAL = f"avtaleflyt:{uuid.uuid4().hex}{uuid.uuid4().hex}"
# The dashboard nodes' shared cookie-signing key, as an operator sets it on every node.
SESSION_SECRET = uuid.uuid4().hex + uuid.uuid4().hex
AUTH = tuple(CREDENTIAL.split(":", 1))
START_TIMEOUT = 240
RUN_TIMEOUT = 300


# --- the pieces -------------------------------------------------------------------------

class Sink:
    """Receives Apprise json:// posts. A post counts as delivered when the sink answers it
    (200); `hold(path)` makes the next post to `path` wait unanswered (the sender is killed
    meanwhile), which for the sender is a delivery it cannot know arrived."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.held_path: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                path = self.path.lstrip("/")
                with sink.lock:
                    hold = sink.held_path == path
                    if hold:
                        sink.held_path = None
                if hold:
                    sink.held.set()
                    sink.release.wait(600)
                    return  # no answer: the connection just closes
                with sink.lock:
                    sink.posts.append((path, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def to(self, path: str) -> list[dict]:
        with self.lock:
            return [b for p, b in self.posts if p == path]

    def hold(self, path: str) -> None:
        with self.lock:
            self.held_path = path

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _wait(what: str, fn, timeout: float = RUN_TIMEOUT, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _descendants(pid: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.sink = Sink()
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"

    # processes
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AVTALEFLYT_", "PREFECT_"))}
        env.update(PREFECT_API_URL=self.api, PREFECT_API_AUTH_STRING=CREDENTIAL,
                   PREFECT_HOME=str(self.tmp / "prefect-client"),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_LOGGING_LEVEL="INFO")
        return env

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        for pid in [proc.pid, *_descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(30)

    def stop_all(self) -> None:
        for name in list(self.procs)[::-1]:
            proc = self.procs.pop(name)
            kids = _descendants(proc.pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            for pid in [proc.pid, *kids]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(30)
        self.sink.stop()

    # the Prefect API
    def call(self, method: str, path: str, body=None) -> httpx.Response:
        return httpx.request(method, self.api + path, json=body, auth=AUTH, timeout=60)

    def deployment(self, name: str) -> dict:
        r = self.call("POST", "/deployments/filter",
                      {"deployments": {"name": {"any_": [name]}}})
        assert r.status_code == 200, r.text
        [dep] = r.json()
        return dep

    def trigger(self, deployment: str, **parameters) -> str:
        dep = self.deployment(deployment)
        r = self.call("POST", f"/deployments/{dep['id']}/create_flow_run",
                      {"parameters": parameters})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def run(self, run_id: str) -> dict:
        return self.call("GET", f"/flow_runs/{run_id}").json()

    def state(self, run_id: str) -> str:
        return self.run(run_id)["state"]["type"]

    def finished(self, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
        def done():
            s = self.state(run_id)
            return s if s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None
        return _wait(f"flow run {run_id}", done, timeout)

    def logs(self, run_id: str) -> list[dict]:
        r = self.call("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}},
                                               "sort": "TIMESTAMP_ASC", "limit": 200})
        return r.json()

    def log_time(self, run_id: str, text: str) -> str:
        """When the run logged `text`. A worker's flow run ships its log lines to the API in
        batches, which can arrive after the run is already COMPLETED: wait for them."""
        def found():
            return next((line["timestamp"] for line in self.logs(run_id)
                         if text in line["message"]), None)
        return _wait(f"the log line {text!r} of flow run {run_id}", found, 60, 1)

    def children(self, parent_id: str) -> list[dict]:
        r = self.call("POST", "/flow_runs/filter", {"flow_runs": {
            "parent_flow_run_id": {"any_": [parent_id]}}})
        return r.json()

    def hold_county(self, installation: str, county: str) -> str:
        """Take the county's sweep slot from outside, as a long sweep of that county would."""
        name = f"avtaleflyt-{installation}-sweep-{county}"
        r = self.call("POST", "/v2/concurrency_limits/", {"name": name, "limit": 1})
        assert r.status_code in (201, 409), r.text
        r = self.call("POST", "/v2/concurrency_limits/increment-with-lease",
                      {"names": [name], "slots": 1, "mode": "concurrency",
                       "lease_duration": 600})
        assert r.status_code == 200, r.text
        return r.json()["lease_id"]

    def release_county(self, lease_id: str) -> None:
        r = self.call("POST", "/v2/concurrency_limits/decrement-with-lease",
                      {"lease_id": lease_id})
        assert r.status_code == 204, r.text


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    r = subprocess.run([sys.executable, "-m", "avtaleflyt", *args], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def _prefect(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], env=env,
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def _open_cases(url: str, knrs: tuple[str, ...]) -> None:
    from avtaleflyt import db
    from avtaleflyt.services import cases, users

    from .conftest import ctx_for

    with db.session_scope(url) as s:
        for knr in knrs:
            cases.open_case(session=s, kommunenummer=knr, opened_on=OPENED,
                            ctx=ctx_for(OPENED))
        users.create_user(session=s, username="kari", password=PASSWORD, county="18",
                          national=False)
    db.get_engine(url).dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scaleout")
    c = Cluster(tmp)
    with throwaway_pg_database("prefect_e2e") as prefect_db, \
            throwaway_pg_database("alfa_e2e") as alfa_db, \
            throwaway_pg_database("beta_e2e") as beta_db:
        try:
            _bring_up(c, prefect_db, alfa_db, beta_db)
            c.alfa_db, c.beta_db = alfa_db, beta_db
            yield c
        finally:
            c.stop_all()
            from avtaleflyt import db
            db.get_engine.cache_clear()


def _bring_up(c: Cluster, prefect_db: str, alfa_db: str, beta_db: str) -> None:
    # 1. The Prefect server on PostgreSQL; its credential only in its environment.
    server_env = c.base_env() | {
        "PREFECT_HOME": str(c.tmp / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.replace("+psycopg", "+asyncpg"),
        "PREFECT_SERVER_API_AUTH_STRING": CREDENTIAL,
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    c.start("prefect-server", [sys.executable, "-m", "prefect", "server", "start",
                               "--host", "127.0.0.1", "--port", str(c.port)], server_env)

    def healthy():
        assert c.procs["prefect-server"].poll() is None, c.log("prefect-server")
        try:
            return httpx.get(c.api + "/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False
    _wait("the Prefect server", healthy, START_TIMEOUT, 2)
    assert httpx.post(c.api + "/deployments/filter", json={}, timeout=30).status_code == 401

    config = c.tmp / "avtaleflyt.toml"
    config.write_text("[reminders]\nclaim_lease_minutes = 1\n", encoding="utf-8")
    for name, url, knrs in (("alfa", alfa_db, (NORDLAND, TROMS)), ("beta", beta_db,
                                                                    (NORDLAND,))):
        env = c.base_env() | {"AVTALEFLYT_DATABASE_URL": url,
                              "AVTALEFLYT_DATA_DIR": str(c.tmp / f"{name}-cli"),
                              "AVTALEFLYT_INSTALLATION": name}
        _cli(env, "init")
        _open_cases(url, knrs)
        # 2. The operator's deployments, from prefect.yaml, on the installation's pool.
        _prefect(env, "work-pool", "create", f"avtaleflyt-{name}", "--type", "process")
        _prefect(env, "deploy", "--all")

    def worker_env(name: str, url: str) -> dict[str, str]:
        prefix = "" if name == "alfa" else "beta-"
        return c.base_env() | {
            "AVTALEFLYT_DATABASE_URL": url, "AVTALEFLYT_INSTALLATION": name,
            "AVTALEFLYT_DATA_DIR": str(c.tmp / f"{name}-worker"),
            "AVTALEFLYT_TODAY": TODAY, "AVTALEFLYT_CONFIG": str(config),
            "AVTALEFLYT_NOTIFY_URLS_18": c.sink.url(prefix + "nordland"),
            "AVTALEFLYT_NOTIFY_URLS_55": c.sink.url(prefix + "troms"),
            "AVTALEFLYT_LEADER_URLS_18": c.sink.url(prefix + "nordland-leder"),
            "AVTALEFLYT_LEADER_URLS_55": c.sink.url(prefix + "troms-leder"),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        }
    c.worker_env = worker_env
    # 3. Workers: two for alfa, one for beta.
    for w in ("alfa-1", "alfa-2", "beta-1"):
        inst = w.split("-")[0]
        c.start(f"worker-{w}", [sys.executable, "-m", "prefect", "worker", "start",
                                "--pool", f"avtaleflyt-{inst}", "--type", "process",
                                "--name", w],
                worker_env(inst, alfa_db if inst == "alfa" else beta_db))
    # 4. Two dashboard nodes of alfa, each with a data directory of its own and the same
    #    AVTALEFLYT_SESSION_SECRET (docs/operations.md).
    c.nodes = {}
    for node in ("a", "b"):
        port = free_port()
        env = c.base_env() | {"AVTALEFLYT_DATABASE_URL": alfa_db,
                              "AVTALEFLYT_INSTALLATION": "alfa",
                              "AVTALEFLYT_SESSION_SECRET": SESSION_SECRET,
                              "AVTALEFLYT_DATA_DIR": str(c.tmp / f"node-{node}")}
        c.node_env = getattr(c, "node_env", {}) | {node: env}
        c.start(f"node-{node}", [sys.executable, "-m", "avtaleflyt", "serve",
                                 "--dashboard-only", "--port", str(port)], env)
        c.nodes[node] = f"http://127.0.0.1:{port}"
    for node, web in c.nodes.items():
        def ready(node=node, web=web):
            assert c.procs[f"node-{node}"].poll() is None, c.log(f"node-{node}")
            try:
                return httpx.get(web + "/helse", timeout=10).status_code == 200
            except httpx.HTTPError:
                return False
        _wait(f"dashboard node {node}", ready, START_TIMEOUT, 2)
    # The workers have registered with their pools.
    for inst, n in (("alfa", 2), ("beta", 1)):
        def online(inst=inst, n=n):
            r = c.call("POST", f"/work_pools/avtaleflyt-{inst}/workers/filter", {})
            return r.status_code == 200 and len([w for w in r.json()
                                                 if w["status"] == "ONLINE"]) >= n
        _wait(f"{n} worker(s) of {inst}", online, START_TIMEOUT, 2)


def _login(web: str) -> httpx.Client:
    client = httpx.Client(base_url=web, timeout=30, follow_redirects=False)
    token = csrf_of(client.get("/logg-inn").text)
    r = client.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                       "csrf_token": token, "neste": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return client


def _sent(url: str) -> dict[str, str]:
    with sa.create_engine(url).connect() as conn:
        return dict(conn.execute(sa.text("select recipient, status from digest")).all())


# --- the checks, in order ----------------------------------------------------------------

def test_the_deployments_are_the_operators_and_carry_the_installation(cluster):
    for inst in ("alfa", "beta"):
        dep = cluster.deployment(f"deadline-sweep-{inst}")
        assert dep["work_pool_name"] == f"avtaleflyt-{inst}"
        assert f"installasjon:{inst}" in dep["tags"]
        assert dep["entrypoint"] == "flows/sweep.py:deadline_sweep"
        assert [s["schedule"]["cron"] for s in dep["schedules"]] == ["0 7 * * 1-5"]
    # /helse on a node: the database, its schema and the Prefect API all answer.
    r = httpx.get(cluster.nodes["a"] + "/helse", timeout=30)
    assert r.status_code == 200 and r.text.splitlines()[0] == "ok", r.text


def test_killing_a_worker_mid_sweep_and_rerunning_sends_no_duplicate(cluster):
    sink = cluster.sink
    sink.hold("nordland-leder")
    first = cluster.trigger("deadline-sweep-alfa", county="18")
    _wait("the sweep to reach the held delivery", sink.held.is_set, RUN_TIMEOUT, 0.2)
    # Which worker runs it: the one with a flow-run process below it.
    busy = [n for n in ("worker-alfa-1", "worker-alfa-2")
            if n in cluster.procs and _descendants(cluster.procs[n].pid)]
    assert busy, "no worker has a running flow"
    for name in busy:
        cluster.kill(name)
    held_at = time.monotonic()
    sink.release.set()
    # A replacement worker, as systemd's Restart= would start.
    cluster.start("worker-alfa-3", [sys.executable, "-m", "prefect", "worker", "start",
                                    "--pool", "avtaleflyt-alfa", "--type", "process",
                                    "--name", "alfa-3"],
                  cluster.worker_env("alfa", cluster.alfa_db))
    assert cluster.state(first) in ("RUNNING", "CRASHED", "FAILED"), cluster.state(first)
    assert sink.to("nordland-leder") == []
    # The digest the killed run had claimed is sendable again once its claim lease (one
    # minute here) has run out; the county's slot is freed when its lease (60 s) does.
    time.sleep(max(0.0, 75 - (time.monotonic() - held_at)))
    rerun = cluster.trigger("deadline-sweep-alfa", county="18")
    assert cluster.finished(rerun) == "COMPLETED", cluster.logs(rerun)
    for path in NORDLAND_PATHS:
        assert len(sink.to(path)) == 1, (path, [p for p, _ in sink.posts])
    # A county's run sweeps its own county only: Troms's digests wait for Troms's run.
    for path in TROMS_PATHS:
        assert sink.to(path) == [], (path, [p for p, _ in sink.posts])
    sent = _sent(cluster.alfa_db)
    assert {sent[r] for r in ("coordinator:18", "leader:18")} == {"sent"}, sent


def test_one_county_sweeps_one_at_a_time_and_counties_side_by_side(cluster):
    before = len(cluster.sink.posts)
    lease = cluster.hold_county("alfa", "18")  # as if a long Nordland sweep were running
    try:
        n1 = cluster.trigger("deadline-sweep-alfa", county="18")
        n2 = cluster.trigger("deadline-sweep-alfa", county="18")
        troms = cluster.trigger("deadline-sweep-alfa", county="55")
        # Troms is not held back by Nordland's slot.
        assert cluster.finished(troms) == "COMPLETED", cluster.logs(troms)
        assert cluster.run(troms)["name"] == "deadline-sweep 55 Troms"
        for run in (n1, n2):
            assert cluster.state(run) in ("PENDING", "RUNNING", "SCHEDULED"), \
                cluster.state(run)
            assert not any("Fristsveip for" in line["message"] for line in cluster.logs(run))
    finally:
        cluster.release_county(lease)
    assert cluster.finished(n1) == "COMPLETED" and cluster.finished(n2) == "COMPLETED"
    # One after the other: the second began sweeping after the first had finished.
    spans = sorted((cluster.log_time(r, "Fristsveip for 18 Nordland"),
                    cluster.log_time(r, "Ferdig:")) for r in (n1, n2))
    assert spans[0][1] <= spans[1][0], spans
    # Each run logged to Prefect from its worker, and is named for its county.
    assert cluster.run(n1)["name"] == "deadline-sweep 18 Nordland"
    # Troms's run sent Troms's digests; Nordland's two runs sent nothing again (each
    # Nordland digest of the day arrived once, in the previous test).
    assert len(cluster.sink.posts) == before + len(TROMS_PATHS)
    for path in PATHS:
        assert len(cluster.sink.to(path)) == 1, (path, [p for p, _ in cluster.sink.posts])
    assert set(_sent(cluster.alfa_db).values()) == {"sent"}


def test_two_installations_on_one_prefect_server_each_get_their_own_sweep(cluster):
    before_alfa = len(cluster.sink.posts)
    parent = cluster.trigger("deadline-sweep-beta")  # the schedule's run: every county
    assert cluster.finished(parent) == "COMPLETED", cluster.logs(parent)
    [child] = _wait("beta's county run", lambda: cluster.children(parent), 60)
    assert child["parameters"] == {"county": "18"}
    assert cluster.finished(child["id"]) == "COMPLETED", cluster.logs(child["id"])
    assert cluster.run(child["id"])["work_pool_name"] == "avtaleflyt-beta"
    # beta's digests went out from beta's database, to beta's targets; alfa's got nothing.
    assert len(cluster.sink.to("beta-nordland")) == 1
    assert set(_sent(cluster.beta_db)) == {"coordinator:18", "leader:18"}
    assert set(_sent(cluster.beta_db).values()) == {"sent"}
    assert all(p.startswith("beta-") for p, _ in cluster.sink.posts[before_alfa:])
    # A run of beta's deployment never ran on alfa's pool, and the other way round.
    alfa_runs = cluster.call("POST", "/flow_runs/filter", {"deployments": {"name": {
        "any_": ["deadline-sweep-alfa"]}}}).json()
    assert alfa_runs and {r["work_pool_name"] for r in alfa_runs} == {"avtaleflyt-alfa"}


def test_serve_local_refuses_the_operators_deployment_and_workers_mode_registers_nothing(
        cluster):
    before = cluster.deployment("deadline-sweep-alfa")
    env = cluster.node_env["a"] | {"AVTALEFLYT_DATA_DIR": str(cluster.tmp / "serve-local")}
    r = subprocess.run([sys.executable, "-m", "avtaleflyt", "serve", "--port",
                        str(free_port())], env=env, cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "deadline-sweep-alfa" in r.stdout + r.stderr
    assert "--scheduler workers" in r.stdout + r.stderr and "Traceback" not in r.stderr
    after = cluster.deployment("deadline-sweep-alfa")
    assert (after["updated"], after["work_pool_name"], after["entrypoint"],
            after["pull_steps"]) == (before["updated"], "avtaleflyt-alfa",
                                     before["entrypoint"], before["pull_steps"])

    # --scheduler workers: the dashboard runs; nothing is registered or changed.
    count = len(cluster.call("POST", "/deployments/filter", {}).json())
    port = free_port()
    env = env | {"AVTALEFLYT_INSTALLATION": "gamma"}
    proc = cluster.start("serve-workers", [sys.executable, "-m", "avtaleflyt", "serve",
                                           "--scheduler", "workers", "--port", str(port)],
                         env)

    def ready():
        assert proc.poll() is None, cluster.log("serve-workers")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/helse", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False
    _wait("serve --scheduler workers", ready, START_TIMEOUT, 2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(90) == 0, cluster.log("serve-workers")
    cluster.procs.pop("serve-workers")
    assert len(cluster.call("POST", "/deployments/filter", {}).json()) == count
    assert "avtaleflyt-gamma" in cluster.log("serve-workers")


# --- these two wait for the scale-store branch (see the module docstring) ----------------

def test_a_login_on_node_a_is_valid_on_node_b(cluster):
    a = _login(cluster.nodes["a"])
    b = httpx.Client(base_url=cluster.nodes["b"], timeout=30, follow_redirects=False,
                     cookies=a.cookies)
    r = b.get("/")
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    assert "kari" in r.text
    # A proxy without sticky sessions: the login form comes from A, the POST goes to B.
    # Its CSRF token is in the state cookie signed with the node's secret: this waits for
    # the secret from a setting (scale-store); per-node secret files make B refuse it.
    form = httpx.Client(base_url=cluster.nodes["a"], timeout=30, follow_redirects=False)
    token = csrf_of(form.get("/logg-inn").text)
    to_b = httpx.Client(base_url=cluster.nodes["b"], timeout=30, follow_redirects=False,
                        cookies=form.cookies)
    r = to_b.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                     "csrf_token": token, "neste": "/"})
    assert r.status_code == 303, (r.status_code, r.text[:300])


def test_a_document_written_through_node_a_downloads_from_node_b(cluster):
    out = _cli(cluster.node_env["a"], "doc", "render", NORDLAND, "agreement")
    assert out.strip()
    listing = json.loads(_cli(cluster.node_env["a"], "doc", "list", NORDLAND, "--json"))
    doc = next(d for d in listing if d["kind"] == "agreement")
    b = _login(cluster.nodes["b"])
    r = b.get(f"/sak/{NORDLAND}/dokument/agreement/{doc['version']}.{doc['format']}")
    assert r.status_code == 200, r.status_code
    assert "Rødøy" in r.text
